import { DEFAULT_TEST_LLM_KEY } from "./llm-server.ts";

/** An LLM key used only by the secrets suite, so that any copy of it in output is a leak. */
export const SECRET_TEST_LLM_KEY = "fw-secret-test-key-8d41c2e07b93";
/** A MongoDB password used only by the secrets suite. */
export const SECRET_TEST_MONGO_PASSWORD = "pw-secret-test-6a0f93be21";

/** Values that must never appear in anything a test captured from the runner. */
export const WATCHED_SECRETS = [
  DEFAULT_TEST_LLM_KEY,
  SECRET_TEST_LLM_KEY,
  SECRET_TEST_MONGO_PASSWORD,
] as const;
