import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authMessage } from "../../src/contract/auth.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import {
  type Api,
  api,
  newAccount,
  newWallet,
  obj,
  POSTER,
  POSTER_WALLET,
  placeBidOk,
  postJob,
  registerAgent,
  signIn,
  str,
} from "../support/marketplace-requests.ts";

/** Sign-in, ownership, negotiation and payments of the embedded marketplace, as raw HTTP. */

let market: RunningMarketplace;
let a: Api;

beforeAll(async () => {
  market = await startMarketplace({ dbPath: ":memory:", port: 0 });
  a = api(market.url);
});
afterAll(async () => {
  await market.close();
});

const AUTH_REQUIRED =
  "Authentication required. Use /api/auth/challenge to get a signing challenge.";

async function bidOf(bidId: string, jobId: string): Promise<Record<string, unknown>> {
  const bids = obj((await a.req("GET", `/api/jobs/${jobId}`)).json).bids as Record<
    string,
    unknown
  >[];
  const bid = bids.find((b) => b.bid_id === bidId);
  if (!bid) throw new Error(`no bid ${bidId}`);
  return bid;
}

async function jobStatus(jobId: string): Promise<string> {
  return str(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status);
}

describe("sign-in", () => {
  it("challenge: the contract's typed data and message; 400 for a bad wallet, 422 without", async () => {
    const account = newAccount();
    const res = await a.req("GET", `/api/auth/challenge?wallet=${account.address}`);
    expect(res.status).toBe(200);
    const body = obj(res.json);
    const nonce = str(body.nonce);
    expect(body.wallet).toBe(account.address.toLowerCase());
    expect(body.message).toBe(authMessage(nonce));
    expect(body.typed_data).toMatchObject({
      domain: { name: "Open Agora", version: "1", chainId: 8453 },
      primaryType: "AuthRequest",
      message: {
        wallet: account.address.toLowerCase(),
        nonce,
        statement: "Sign this message to authenticate with Open Agora marketplace.",
      },
    });
    expect((await a.req("GET", "/api/auth/challenge?wallet=0x1234")).status).toBe(400);
    expect((await a.req("GET", "/api/auth/challenge")).status).toBe(422);
  });

  it("verify: EIP-712 and personal_sign give a session; me and logout", async () => {
    const account = newAccount();
    const agentId = await registerAgent(a, { wallet_address: account.address });
    for (const personal of [false, true]) {
      const auth = await signIn(a, account, { personal });
      const me = await a.req("GET", "/api/auth/me", undefined, auth);
      expect(me.status).toBe(200);
      expect(obj(me.json)).toMatchObject({
        wallet: account.address.toLowerCase(),
        agent_id: agentId,
        authenticated: true,
        agent: { agent_id: agentId, wallet_address: account.address },
      });
      expect((await a.req("POST", "/api/auth/logout", undefined, auth)).status).toBe(200);
      const after = await a.req("GET", "/api/auth/me", undefined, auth);
      expect(after.status).toBe(401);
      expect(after.json).toEqual({ detail: AUTH_REQUIRED });
      expect(after.headers.get("www-authenticate")).toBe("Bearer");
    }
  });

  it("verify: the session's agent is the first the wallet owns, by owner id too", async () => {
    const owner = newAccount();
    const first = await registerAgent(a, { owner_id: owner.address, wallet_address: newWallet() });
    await registerAgent(a, { owner_id: owner.address, wallet_address: newWallet() });
    const auth = await signIn(a, owner);
    expect(obj((await a.req("GET", "/api/auth/me", undefined, auth)).json)).toMatchObject({
      wallet: owner.address.toLowerCase(),
      agent_id: first,
    });
    const stranger = await signIn(a, newAccount());
    expect(obj((await a.req("GET", "/api/auth/me", undefined, stranger)).json).agent_id).toBe(null);
  });

  it("verify: 401 for another key's signature, and a nonce is good for one verification", async () => {
    const account = newAccount();
    const other = newAccount();
    const challenge = obj(
      (await a.req("GET", `/api/auth/challenge?wallet=${account.address}`)).json,
    );
    const nonce = str(challenge.nonce);
    const forged = await other.signMessage({ message: authMessage(nonce) });
    const wrong = await a.req("POST", "/api/auth/verify", {
      wallet: account.address,
      signature: forged,
      nonce,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ detail: "Invalid signature" });
    // The nonce was spent by that attempt: the right signature is now too late.
    const right = await account.signMessage({ message: authMessage(nonce) });
    const replay = await a.req("POST", "/api/auth/verify", {
      wallet: account.address,
      signature: right,
      nonce,
    });
    expect(replay.status).toBe(401);
  });

  it("a new challenge replaces the old one", async () => {
    const account = newAccount();
    const first = str(
      obj((await a.req("GET", `/api/auth/challenge?wallet=${account.address}`)).json).nonce,
    );
    await a.req("GET", `/api/auth/challenge?wallet=${account.address}`);
    const signature = await account.signMessage({ message: authMessage(first) });
    const res = await a.req("POST", "/api/auth/verify", {
      wallet: account.address,
      signature,
      nonce: first,
    });
    expect(res.status).toBe(401);
  });

  it("Bearer wallet:signature:nonce authenticates without a session", async () => {
    const owner = newAccount();
    const agentId = await registerAgent(a, { wallet_address: owner.address });
    const nonce = str(
      obj((await a.req("GET", `/api/auth/challenge?wallet=${owner.address}`)).json).nonce,
    );
    const signature = await owner.signMessage({ message: authMessage(nonce) });
    const res = await a.req(
      "PUT",
      `/api/agents/${agentId}`,
      { description: "signed" },
      { authorization: `Bearer ${owner.address}:${signature}:${nonce}` },
    );
    expect(res.status).toBe(200);
  });
});

