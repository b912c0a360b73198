// @ts-check
// The poster's page: plain browser ES modules served as they are (no build step). It posts
// jobs (with files) as the marketplace's page poster, polls the JSON API every 1.5 s, and
// turns the buttons of render.js into API calls. ?job=<id> opens that job.
import { call, detailOf, enc, read } from "./api.js";
import { byId, h, replaceKeepingInput } from "./dom.js";
import { jobDetail, jobList } from "./render.js";

/** @typedef {import("./render.js").Job} Job @typedef {import("./render.js").Detail} Detail */

const POLL_MS = 1500;
/** The release or refund transaction of a job, which only the sign-off's answer names. */
const paymentKey = (/** @type {string} */ jobId) => `bazaar-poster:payment:${jobId}`;

const state = {
  wallet: "",
  posterId: "",
  /** @type {string | null} */
  selected: new URLSearchParams(location.search).get("job"),
  /** What each panel shows now, to render only what changed. */
  shown: { list: "", detail: "" },
  busy: false,
};

/** One line under the header: what the last action did. @param {string} text @param {"ok" | "bad"} tone */
function notice(text, tone) {
  const el = byId("notice");
  el.textContent = text;
  el.dataset.tone = tone;
}

/** @param {"live" | "offline"} mode */
function connection(mode) {
  const el = byId("conn");
  el.dataset.mode = mode;
  el.className = `pill pill-${mode === "live" ? "ok" : "bad"}`;
  el.textContent = mode === "live" ? "live" : "marketplace unreachable";
}

/** @param {string} jobId */
function select(jobId) {
  state.selected = jobId;
  const url = new URL(location.href);
  url.searchParams.set("job", jobId);
  history.replaceState(null, "", url);
  void refresh();
}

/** @param {string} jobId @returns {Promise<Detail | null>} */
async function loadDetail(jobId) {
  const job = /** @type {Job | null} */ (await read(`/api/jobs/${enc(jobId)}`));
  if (!job) return null;
  const [bidList, fileList] = await Promise.all([
    read(`/api/jobs/${enc(jobId)}/bids`),
    job.attachments?.length ? read(`/api/jobs/${enc(jobId)}/files`) : null,
  ]);
  const paidId = localStorage.getItem(paymentKey(jobId));
  const [escrow, payment] = await Promise.all([
    job.escrow_txn_id ? read(`/api/transactions/${enc(job.escrow_txn_id)}`) : null,
    paidId ? read(`/api/transactions/${enc(paidId)}`) : null,
  ]);
  return { job, bids: bidList?.bids ?? [], files: fileList?.files ?? [], escrow, payment };
}

/** @type {Promise<void> | null} */
let refreshing = null;
let again = false;

/** One refresh at a time; a call during one asks for another right after it. */
function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      await refreshOnce();
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

/** Reads the poster's jobs and the open one; renders a panel only when its data changed. */
async function refreshOnce() {
  try {
    const listing = await call("GET", "/api/jobs");
    if (!listing.ok) throw new Error(detailOf(listing));
    const mine = /** @type {Job[]} */ (listing.body.jobs).filter(
      (j) => String(j.poster_wallet).toLowerCase() === state.wallet.toLowerCase(),
    );
    const detail = state.selected ? await loadDetail(state.selected) : null;
    connection("live");
    const listKey = JSON.stringify([mine, state.selected]);
    if (listKey !== state.shown.list) {
      state.shown.list = listKey;
      byId("jobs").replaceChildren(...jobList(mine, state.selected));
    }
    const detailKey = JSON.stringify(detail);
    if (detailKey !== state.shown.detail) {
      state.shown.detail = detailKey;
      const panel = byId("job");
      if (detail) replaceKeepingInput(panel, jobDetail(detail));
      else
        panel.replaceChildren(
          h(
            "p",
            { class: "muted empty" },
            state.selected
              ? `No job ${state.selected} here.`
              : "Post a job, or pick one on the left.",
          ),
        );
    }
  } catch {
    connection("offline");
  }
}

/** Runs one action; says what happened; refreshes at once. @param {string} what @param {() => Promise<import("./api.js").Answer>} send @param {(body: any) => string} said */
async function act(what, send, said) {
  if (state.busy) return;
  state.busy = true;
  // Hosted execution waits for the marketplace's LLM: say that something is under way.
  notice(`${what}…`, "ok");
  try {
    const answer = await send();
    if (answer.ok) notice(said(answer.body), "ok");
    else notice(`${what} failed: ${detailOf(answer)} (${answer.status})`, "bad");
    return answer;
  } catch (error) {
    notice(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, "bad");
  } finally {
    state.busy = false;
    await refresh();
  }
}

