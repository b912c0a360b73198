import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REVIEW_JOB, ReplicaCluster } from "../support/replica-cluster.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Runner replicas (separate processes) sharing 30 agents through MongoDB leases: the
 * wire server, or MONGODB_TEST_URI. Short lease TTL (10 s) and polls (0.5 s). Every
 * scenario ends with an audit from the marketplace's own records: no bid twice, no
 * result lost, none accepted twice.
 *
 * A failed test leaves every replica's log, the jobs and the leases in
 * test-results/replicas/<test>-<time>/ (REPLICAS_KEEP_LOGS=1: a passed one too).
 */

const real = Boolean(process.env.MONGODB_TEST_URI);
const LOG_DIR = join(import.meta.dirname, "../../test-results/replicas");
/**
 * An LLM attempt lasts as long as a test may: executions are held under way
 * (`llm.hold()`) for as long as a step takes on a busy machine.
 */
const MANUAL_AWARD = { agents: 30, llmTimeoutSeconds: 300 };
/** The marketplace awards each job 1 s after its first bid. */
const OPTIONS = { ...MANUAL_AWARD, autoAwardSeconds: 1 };
const slug = (name: string) => name.replace(/[^a-z0-9]+/gi, "-").slice(0, 50);

// Three processes with 30 agents each start, rebalance and fail over: minutes on a busy machine.
describe("replicas sharing agents through MongoDB", { timeout: 300_000 }, () => {
  let cluster: ReplicaCluster | undefined;
  const start = async (options: Parameters<typeof ReplicaCluster.start>[0]) => {
    cluster = await ReplicaCluster.start(options);
    return cluster;
  };

  afterEach(async (context) => {
    if (context.task.result?.state === "fail" || process.env.REPLICAS_KEEP_LOGS) {
      const at = new Date().toISOString().replace(/[:.]/g, "-");
      await cluster
        ?.saveLogs(join(LOG_DIR, `${slug(context.task.name)}-${at}`))
        .catch(() => undefined);
    }
    await cluster?.close();
    cluster = undefined;
  });

  async function expectClean(c: ReplicaCluster): Promise<void> {
    const audit = await c.audit();
    expect(audit.duplicateBids).toBe(0);
    expect(audit.duplicateResults).toBe(0);
    expect(audit.lostResults).toEqual([]);
  }

  it("three replicas divide 30 agents: disjoint, 10 each, each job bid once per agent and done once", async () => {
    // Awarded by hand once every bid is in: an award 1 s after the first bid would close
    // bidding before slow agents on a busy machine have bid.
    const c = await start(MANUAL_AWARD);
    for (const id of ["r-a", "r-b", "r-c"]) c.launch(id);
    const running = await c.balanced(["r-a", "r-b", "r-c"]);
    expect([...running.values()].map((agents) => agents.length)).toEqual([10, 10, 10]);
    expect(await c.counts()).toEqual(
      new Map([
        ["r-a", 10],
        ["r-b", 10],
        ["r-c", 10],
      ]),
    );
    // The status shows this replica and the others, from the lease collection (as of
    // its last round).
    const status = await waitFor("r-a's view of the others", async () => {
      const s = await c.status("r-a");
      return s.replica?.others.every((o) => o.agents === 10) ? s : undefined;
    });
    expect(status.replica?.id).toBe("r-a");
    expect(status.replica?.agents.sort()).toEqual(running.get("r-a")?.sort());
    expect(status.replica?.others).toEqual([
      { id: "r-b", agents: 10 },
      { id: "r-c", agents: 10 },
    ]);
    const metrics = await fetch(`${await c.url("r-b")}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^bazaar_runner_leases_held 10$/m);
    expect(metrics).toMatch(/^bazaar_runner_lease_changes_total\{reason="claimed"\} \d+$/m);

    const jobs = [await c.postJob(), await c.postJob(REVIEW_JOB), await c.postJob()];
    // Every code reviewer bids on each job, whichever replica runs it (schema architects
    // may too); none twice (the audit).
    const reviewers = c.agents.filter((a) => a.name.startsWith("CodeReviewer"));
    expect(reviewers).toHaveLength(10);
    for (const jobId of jobs) {
      const bids = await c.awardOnceBid(jobId, reviewers);
      expect(bids.length).toBeGreaterThanOrEqual(10);
    }
    for (const jobId of jobs) await c.done(jobId);
    await expectClean(c);
  });

  it("kill -9 of a replica: its agents resume on the others, a won job cut short runs again, a written result is submitted by the new holder", async () => {
    const c = await start(OPTIONS);
    for (const id of ["r-a", "r-b", "r-c"]) c.launch(id);
    await c.balanced(["r-a", "r-b", "r-c"]);

    // A job whose execution is under way when its replica dies: its LLM call is held
    // until then.
    c.llm.hold();
    const cut = await c.postJob();
    const { agent, holder } = await c.awarded(cut);
    const victim = c.replicas.get(holder)!;
    await victim.waitForLog(
      "execution started",
      (l) => l.msg === "execution started" && l.jobId === cut,
      60_000,
    );
    await victim.kill9();
    c.llm.release();

    const survivors = ["r-a", "r-b", "r-c"].filter((id) => id !== holder);
    await c.balanced(survivors);
    const done = await c.done(cut);
    expect(done.result?.executed_by).toBe(agent.agentId);
    const newHolder = (await c.holders()).get(agent.key);
    expect(survivors).toContain(newHolder);
    const started = c.logged("execution started", cut);
    expect(started.length).toBe(2);
    expect(
      c.replicas.get(newHolder!)!.count((l) => l.msg === "result accepted" && l.jobId === cut),
    ).toBe(1);

    // A result written to the ledger but not yet taken by the marketplace when its
    // replica dies: the new holder submits it, without executing again.
    c.marketplace.setFaults({
      rules: [{ route: "POST /api/jobs/:id/submit-result", fault: "error500", probability: 1 }],
    });
    const written = await c.postJob();
    const second = await c.awarded(written);
    const writer = c.replicas.get(second.holder)!;
    await writer.waitForLog(
      "the failed submission",
      (l) => l.msg === "result submission failed; will retry" && l.jobId === written,
      60_000,
    );
    await writer.kill9();
    c.marketplace.setFaults(null);
    const finished = await c.done(written);
    expect(finished.result?.executed_by).toBe(second.agent.agentId);
    expect(c.logged("execution started", written)).toHaveLength(1);
    await expectClean(c);
  });

  it("SIGSTOP past the lease TTL, then SIGCONT: the paused replica is fenced off, nothing is bid or submitted twice", async () => {
    const c = await start(OPTIONS);
    for (const id of ["r-a", "r-b", "r-c"]) c.launch(id);
    await c.balanced(["r-a", "r-b", "r-c"]);

    // Its LLM call is held until the replica is paused and its agent taken over.
    c.llm.hold();
    const jobId = await c.postJob();
    const { agent, holder } = await c.awarded(jobId);
    const paused = c.replicas.get(holder)!;
    await paused.waitForLog(
      "execution started",
      (l) => l.msg === "execution started" && l.jobId === jobId,
      60_000,
    );
    paused.child.kill("SIGSTOP");
    c.note(`SIGSTOP ${holder}`);
    const others = ["r-a", "r-b", "r-c"].filter((id) => id !== holder);
    // The paused replica's leases run out; the others take its agents and run the job.
    await waitFor(
      `${agent.name} taken over`,
      async () => others.includes((await c.holders()).get(agent.key) ?? ""),
      { timeoutMs: 30_000 + c.ttlSeconds * 1000 },
    );
    c.llm.release();
    const done = await c.done(jobId);
    expect(done.result?.executed_by).toBe(agent.agentId);
    // Jobs posted while it is paused are bid on by the new holders.
    const during = await c.postJob();
    await c.done(during);

    paused.child.kill("SIGCONT");
    c.note(`SIGCONT ${holder}`);
    // It wakes up believing it holds its agents: its writes are refused or it sees the
    // leases gone, and it stops them without bidding or submitting.
    await paused.waitForLog(
      "the agent dropped",
      (l) => l.msg === "agent lease lost; another replica runs it now",
      30_000,
    );
    const after = await c.postJob();
    c.note(`posted ${after}`);
    await c.done(after);
    await c.balanced(["r-a", "r-b", "r-c"]);
    expect(paused.count((l) => l.msg === "result accepted" && l.jobId === jobId)).toBe(0);
    // Nothing was bid for it while it slept; after waking it bids only for the agents
    // it holds anew (the audit finds no agent twice on a job).
    expect(paused.count((l) => l.msg === "bid placed" && l.jobId === during)).toBe(0);
    await expectClean(c);
  });

  it("a replica joining: the others drain and release agents, it takes only released ones", async () => {
    const c = await start(OPTIONS);
    c.launch("r-a");
    c.launch("r-b");
    await c.balanced(["r-a", "r-b"]);

    // A job in flight on one of them while the third joins: its LLM call is held until
    // the rebalancing is done, so the busy agent is busy throughout.
    c.llm.hold();
    const jobId = await c.postJob();
    const { agent, holder } = await c.awarded(jobId);
    await c.replicas
      .get(holder)!
      .waitForLog(
        "execution started",
        (l) => l.msg === "execution started" && l.jobId === jobId,
        60_000,
      );
    const joinedAt = Date.now();
    c.launch("r-c");
    await c.balanced(["r-a", "r-b", "r-c"]);
    c.llm.release();
    const done = await c.done(jobId);
    expect(done.result?.executed_by).toBe(agent.agentId);
    // The busy agent was not handed over mid-job: it executed once, where it was.
    expect(c.logged("execution started", jobId)).toHaveLength(1);
    // Hand-overs were clean: drained and released, never lost or taken.
    expect(c.logged("agent lease lost")).toEqual([]);
    // 15 + 15 become 10 + 10 + 10: five from each, the busy agent not among them.
    const handedOver = c
      .logged("handing agent over: draining, then releasing its lease")
      .filter((l) => Number(l.time) >= joinedAt);
    expect(handedOver.length).toBe(10);
    expect(handedOver.map((l) => l.agent)).not.toContain(agent.key);
    const joined = c.replicas.get("r-c")!;
    const claimed = joined.lines
      .filter((l) => l.msg === "agent lease claimed")
      .map((l) => String(l.agent));
    expect(claimed.sort()).toEqual(handedOver.map((l) => String(l.agent)).sort());
    await c.done(await c.postJob());
    await expectClean(c);
  });

  it.skipIf(real)(
    "MongoDB outage: heartbeats and won jobs go on, no new bids; on recovery the leases are re-claimed and bidding resumes",
    async () => {
      const c = await start({ ...OPTIONS, agents: 10 });
      c.launch("r-a");
      c.launch("r-b");
      await c.balanced(["r-a", "r-b"]);
      const server = c.mongo.server!;

      // Its LLM call is held until MongoDB is away.
      c.llm.hold();
      const won = await c.postJob();
      const { holder } = await c.awarded(won);
      await c.replicas
        .get(holder)!
        .waitForLog(
          "execution started",
          (l) => l.msg === "execution started" && l.jobId === won,
          60_000,
        );
      await server.stop();
      c.llm.release();
      // The job already won finishes and is submitted, the ledger being away.
      await c.done(won);

      // Once the leases would have expired, a new job gets no bid from anyone.
      await new Promise((resolve) => setTimeout(resolve, c.ttlSeconds * 1000 + 500));
      const beat = Date.now();
      const unbid = await c.postJob();
      // Heartbeats go on meanwhile: every agent is active again after the job was posted
      // (however late a starved replica's heartbeats come).
      await waitFor("a heartbeat of every agent since the job was posted", async () => {
        const agents = await fetch(`${c.marketplace.url}/api/agents`).then(
          (r) => r.json() as Promise<{ agents: Array<{ last_active: string | null }> }>,
        );
        const recent = agents.agents.filter(
          (a) => a.last_active && Date.parse(`${a.last_active}Z`) >= beat,
        );
        return recent.length === 10;
      });
      // Polls went on too, a few more of them here; none brought a bid.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect((await c.job(unbid)).bids).toEqual([]);

      await server.start();
      expect((await c.done(unbid)).bids.length).toBeGreaterThan(0);
      await c.balanced(["r-a", "r-b"]);
      expect(c.logged("agent lease lost")).toEqual([]);
      await expectClean(c);
    },
  );
});