describe("ownership", () => {
  it("heartbeat: optional authentication, but a foreign wallet is 403", async () => {
    const owner = newAccount();
    const stranger = newAccount();
    const agentId = await registerAgent(a, { owner_id: owner.address });
    const body = { status: "available" };
    expect((await a.req("POST", `/api/agents/${agentId}/heartbeat`, body)).status).toBe(200);
    const mine = await a.req(
      "POST",
      `/api/agents/${agentId}/heartbeat`,
      body,
      await signIn(a, owner),
    );
    expect(mine.status).toBe(200);
    const foreign = await a.req(
      "POST",
      `/api/agents/${agentId}/heartbeat`,
      body,
      await signIn(a, stranger),
    );
    expect(foreign.status).toBe(403);
    expect(foreign.json).toEqual({ detail: "You don't own this agent" });
    // An unknown token counts as none.
    const unknown = await a.req("POST", `/api/agents/${agentId}/heartbeat`, body, {
      authorization: "Bearer not-a-session",
    });
    expect(unknown.status).toBe(200);
  });

  it("PUT and DELETE of an agent: anybody without a session (as on the service), 403 for another wallet's session", async () => {
    const owner = newAccount();
    const agentId = await registerAgent(a, { wallet_address: owner.address });
    const stranger = await signIn(a, newAccount());
    expect((await a.req("PUT", `/api/agents/${agentId}`, { name: "x" }, stranger)).status).toBe(
      403,
    );
    expect((await a.req("DELETE", `/api/agents/${agentId}`, undefined, stranger)).status).toBe(403);
    const anonymous = await a.req("PUT", `/api/agents/${agentId}`, { name: "renamed" });
    expect(anonymous.status).toBe(200);
    expect((await a.req("GET", `/api/agents/${agentId}`)).json).toMatchObject({ name: "renamed" });
    // An unknown or expired token counts as no session.
    const stale = { authorization: "Bearer not-a-session" };
    expect((await a.req("PUT", `/api/agents/${agentId}`, { name: "y" }, stale)).status).toBe(200);
    expect((await a.req("DELETE", `/api/agents/${agentId}`)).status).toBe(200);
    expect((await a.req("GET", `/api/agents/${agentId}`)).status).toBe(404);
  });

  it("logout needs a session: 401 without one; with one it ends it", async () => {
    const none = await a.req("POST", "/api/auth/logout");
    expect([none.status, none.json]).toEqual([401, { detail: AUTH_REQUIRED }]);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    const session = await signIn(a, newAccount());
    const out = await a.req("POST", "/api/auth/logout", undefined, session);
    expect([out.status, out.json]).toEqual([200, { success: true, message: "Logged out" }]);
    expect((await a.req("GET", "/api/auth/me", undefined, session)).status).toBe(401);
    expect((await a.req("POST", "/api/auth/logout", undefined, session)).status).toBe(401);
  });
});

