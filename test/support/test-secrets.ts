import { DEFAULT_TEST_LLM_KEY } from "./llm-server.ts";

/** An LLM key used only by the secrets suite, so that any copy of it in output is a leak. */
export const SECRET_TEST_LLM_KEY = "fw-secret-test-key-8d41c2e07b93";
/** A MongoDB password used only by the secrets suite. */
export const SECRET_TEST_MONGO_PASSWORD = "pw-secret-test-6a0f93be21";

/** A wallet mnemonic (AGENT_WALLET_MNEMONIC) used only by tests, so that any copy of it in output is a leak. */
export const SECRET_TEST_MNEMONIC =
  "divorce usage marble wise square hill fun stove seat budget old six";
/** The private key of its first agent (m/44'/60'/0'/0/0), without the 0x. */
export const SECRET_TEST_MNEMONIC_KEY0 =
  "d7c723e2e9ccdfbc54a22ede421f7073437d6ed33f0a255eb4048f05f97162a7";

/** Values that must never appear in anything a test captured from the runner. */
export const WATCHED_SECRETS = [
  DEFAULT_TEST_LLM_KEY,
  SECRET_TEST_LLM_KEY,
  SECRET_TEST_MONGO_PASSWORD,
  SECRET_TEST_MNEMONIC,
  SECRET_TEST_MNEMONIC_KEY0,
] as const;
