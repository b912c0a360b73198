import { dirname, join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { BazaarRunnerError } from "../errors.ts";
import { registerSecret } from "../secrets.ts";
import { DEV_POSTER_KEY_FILE } from "../wallet/poster-key.ts";
import { loadOrCreateSecretFile } from "../wallet/secret-file.ts";
import { authTypedData } from "./auth.ts";

/** What the marketplace answered an action it took for the page. */
export interface ActAnswer {
  status: number;
  body: unknown;
}

/**
 * Where the page's poster key lives: beside the marketplace's database, under the name
 * the CLI gives its development poster key in RUNNER_STATE_DIR. `start` keeps its database
 * there, so the page and `bazaar-runner jobs …` are one poster. A `:memory:` marketplace
 * gets a key that lives as long as the process.
 */
export function pagePosterKeyFile(dbPath: string): string | null {
  return dbPath === ":memory:" ? null : join(dirname(dbPath), DEV_POSTER_KEY_FILE);
}

/**
 * The poster the page acts as. Its key stays in this process: the page asks for the
 * wallet (public) and for actions; the marketplace signs in as that wallet through its
 * own sign-in routes (challenge, EIP-712 signature, verify) and sends the action with
 * the session, as any client of the real service would.
 */
export class PagePoster {
  readonly #app: FastifyInstance;
  readonly #keyFile: string | null;
  #account: PrivateKeyAccount | undefined;
  #session: string | undefined;

  constructor(app: FastifyInstance, keyFile: string | null) {
    this.#app = app;
    this.#keyFile = keyFile;
  }

  /** The poster's wallet address; the key is read (or made) on first use. */
  get wallet(): string {
    return this.#key().address;
  }

  /** Sends `method url` with the poster's session; signs in again once if the session is refused. */
  async act(method: "POST", url: string, body?: unknown): Promise<ActAnswer> {
    const first = await this.#send(method, url, body, await this.#token());
    if (first.status !== 401) return first;
    this.#session = undefined;
    return this.#send(method, url, body, await this.#token());
  }

  #key(): PrivateKeyAccount {
    if (this.#account) return this.#account;
    const key = this.#keyFile
      ? loadOrCreateSecretFile(this.#keyFile, generatePrivateKey).value
      : generatePrivateKey();
    const hex = (key.startsWith("0x") ? key : `0x${key}`) as Hex;
    registerSecret(hex);
    registerSecret(hex.slice(2));
    this.#account = privateKeyToAccount(hex);
    return this.#account;
  }

  async #token(): Promise<string> {
    if (this.#session) return this.#session;
    const account = this.#key();
    const challenge = await this.#app.inject({
      method: "GET",
      url: `/api/auth/challenge?wallet=${account.address}`,
    });
    const { wallet, nonce } = challenge.json() as { wallet: string; nonce: string };
    const signature = await account.signTypedData(authTypedData(wallet, nonce));
    const verified = await this.#app.inject({
      method: "POST",
      url: "/api/auth/verify",
      payload: { wallet, signature, nonce },
    });
    if (verified.statusCode !== 200)
      throw new BazaarRunnerError(
        "BR_ERR_INTERNAL",
        `the page's poster could not sign in: ${verified.statusCode} ${verified.body}`,
      );
    this.#session = (verified.json() as { session_token: string }).session_token;
    registerSecret(this.#session);
    return this.#session;
  }

  async #send(method: "POST", url: string, body: unknown, token: string): Promise<ActAnswer> {
    const answer = await this.#app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    let parsed: unknown = answer.body;
    try {
      parsed = answer.json();
    } catch {
      // A 500's plain-text body stays text.
    }
    return { status: answer.statusCode, body: parsed };
  }
}