describe("negotiation", () => {
  async function setup(price = 4, budget = 20) {
    const bidder = newAccount();
    const agentId = await registerAgent(a, { wallet_address: bidder.address });
    const jobId = await postJob(a, { budget_usd: budget });
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: price });
    return {
      jobId,
      bidId,
      poster: await signIn(a, POSTER),
      agent: await signIn(a, bidder),
    };
  }
  const counter = (bidId: string, price: number, by: string, auth?: Record<string, string>) =>
    a.req("POST", `/api/bids/${bidId}/counter`, { new_price: price, message: "m", by }, auth);

  it("needs the right side: 401 anonymous, 403 for the other side's wallet", async () => {
    const { bidId, poster, agent } = await setup();
    expect((await counter(bidId, 3, "poster")).status).toBe(401);
    expect((await counter(bidId, 3, "poster", agent)).status).toBe(403);
    expect((await counter(bidId, 3, "agent", poster)).status).toBe(403);
    expect((await counter(bidId, 3, "buyer", poster)).status).toBe(400);
    expect(
      (await a.req("POST", `/api/bids/${bidId}/accept-counter?by=agent`, undefined, poster)).status,
    ).toBe(403);
  });

  it("at most 5 counter-offers per bid", async () => {
    const { bidId, poster, agent } = await setup();
    for (let i = 0; i < 5; i++) {
      const res = await counter(
        bidId,
        3 + (i % 2) * 0.5,
        i % 2 ? "agent" : "poster",
        i % 2 ? agent : poster,
      );
      expect(res.status).toBe(200);
    }
    const sixth = await counter(bidId, 3.2, "agent", agent);
    expect(sixth.status).toBe(400);
    expect(sixth.json).toEqual({ detail: "Maximum negotiation rounds reached" });
  });

  it("$10 or more needs the poster's approval; approve and reject", async () => {
    const { jobId, bidId, poster, agent } = await setup(8, 30);
    const big = await counter(bidId, 12, "agent", agent);
    expect(obj(big.json)).toMatchObject({ status: "awaiting_approval", requires_approval: true });
    expect(await jobStatus(jobId)).toBe("awaiting_approval");
    // The service's shape: {pending_approvals: [bid + its job and agent], count}.
    const pending = obj((await a.req("GET", "/api/approvals/pending")).json);
    const listed = pending.pending_approvals as Record<string, unknown>[];
    expect(pending.count).toBe(listed.length);
    const mine = listed.find((b) => b.bid_id === bidId);
    expect(mine).toMatchObject({ status: "awaiting_approval", job_id: jobId });
    expect(obj(mine?.job)).toMatchObject({ job_id: jobId, status: "awaiting_approval" });
    expect(obj(mine?.agent)).toMatchObject({ agent_id: obj(mine).agent_id });
    // Not open for another counter while it awaits approval.
    expect((await counter(bidId, 9, "poster", poster)).status).toBe(400);
    expect((await a.req("POST", `/api/bids/${bidId}/approve`, undefined, agent)).status).toBe(403);
    const approved = await a.req("POST", `/api/bids/${bidId}/approve`, undefined, poster);
    expect(obj(approved.json)).toMatchObject({ bid_id: bidId, status: "counter_offered" });
    expect(await jobStatus(jobId)).toBe("negotiating");
    const accepted = await a.req(
      "POST",
      `/api/bids/${bidId}/accept-counter?by=poster`,
      undefined,
      poster,
    );
    expect(accepted.json).toEqual({ bid_id: bidId, status: "counter_accepted", final_price: 12 });
    const rejected = await a.req("POST", `/api/bids/${bidId}/reject`, undefined, poster);
    expect(obj(rejected.json)).toMatchObject({ status: "rejected" });
    expect((await bidOf(bidId, jobId)).status).toBe("rejected");
    expect(await jobStatus(jobId)).toBe("posted");
    expect((await counter(bidId, 5, "poster", poster)).status).toBe(400);
  });
});

