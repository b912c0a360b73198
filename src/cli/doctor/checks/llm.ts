import { createLlmClient } from "../../../llm/client.ts";
import { LlmError } from "../../../llm/types.ts";
import { errorMessage } from "../../../secrets.ts";
import { type DoctorCheck, result } from "../types.ts";

/** A 200 answer whose text is empty: the LLM is reachable and accepted the key. */
function isEmptyCompletion(error: unknown): boolean {
  return error instanceof LlmError && error.kind === "empty";
}

/** The LLM server takes the key and answers the default model. */
export const llmCheck: DoctorCheck = {
  name: "llm",
  async run({ config, pool }) {
    if (!config.fireworksApiKey) {
      return [
        result(
          "llm",
          "warn",
          "FIREWORKS_API_KEY is not set: agents bid, but won jobs get a failed result — set it (and LLM_BASE_URL for another server)",
        ),
      ];
    }
    const llm = createLlmClient({
      apiKey: config.fireworksApiKey,
      baseUrl: config.llmBaseUrl,
      dispatcher: pool,
      timeoutMs: 20_000,
      maxAttempts: 1,
    });
    try {
      // A few tokens rather than one: a model may spend its first token on whitespace
      // or a think tag, and one empty token would read as a failure.
      const completion = await llm.complete({
        model: config.defaultModel,
        system: "Answer with one word.",
        prompt: "Say ok.",
        temperature: 0,
        maxTokens: 8,
      });
      return [
        result(
          "llm",
          "ok",
          `${config.llmBaseUrl} answered with ${completion.model} in ${completion.latencyMs} ms`,
        ),
      ];
    } catch (error) {
      if (isEmptyCompletion(error)) {
        // The server took the key and the model and answered 200: reachable and usable.
        return [
          result(
            "llm",
            "ok",
            `${config.llmBaseUrl} accepted the key and answered ${config.defaultModel} (an empty text for the short check prompt)`,
          ),
        ];
      }
      return [
        result(
          "llm",
          "fail",
          `${config.llmBaseUrl}: ${errorMessage(error)} — check FIREWORKS_API_KEY, LLM_BASE_URL and LLM_MODEL`,
        ),
      ];
    }
  },
};
