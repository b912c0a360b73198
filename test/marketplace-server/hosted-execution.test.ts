import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { assignedJob, getDoc } from "../support/assigned-job.ts";
import { useHostedMarket } from "../support/hosted-market.ts";
import { messageText } from "../support/llm-server.ts";
import { api, obj } from "../support/marketplace-requests.ts";

/**
 * POST /api/jobs/{id}/execute: the marketplace does the assigned agent's work with the
 * LLM of its own process (execution/runner.py), over HTTP against the test LLM server.
 */

const MODEL = "accounts/test/models/hosted";
const ANSWER = {
  summary: "Sales dipped on three days, each a public holiday.",
  key_findings: ["Dip on 1 May", "Dip on 25 December", "Dip on 1 January"],
  details: { days: 3 },
  confidence: 0.9,
  methodology: "Compared each day with the mean of its weekday.",
};

const hosted = useHostedMarket(MODEL, () => JSON.stringify(ANSWER));
let bare: RunningMarketplace;

beforeAll(async () => {
  bare = await startMarketplace({ dbPath: ":memory:", port: 0 });
});
afterAll(async () => {
  await bare?.close();
});

describe("hosted execution", () => {
  it("runs the work with the marketplace's LLM: pending_review, the result and an AI suggestion", async () => {
    const { jobId, agentId } = await assignedJob(hosted.a, { title: "Find the sales dips" });
    const res = await hosted.a.req("POST", `/api/jobs/${jobId}/execute`);
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body).toMatchObject({
      job_id: jobId,
      agent_id: agentId,
      status: "pending_review",
      message: "Work completed. Awaiting human review to finalize quality rating and payment.",
      result: { ...ANSWER, success: true, executed_by: agentId, model: MODEL },
      ai_quality_suggestion: {
        is_ai_suggestion: true,
        awaiting_human_review: true,
        evaluation_provider: "deterministic",
      },
      payment_recommendation: { requires_human_approval: true, threshold: 0.7 },
    });
    expect(typeof body.execution_time_ms).toBe("number");

    const job = await getDoc(hosted.a, `/api/jobs/${jobId}`);
    expect(job.status).toBe("pending_review");
    expect(job.result).toEqual(body.result);
    expect(job.ai_quality_suggestion).toEqual(body.ai_quality_suggestion);
    expect(job.quality_score).toBeNull();
    expect((await getDoc(hosted.a, `/api/agents/${agentId}`)).status).toBe("available");

    // One call, with the service's executor prompt, the job as the task, and its model.
    const calls = hosted.llm.completionRequests();
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.body;
    expect(sent?.model).toBe(MODEL);
    expect(sent?.temperature).toBe(0.4);
    const system = sent?.messages.find((m) => m.role === "system");
    const user = sent?.messages.find((m) => m.role === "user");
    expect(system && messageText(system)).toContain(
      "executing a task in the AgentBazaar marketplace",
    );
    expect(system && messageText(system)).toContain("Respond with valid JSON only.");
    expect(user && messageText(user)).toContain("## Task: Find the sales dips");
    expect(user && messageText(user)).toContain("- Required capabilities: analysis");
  });

  it("a good answer is suggested for acceptance; the same answer always gets the same suggestion", async () => {
    const first = obj(
      (await hosted.a.req("POST", `/api/jobs/${(await assignedJob(hosted.a)).jobId}/execute`)).json,
    );
    const second = obj(
      (await hosted.a.req("POST", `/api/jobs/${(await assignedJob(hosted.a)).jobId}/execute`)).json,
    );
    expect(first.ai_quality_suggestion).toEqual(second.ai_quality_suggestion);
    expect(first.ai_quality_suggestion).toMatchObject({ recommendation: "accept" });
    expect(first.payment_recommendation).toMatchObject({
      suggested_action: "release_payment",
      suggested_payment_ratio: 1,
    });
  });

  it("reads JSON inside a Markdown fence; unreadable text is kept as {error, raw}, still for review", async () => {
    hosted.llm.setResponder(() => `\`\`\`json\n${JSON.stringify(ANSWER)}\n\`\`\``);
    const fenced = obj(
      (await hosted.a.req("POST", `/api/jobs/${(await assignedJob(hosted.a)).jobId}/execute`)).json,
    );
    expect(fenced.result).toMatchObject(ANSWER);

    hosted.llm.setResponder(() => "I could not do it, sorry.");
    const { jobId } = await assignedJob(hosted.a);
    const plain = obj((await hosted.a.req("POST", `/api/jobs/${jobId}/execute`)).json);
    expect(plain.status).toBe("pending_review");
    expect(plain.result).toMatchObject({
      error: "Failed to parse JSON",
      raw: "I could not do it, sorry.",
    });
    expect(plain.ai_quality_suggestion).toMatchObject({
      recommendation: "reject",
      suggested_overall: 0,
    });
    expect(plain.payment_recommendation).toMatchObject({ suggested_action: "refund" });
  });

  it("an LLM failure disputes the job: result {error}, quality 0, the agent available with one more failed job", async () => {
    hosted.llm.setDefaultFault({ kind: "status", status: 401, message: "bad key" });
    const { jobId, agentId } = await assignedJob(hosted.a);
    const res = await hosted.a.req("POST", `/api/jobs/${jobId}/execute`);
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body).toMatchObject({
      job_id: jobId,
      agent_id: agentId,
      quality_score: 0,
      status: "failed",
    });
    expect(typeof body.error).toBe("string");
    const job = await getDoc(hosted.a, `/api/jobs/${jobId}`);
    expect(job.status).toBe("disputed");
    expect(job.quality_score).toBe(0);
    expect(job.result).toMatchObject({ error: body.error, success: false });
    const agent = await getDoc(hosted.a, `/api/agents/${agentId}`);
    expect(agent).toMatchObject({ status: "available", jobs_failed: 1, jobs_completed: 0 });
  });

  it("the job's deadline bounds the LLM call: past it, the job is disputed as timed out", async () => {
    hosted.llm.setDefaultFault({ kind: "hang" });
    const { jobId } = await assignedJob(hosted.a, { deadlineMinutes: 0 });
    const body = obj((await hosted.a.req("POST", `/api/jobs/${jobId}/execute`)).json);
    expect(body).toMatchObject({ status: "failed", error: "Execution timed out after 0s" });
    expect((await getDoc(hosted.a, `/api/jobs/${jobId}`)).status).toBe("disputed");
  });

  it("without an LLM configured the job is disputed, saying so", async () => {
    const b = api(bare.url);
    const { jobId, agentId } = await assignedJob(b);
    const body = obj((await b.req("POST", `/api/jobs/${jobId}/execute`)).json);
    expect(body.status).toBe("failed");
    expect(String(body.error)).toContain("No LLM is configured");
    expect((await getDoc(b, `/api/jobs/${jobId}`)).status).toBe("disputed");
    expect((await getDoc(b, `/api/agents/${agentId}`)).jobs_failed).toBe(1);
  });

  it("404 for an unknown job; a job that is not assigned is the service's bare 500, and is left alone", async () => {
    expect((await hosted.a.req("POST", "/api/jobs/job_00000000/execute")).json).toEqual({
      detail: "Job not found",
    });
    const { jobId } = await assignedJob(hosted.a);
    expect((await hosted.a.req("POST", `/api/jobs/${jobId}/execute`)).status).toBe(200);
    const again = await hosted.a.req("POST", `/api/jobs/${jobId}/execute`);
    expect(again.status).toBe(500);
    expect(again.text).toBe("Internal Server Error");
    expect((await getDoc(hosted.a, `/api/jobs/${jobId}`)).status).toBe("pending_review");
    expect(hosted.llm.completionRequests()).toHaveLength(1);
  });
});
