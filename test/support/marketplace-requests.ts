import { randomBytes } from "node:crypto";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import type { Api, RawResponse } from "./raw-http.ts";
import { WAIT_MS } from "./wait.ts";

/** Requests to a marketplace over raw HTTP (test/support/raw-http.ts), with test data. */

export { type Api, api, type RawResponse } from "./raw-http.ts";

/** A fresh wallet address (0x + 40 hex). */
export function newWallet(): string {
  return `0x${randomBytes(20).toString("hex")}`;
}

/** The poster of the test jobs: a key the tests hold, so that it can sign in. */
export const POSTER: PrivateKeyAccount = privateKeyToAccount(
  "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
);
export const POSTER_WALLET = POSTER.address;

/** A fresh account with a key. */
export function newAccount(): PrivateKeyAccount {
  return privateKeyToAccount(generatePrivateKey());
}

export { signIn } from "./wallet-auth.ts";

/** A record from a JSON body, or a failed expectation. */
export function obj(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`expected a JSON object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

export function str(value: unknown): string {
  if (typeof value !== "string") throw new Error(`expected a string, got ${JSON.stringify(value)}`);
  return value;
}

export async function registerAgent(a: Api, fields: Record<string, unknown> = {}): Promise<string> {
  const res = await a.req("POST", "/api/agents/register", {
    name: "TestAgent",
    description: "does tests",
    owner_id: `owner_${randomBytes(3).toString("hex")}`,
    wallet_address: newWallet(),
    capabilities: { analysis: 0.9, code_review: 0.8 },
    ...fields,
  });
  if (res.status !== 200) throw new Error(`register: ${res.status} ${res.text}`);
  return str(obj(res.json).agent_id);
}

export async function postJob(a: Api, fields: Record<string, unknown> = {}): Promise<string> {
  const res = await a.req("POST", "/api/jobs", {
    title: "Analyse the sales data",
    description: "Find anomalies in last month's sales",
    required_capabilities: ["analysis"],
    budget_usd: 5,
    poster_id: "poster_1",
    poster_wallet: POSTER_WALLET,
    ...fields,
  });
  if (res.status !== 200) throw new Error(`post job: ${res.status} ${res.text}`);
  return str(obj(res.json).job_id);
}

export interface BidParams {
  agent_id: string;
  price_usd?: number;
  estimated_quality?: number;
  estimated_time_seconds?: number;
  approach_summary?: string;
}

export function bidQuery(p: BidParams): string {
  const q = new URLSearchParams({
    agent_id: p.agent_id,
    price_usd: String(p.price_usd ?? 1),
    estimated_quality: String(p.estimated_quality ?? 0.8),
    estimated_time_seconds: String(p.estimated_time_seconds ?? 120),
    approach_summary: p.approach_summary ?? "Careful analysis",
  });
  return q.toString();
}

export function placeBid(a: Api, jobId: string, p: BidParams): Promise<RawResponse> {
  return a.req("POST", `/api/jobs/${jobId}/bids?${bidQuery(p)}`);
}

export async function placeBidOk(a: Api, jobId: string, p: BidParams): Promise<string> {
  const res = await placeBid(a, jobId, p);
  if (res.status !== 200) throw new Error(`bid: ${res.status} ${res.text}`);
  return str(obj(res.json).bid_id);
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = WAIT_MS,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const ID = {
  agent: /^agent_[0-9a-f]{8}$/,
  job: /^job_[0-9a-f]{8}$/,
  bid: /^bid_[0-9a-f]{8}$/,
};
/** ISO-8601 without a zone, as the real service writes times. */
export const ISO_NO_ZONE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/;
