import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  estimateInputTokens,
  PROMPT_OVERHEAD_TOKENS,
} from "../../../src/runner/policy/price-floor.ts";
import { type ClientMarket, startClientMarket } from "../../support/client-market.ts";

let cm: ClientMarket;
beforeAll(async () => {
  cm = await startClientMarket("price-floor-");
});
afterAll(async () => {
  await cm?.close();
});

describe("the price floor of a job with attachments", () => {
  it("counts each attached file by its record's size_bytes, as the marketplace writes it", async () => {
    const posted = await cm.client.postJob({
      title: "abcd",
      description: "",
      required_capabilities: [],
      budget_usd: 1,
      poster_id: "poster",
      poster_wallet: `0x${"a".repeat(40)}`,
    });
    const plain = estimateInputTokens(await cm.client.getJob(posted.job_id));
    expect(plain).toBe(1 + PROMPT_OVERHEAD_TOKENS);
    await cm.client.uploadJobFile(posted.job_id, {
      filename: "sales.csv",
      content: new Uint8Array(40_000).fill(97),
      uploadedBy: "poster",
    });
    const job = await cm.client.getJob(posted.job_id);
    expect(job.attachments).toEqual([expect.objectContaining({ size_bytes: 40_000 })]);
    // 40,000 bytes at 4 characters a token.
    expect(estimateInputTokens(job) - plain).toBe(10_000);
  });
});
