import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Method,
  ROUTES,
  type RouteName,
  route,
  routeLabel,
} from "../../src/contract/routes.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { sourceFiles } from "../support/source-files.ts";

/**
 * The route table against the embedded marketplace, over plain HTTP: every route of
 * the table is served for its method, and a method it does not serve is a 405. Then
 * the other direction, read from the sources: the marketplace registers no route
 * outside the table, and the client calls none.
 */

let market: RunningMarketplace;
/** Real ids, so a route answers for what it does, not for an unknown id. */
const ids: Record<string, string> = {};

const WALLET = `0x${"b".repeat(40)}`;

async function call(method: string, path: string, init: { json?: unknown; body?: FormData } = {}) {
  const res = await fetch(`${market.url}${path}`, {
    method,
    headers: init.json === undefined ? {} : { "content-type": "application/json" },
    body: init.json === undefined ? init.body : JSON.stringify(init.json),
  });
  const text = await res.text();
  return { status: res.status, text, allow: res.headers.get("allow") };
}

async function json(method: string, path: string, body?: unknown) {
  const res = await call(method, path, { json: body });
  expect(res.status, `${method} ${path}: ${res.text}`).toBe(200);
  return JSON.parse(res.text) as Record<string, unknown>;
}

/** A route's path with each `:param` replaced by the real id of its kind. */
function fill(path: string): string {
  return path.replace(/:([a-z]+)_id/g, (_match, kind: string) => {
    const id = ids[kind];
    if (!id) throw new Error(`no ${kind} id for ${path}`);
    return id;
  });
}

beforeAll(async () => {
  market = await startMarketplace({ port: 0, dbPath: ":memory:" });
  const agent = await json("POST", ROUTES.registerAgent.path, {
    name: "contract-agent",
    description: "walks the route table",
    owner_id: "contract-owner",
    wallet_address: WALLET,
    skip_benchmark: true,
  });
  ids.agent = String(agent.agent_id);
  const job = await json("POST", ROUTES.postJob.path, {
    title: "route walk",
    description: "every route once",
    required_capabilities: [],
    budget_usd: 1,
    poster_id: "contract-poster",
    poster_wallet: `0x${"c".repeat(40)}`,
  });
  ids.job = String(job.job_id);
  ids.txn = String(job.escrow_txn_id);
  const query = new URLSearchParams({
    agent_id: ids.agent,
    price_usd: "0.5",
    estimated_quality: "0.9",
    estimated_time_seconds: "60",
    approach_summary: "carefully",
  });
  const bid = await json("POST", `${fill(ROUTES.placeBid.path)}?${query}`);
  ids.bid = String(bid.bid_id);
  const form = new FormData();
  form.append("uploaded_by", "contract-poster");
  form.append("file", new Blob(["a,b\n1,2\n"]), "data.csv");
  const upload = await call("POST", fill(ROUTES.uploadJobFile.path), { body: form });
  expect(upload.status, upload.text).toBe(200);
  ids.file = String((JSON.parse(upload.text) as { file_id: string }).file_id);
});

afterAll(async () => {
  await market?.close();
});

const METHODS: readonly Method[] = ["GET", "POST", "PUT", "DELETE"];
const names = Object.keys(ROUTES) as RouteName[];
// Deleting routes last, so that the ids stay valid for the others.
const ordered = [
  ...names.filter((n) => ROUTES[n].method !== "DELETE"),
  ...names.filter((n) => ROUTES[n].method === "DELETE").reverse(),
];

/** `/api/jobs/:job_id` → a pattern of the request paths it serves. */
const patternOf = (path: string) => new RegExp(`^${path.replace(/:[a-z_]+/g, "[^/]+")}$`);

/** The methods the table serves at a request path (a literal segment may match a parameter). */
function tableMethodsAt(requestPath: string): Set<string> {
  const found = new Set<string>();
  for (const n of names)
    if (patternOf(ROUTES[n].path).test(requestPath)) found.add(ROUTES[n].method);
  return found;
}

describe("the route table against the embedded marketplace", () => {
  it.each(ordered)("%s is served for its method, and another method is a 405", async (name) => {
    const { method, path } = ROUTES[name];
    const url = fill(path);
    const wrong = METHODS.find((m) => !tableMethodsAt(url).has(m)) ?? "PATCH";
    const other = await call(wrong, url);
    expect(other.status, `${wrong} ${url}: ${other.text}`).toBe(405);
    expect(other.allow?.split(", ")).toContain(method);

    const res = await call(method, url);
    expect(res.status, `${method} ${url}: ${res.text}`).not.toBe(404);
    expect(res.status).not.toBe(405);
  });
});

describe("both sides name routes from the table only", () => {
  it("the marketplace registers every API route at a table path", () => {
    const literal =
      /app\.(get|post|put|delete|patch|route)\s*(?:<[^(]*>)?\(\s*["'`]\/(api\/|$|["'`])/;
    const offending = sourceFiles("src/marketplace-server")
      .filter(({ text }) => literal.test(text))
      .map(({ file }) => file);
    expect(offending).toEqual([]);
  });

  it("the client calls routes of the table only, and every route marked `both`", () => {
    const used = new Set<string>();
    for (const { file, text } of sourceFiles("src/marketplace")) {
      // A route given as a string would bypass the table.
      expect(text, file).not.toMatch(/route:\s*["'`]/);
      for (const m of text.matchAll(/route\("(\w+)"\)/g)) used.add(m[1] ?? "");
    }
    for (const name of used) expect(names, name).toContain(name);
    const both = names.filter((n) => ROUTES[n].side === "both");
    expect([...used].sort()).toEqual(both.sort());
  });
});

describe("route names", () => {
  it("keeps the runner's metric labels: first parameter :id, later ones without _id", () => {
    expect(routeLabel(route("getJob"))).toBe("GET /api/jobs/:id");
    expect(routeLabel(route("selectBid"))).toBe("POST /api/jobs/:id/select-bid/:bid");
    expect(routeLabel(route("downloadJobFile"))).toBe("GET /api/jobs/:id/files/:file");
    expect(routeLabel(route("heartbeat"))).toBe("POST /api/agents/:id/heartbeat");
    expect(routeLabel(route("listJobs"))).toBe("GET /api/jobs");
    expect(routeLabel("POST /api/jobs/:id/select-bid/:bid")).toBe(
      "POST /api/jobs/:id/select-bid/:bid",
    );
  });
});
