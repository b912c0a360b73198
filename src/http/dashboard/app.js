// @ts-check
// bazaar-runner dashboard: plain browser ES modules, served as they are (no build step).
// This module wires them: a snapshot renders the header, totals and cards; events feed the
// timeline, the charts and the decision panel's latest jobs. ?live=0 renders once, without
// the event stream; ?job=<id> opens that job's decisions.
import { chartsChanged, makeCharts } from "./charts.js";
import { listenForJobIds, refreshDecisions, renderRecentJobs, showJob } from "./decisions.js";
import { byId, onJobClick, tickTimes } from "./dom.js";
import { renderEarnings } from "./earnings.js";
import { renderStatus } from "./render.js";
import { follow, loadOnce } from "./stream.js";
import { addEvents, events, MAX_EVENTS, renderTimeline } from "./timeline.js";

/** @typedef {import("./stream.js").Sink} Sink */

const params = new URLSearchParams(location.search);
const live = params.get("live") !== "0";

/** @type {Sink} */
const sink = {
  status(snapshot) {
    renderStatus(snapshot);
    renderEarnings(snapshot);
    refreshDecisions();
    // The charts' hour ends at the runner's now, events or not.
    chartsChanged();
  },
  events(list) {
    if (!addEvents(list)) return;
    chartsChanged();
    renderRecentJobs(events);
  },
};

async function main() {
  makeCharts();
  renderTimeline();
  onJobClick(byId("timeline"), (jobId) => {
    void showJob(jobId);
    byId("decisions-panel").scrollIntoView({ block: "nearest" });
  });
  onJobClick(byId("decisions-jobs"), (jobId) => void showJob(jobId));
  listenForJobIds();
  const job = params.get("job");
  if (job) void showJob(job);
  if (!live) {
    await loadOnce(sink, MAX_EVENTS);
    return;
  }
  follow(sink, MAX_EVENTS);
  setInterval(tickTimes, 1000);
  // Slide the chart window even when nothing happens.
  setInterval(chartsChanged, 30000);
}

void main();
