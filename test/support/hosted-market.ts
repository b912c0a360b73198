import { afterAll, beforeAll, beforeEach } from "vitest";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { startTestLlmServer, type TestLlmServer } from "./llm-server.ts";
import { type Api, api } from "./marketplace-requests.ts";

/** An embedded marketplace whose hosted execution asks the test LLM server, for one test file. */
export interface HostedMarket {
  llm: TestLlmServer;
  market: RunningMarketplace;
  /** Raw requests to `market`. */
  a: Api;
}

/**
 * Starts the test LLM server and a marketplace that runs hosted execution with it before
 * the file's tests, and closes both after them; before each test the LLM server is reset
 * and answers `answer()`. Call at the top of a test file.
 */
export function useHostedMarket(model: string, answer: () => string): HostedMarket {
  const hosted = {} as HostedMarket;
  beforeAll(async () => {
    hosted.llm = await startTestLlmServer();
    hosted.market = await startMarketplace({
      dbPath: ":memory:",
      port: 0,
      hostedLlm: { apiKey: hosted.llm.apiKey, baseUrl: hosted.llm.url, model },
    });
    hosted.a = api(hosted.market.url);
  });
  afterAll(async () => {
    await hosted.market?.close();
    await hosted.llm?.close();
  });
  beforeEach(() => {
    hosted.llm.reset();
    hosted.llm.setResponder(answer);
  });
  return hosted;
}