/** @param {HTMLFormElement} form */
async function postJob(form) {
  const data = new FormData(form);
  const files = data.getAll("files").filter((f) => f instanceof File && f.name !== "");
  const capabilities = String(data.get("capabilities") ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  const answer = await act(
    "Posting",
    () =>
      call("POST", "/api/jobs", {
        json: {
          title: String(data.get("title") ?? ""),
          description: String(data.get("description") ?? ""),
          required_capabilities: capabilities,
          budget_usd: Number(data.get("budget")),
          poster_id: state.posterId,
          poster_wallet: state.wallet,
        },
      }),
    (body) => `Posted ${body.job_id}; ${body.matched_agents?.length ?? 0} agents matched.`,
  );
  if (!answer?.ok) return;
  const jobId = answer.body.job_id;
  for (const file of files) {
    const upload = new FormData();
    upload.append("file", file);
    upload.append("uploaded_by", state.posterId);
    await act(
      "Attaching",
      () => call("POST", `/api/jobs/${enc(jobId)}/files`, { form: upload }),
      (b) => `Attached ${b.filename} to ${jobId}.`,
    );
  }
  form.reset();
  select(jobId);
}

/**
 * What each button and form of the job panel does; a form that worked is cleared.
 * @param {string} action @param {string} bid @param {HTMLFormElement | null} formEl
 */
function jobAction(action, bid, formEl) {
  const form = formEl ? new FormData(formEl) : null;
  const job = state.selected ?? "";
  /** @param {string} what @param {unknown} [json] */
  const asPoster = (what, json) =>
    call("POST", `/poster/act/bids/${enc(bid)}/${what}`, json === undefined ? {} : { json });
  switch (action) {
    case "counter":
      return act(
        "Counter-offer",
        () =>
          asPoster("counter", {
            new_price: Number(form?.get("price")),
            message: String(form?.get("message") ?? ""),
          }),
        (b) => {
          formEl?.reset();
          return `Countered: the bid is ${b.status}.`;
        },
      );
    case "accept-counter":
      return act(
        "Accepting",
        () => asPoster("accept-counter"),
        (b) => `Accepted ${b.final_price}.`,
      );
    case "approve":
      return act(
        "Approval",
        () => asPoster("approve"),
        () => "Approved the bid.",
      );
    case "reject":
      return act(
        "Rejecting",
        () => asPoster("reject"),
        () => "Rejected the bid.",
      );
    case "award":
      return act(
        "Awarding",
        () => call("POST", `/api/jobs/${enc(job)}/select-bid/${enc(bid)}`),
        (b) => `Awarded ${b.job_id} to ${b.winning_bid_id}.`,
      );
    case "execute":
      return act(
        "Hosted execution",
        () => call("POST", `/api/jobs/${enc(job)}/execute`),
        (b) => `Hosted execution: the job is ${b.status ?? "run"}.`,
      );
    case "review":
      return act(
        "Review",
        () =>
          call("POST", `/api/jobs/${enc(job)}/review`, {
            json: {
              decision: String(form?.get("decision")),
              rating: Number(form?.get("rating")),
              feedback: String(form?.get("feedback") ?? ""),
              reviewer_id: state.posterId,
            },
          }),
        (b) => {
          if (b.payment?.txn_id) localStorage.setItem(paymentKey(job), b.payment.txn_id);
          const paid = b.payment?.amount_paid ?? b.payment?.amount_refunded;
          const amount = typeof paid === "number" ? ` ($${paid})` : "";
          return `Reviewed: ${b.payment?.payment_status ?? b.status}${amount}.`;
        },
      );
    case "complete":
      return act(
        "Sign-off",
        () =>
          call(
            "POST",
            `/api/jobs/${enc(job)}/complete?quality_score=${enc(String(form?.get("quality")))}`,
          ),
        (b) => {
          if (b.txn_id) localStorage.setItem(paymentKey(job), b.txn_id);
          return `Signed off: ${b.payment_status}, paid $${b.amount_paid}.`;
        },
      );
  }
  return undefined;
}

function wire() {
  byId("post-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (event.target instanceof HTMLFormElement) void postJob(event.target);
  });
  byId("jobs").addEventListener("click", (event) => {
    const row = event.target instanceof Element ? event.target.closest("[data-job-id]") : null;
    if (row instanceof HTMLElement && row.dataset.jobId) select(row.dataset.jobId);
  });
  const panel = byId("job");
  panel.addEventListener("click", (event) => {
    const button =
      event.target instanceof Element ? event.target.closest("button[data-action]") : null;
    if (button instanceof HTMLElement && button.dataset.action)
      void jobAction(button.dataset.action, button.dataset.bid ?? "", null);
  });
  panel.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.action)
      void jobAction(form.dataset.action, form.dataset.bid ?? "", form);
  });
}

async function main() {
  wire();
  const identity = await read("/poster/identity");
  if (!identity) {
    connection("offline");
    notice("The marketplace did not say who the page posts as; reload to try again.", "bad");
    return;
  }
  state.wallet = identity.wallet;
  state.posterId = identity.poster_id;
  byId("wallet").textContent = identity.wallet;
  byId("market").textContent = location.origin;
  await refresh();
  setInterval(() => void refresh(), POLL_MS);
}

void main();
