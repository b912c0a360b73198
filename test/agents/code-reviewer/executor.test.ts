import { describe, expect, it } from "vitest";
import { CodeReviewerExecutor } from "../../../src/agents/code-reviewer/executor.ts";
import { FakeLlm, makeAgent, makeContext, makeJob } from "../helpers.ts";

/**
 * CodeReviewer with the hard-coded credential rule, tools run for real (worker thread):
 * the AWS documentation's example key that secretlint skips is a high finding, and the
 * value is masked in the deliverable and in what the LLM is sent.
 */

const AWS_EXAMPLE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

describe("CodeReviewer's hard-coded credential rule", () => {
  it("flags a secret key assigned in a reviewed file, masked everywhere", async () => {
    const job = makeJob({
      title: "Review this config loader",
      description: [
        "Please review this code for security problems.",
        "```ts",
        "import { S3Client } from '@aws-sdk/client-s3';",
        `const AWS_SECRET_ACCESS_KEY = "${AWS_EXAMPLE}";`,
        'const dbPassword = "hunter2";',
        "const region = process.env.AWS_REGION;",
        "export const client = new S3Client({ region });",
        "```",
      ].join("\n"),
    });
    const llm = new FakeLlm({
      answer: async (request) => ({
        // A model that repeats what it is shown.
        text: `## Assessment\nThe key on line 2 is hard-coded.\n\n${request.prompt.slice(-3000)}`,
        model: request.model,
        usage: { inputTokens: 100, outputTokens: 50, totalTokens: 150 },
        latencyMs: 5,
        attempts: 1,
      }),
    });
    const agent = makeAgent({ agent_type: "code_reviewer" });
    const result = await new CodeReviewerExecutor(agent).executeTask(job, makeContext(agent, llm));

    expect(result.success).toBe(true);
    expect(result.output).toMatch(
      /secret\/hard-coded-credential \| high \| Hard-coded credential assigned to `AWS_SECRET_ACCESS_KEY`: wJal… \(40 characters\)/,
    );
    expect(result.output).toMatch(/Hard-coded credential assigned to `dbPassword`/);
    expect(result.output).toContain("Hard-coded credential check");
    for (const text of [result.output, ...llm.requests.map((r) => r.prompt)]) {
      expect(text).not.toContain(AWS_EXAMPLE);
      expect(text).not.toContain('"hunter2"');
    }
    // The environment read is no finding.
    expect(result.output).not.toMatch(/assigned to `region`/);
  });
});