describe("payments", () => {
  async function submitted(price: number, success = true) {
    const bidder = newAccount();
    const agentId = await registerAgent(a, { wallet_address: bidder.address });
    const jobId = await postJob(a, { budget_usd: 5 });
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: price });
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success,
      output: "done",
      executed_by: agentId,
    });
    return { jobId, agentId, wallet: bidder.address };
  }

  it("releases all, half or nothing by the service's quality rule (threshold 0.7), each as a NEW transaction", async () => {
    for (const [quality, status, paid, action] of [
      [0.9, "released", 2, "release_payment"],
      [0.6, "partial", 1, "partial_payment"],
      [0.3, "refunded", 0, "refund"],
    ] as const) {
      const { jobId, agentId, wallet } = await submitted(2);
      const escrowId = str(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).escrow_txn_id);
      const res = await a.req("POST", `/api/jobs/${jobId}/complete?quality_score=${quality}`);
      expect(res.status).toBe(200);
      const body = obj(res.json);
      expect(Object.keys(body).sort()).toEqual(
        [
          "agreed_price",
          "amount_paid",
          "job_id",
          "payment_status",
          "quality_decision",
          "quality_score",
          "txn_id",
        ].sort(),
      );
      expect(body).toMatchObject({
        job_id: jobId,
        quality_score: quality,
        agreed_price: 2,
        payment_status: status,
        amount_paid: paid,
      });
      expect(obj(body.quality_decision)).toMatchObject({
        passed: quality >= 0.7,
        action,
        quality_score: quality,
        threshold: 0.7,
        message: expect.stringContaining(`Quality score ${quality.toFixed(2)}`),
        requires_human_approval: true,
      });
      expect("payment_ratio" in obj(body.quality_decision)).toBe(status === "partial");
      expect(body.txn_id).not.toBe(escrowId);
      const txn = obj((await a.req("GET", `/api/transactions/${str(body.txn_id)}`)).json);
      const escrow = obj((await a.req("GET", `/api/transactions/${escrowId}`)).json);
      if (status === "refunded") {
        // The whole escrow goes back to the poster.
        expect(txn).toMatchObject({ txn_type: "refund", amount_usd: 5, status: "refunded" });
        expect(str(txn.payee_wallet)).toBe(POSTER_WALLET);
        expect(escrow.status).toBe("refunded");
      } else {
        expect(txn).toMatchObject({
          txn_type: "release",
          job_id: jobId,
          payee_id: agentId,
          amount_usd: paid,
          status: "released",
        });
        expect(str(txn.payee_wallet).toLowerCase()).toBe(wallet.toLowerCase());
        expect(escrow.status).toBe("released");
      }
      const agent = obj((await a.req("GET", `/api/agents/${agentId}`)).json);
      expect(agent).toMatchObject({ total_earned_usd: paid, jobs_completed: 0 });
    }
  });

  it("posting a job escrows its budget in a transaction with no payee; the job keeps pointing at it", async () => {
    const { jobId } = await submitted(1.5);
    const escrowId = str(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).escrow_txn_id);
    const escrow = obj((await a.req("GET", `/api/transactions/${escrowId}`)).json);
    expect(escrow).toMatchObject({
      txn_id: escrowId,
      txn_type: "escrow",
      job_id: jobId,
      payer_id: "poster_1",
      payer_wallet: POSTER_WALLET,
      payee_id: null,
      payee_wallet: null,
      amount_usd: 5,
      amount_usdc: 5,
      status: "escrowed",
    });
    expect(str(escrow.x402_escrow_id)).toMatch(/^0x[0-9a-f]{56}$/);
    await a.req("POST", `/api/jobs/${jobId}/complete?quality_score=1`);
    expect(obj((await a.req("GET", `/api/transactions/${escrowId}`)).json)).toMatchObject({
      status: "released",
      amount_usd: 5,
      payee_wallet: null,
    });
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).escrow_txn_id).toBe(escrowId);
    expect((await a.req("GET", "/api/transactions/txn_00000000")).status).toBe(404);
  });

  it("pays the winning bid's ORIGINAL price, even after an accepted counter-offer", async () => {
    const bidder = newAccount();
    const agentId = await registerAgent(a, { wallet_address: bidder.address });
    const jobId = await postJob(a, { budget_usd: 5 });
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 4 });
    const poster = await signIn(a, POSTER);
    const agentAuth = await signIn(a, bidder);
    await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 3, message: "3?", by: "poster" },
      poster,
    );
    await a.req("POST", `/api/bids/${bidId}/accept-counter?by=agent`, undefined, agentAuth);
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).final_price_usd).toBe(3);
    const res = obj((await a.req("POST", `/api/jobs/${jobId}/complete?quality_score=1`)).json);
    expect(res).toMatchObject({ agreed_price: 4, amount_paid: 4, payment_status: "released" });
    expect(obj((await a.req("GET", `/api/agents/${agentId}`)).json).total_earned_usd).toBe(4);
  });

  it("complete checks nothing: an assigned job without a result is paid; a job nobody won is completed, then a bare 500", async () => {
    const agentId = await registerAgent(a);
    const assigned = await postJob(a, { budget_usd: 5 });
    const bidId = await placeBidOk(a, assigned, { agent_id: agentId, price_usd: 2 });
    await a.req("POST", `/api/jobs/${assigned}/select-bid/${bidId}`);
    const paid = await a.req("POST", `/api/jobs/${assigned}/complete?quality_score=0.8`);
    expect(obj(paid.json)).toMatchObject({ payment_status: "released", amount_paid: 2 });

    const open = await postJob(a);
    const res = await a.req("POST", `/api/jobs/${open}/complete?quality_score=1`);
    expect([res.status, res.text]).toEqual([500, "Internal Server Error"]);
    // As on the service, the job was set completed before the payment failed.
    expect(obj((await a.req("GET", `/api/jobs/${open}`)).json)).toMatchObject({
      status: "completed",
      quality_score: 1,
    });
  });
});
