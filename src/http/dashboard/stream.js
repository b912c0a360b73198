// @ts-check
// Where the data comes from: one fetch of /api/status and /api/events at load, then the
// live event stream, polling when the stream cannot be had; or nothing more (?live=0).
import { byId } from "./dom.js";
import { timeOfDay } from "./format.js";

/** @typedef {import("./types.ts").Snapshot} Snapshot */
/** @typedef {import("./types.ts").RunnerEvent} RunnerEvent */

const POLL_MS = 5000;
const SSE_RETRY_MS = 30000;

export class HttpError extends Error {
  /** @param {number} status */
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function getJson(path) {
  const res = await fetch(path, {
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  if (!res.ok) throw new HttpError(res.status);
  return res.json();
}

/**
 * @typedef {object} Sink what the page does with what arrives
 * @property {(snapshot: Snapshot) => void} status
 * @property {(events: RunnerEvent[]) => void} events
 */

/** @typedef {"connecting" | "loaded" | "live" | "polling" | "reconnecting" | "offline" | "once"} Mode */

/** @type {Record<Mode, { label: string, tone: import("./dom.js").Tone }>} */
const MODES = {
  connecting: { label: "connecting…", tone: "muted" },
  loaded: { label: "loaded", tone: "ok" },
  live: { label: "live", tone: "ok" },
  polling: { label: "polling every 5 s", tone: "warn" },
  reconnecting: { label: "reconnecting…", tone: "warn" },
  offline: { label: "offline", tone: "bad" },
  once: { label: "snapshot", tone: "muted" },
};

/** @type {Mode} */
let current = "connecting";

/** @param {Mode} mode @param {string} [detail] */
function setMode(mode, detail) {
  current = mode;
  const el = byId("conn");
  el.textContent = detail ? `${MODES[mode].label} ${detail}` : MODES[mode].label;
  el.className = `pill pill-${MODES[mode].tone}`;
  el.dataset.mode = mode;
}

/** @param {string | null} text */
function showBanner(text) {
  const banner = byId("banner");
  banner.hidden = !text;
  banner.textContent = text ?? "";
}

/** @param {unknown} error */
function reportFailure(error) {
  if (error instanceof HttpError && error.status === 401) {
    showBanner("This dashboard needs its token: open it once as /?token=<DASHBOARD_TOKEN>.");
  } else {
    const reason = error instanceof Error ? error.message : String(error);
    showBanner(`Cannot reach the runner (${reason}). Retrying…`);
  }
}

/**
 * The snapshot and the recent events, shown together so the cards and the timeline agree.
 * @param {Sink} sink @param {number} eventLimit
 */
async function refresh(sink, eventLimit) {
  const [snapshot, recent] = await Promise.all([
    getJson("/api/status"),
    getJson(`/api/events?limit=${eventLimit}`),
  ]);
  sink.status(/** @type {Snapshot} */ (snapshot));
  sink.events(/** @type {{ events?: RunnerEvent[] }} */ (recent).events ?? []);
  showBanner(null);
}

/**
 * Renders once from /api/status and the recent events, and opens no stream: a headless
 * browser's virtual-time screenshot can finish (?live=0).
 * @param {Sink} sink @param {number} eventLimit
 */
export async function loadOnce(sink, eventLimit) {
  setMode("connecting");
  try {
    await refresh(sink, eventLimit);
    setMode("once", timeOfDay(Date.now()));
  } catch (error) {
    setMode("offline");
    reportFailure(error);
  }
}

/**
 * The live page: the first snapshot as soon as /api/status answers (the stream opens
 * alongside, not after), then the stream's events and snapshots; polling while the stream
 * is unavailable.
 * @param {Sink} sink @param {number} eventLimit
 */
export function follow(sink, eventLimit) {
  /** @type {EventSource | null} */
  let source = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  let pollTimer = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  let sseRetryTimer = null;

  function startPolling() {
    if (pollTimer) return;
    setMode("polling");
    const tick = async () => {
      try {
        await refresh(sink, 200);
        setMode("polling");
      } catch (error) {
        setMode("offline");
        reportFailure(error);
      }
    };
    pollTimer = setInterval(tick, POLL_MS);
    void tick();
    // Keep trying the live stream in the background.
    sseRetryTimer = setInterval(connect, SSE_RETRY_MS);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    if (sseRetryTimer) clearInterval(sseRetryTimer);
    pollTimer = null;
    sseRetryTimer = null;
  }

  function connect() {
    if (typeof EventSource !== "function") {
      startPolling();
      return;
    }
    source?.close();
    const es = new EventSource("/api/events/stream", { withCredentials: true });
    source = es;
    let failures = 0;
    let opened = false;
    es.onopen = () => {
      failures = 0;
      const wasPolling = pollTimer !== null;
      stopPolling();
      setMode("live");
      showBanner(null);
      // After a gap (reconnect or polling), fetch what the stream could not deliver.
      if (opened || wasPolling) void refresh(sink, 500).catch(reportFailure);
      opened = true;
    };
    es.onmessage = (message) => {
      try {
        sink.events([JSON.parse(message.data)]);
      } catch {
        // A malformed line is skipped; the next status event resynchronises the page.
      }
    };
    es.addEventListener("status", (message) => {
      try {
        sink.status(JSON.parse(message.data));
      } catch {
        // As above.
      }
    });
    es.onerror = () => {
      failures += 1;
      // Never opened (blocked by a proxy, say) or keeps failing: poll instead.
      if (!opened || es.readyState === EventSource.CLOSED || failures >= 3) {
        es.close();
        if (source === es) source = null;
        startPolling();
      } else {
        setMode("reconnecting");
      }
    };
  }

  setMode("connecting");
  /** @type {Sink} */
  const first = {
    status(snapshot) {
      sink.status(snapshot);
      // The header says what the page shows at once, not "connecting…" until the stream opens.
      if (current === "connecting") setMode("loaded", timeOfDay(Date.now()));
    },
    events: sink.events,
  };
  void refresh(first, eventLimit).catch(reportFailure);
  connect();
}
