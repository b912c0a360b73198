import type { Hex, LocalAccount } from "viem";
import {
  AUTH_DOMAIN,
  AUTH_STATEMENT,
  AUTH_TYPES,
  authMessage,
  ChallengeResponseSchema,
  MeResponseSchema,
  SESSION_LIFETIME_MS,
  VerifyResponseSchema,
} from "../contract/auth.ts";
import { route } from "../contract/routes.ts";
import type { Logger } from "../logger.ts";
import { isMarketplaceError, MarketplaceError } from "./errors.ts";
import type { MarketplaceTransport } from "./transport.ts";

/** What signs in: an account whose key the runner holds (viem's local accounts are). */
export type Signer = Pick<LocalAccount, "address" | "signTypedData" | "signMessage">;

export type SignInMethod = "eip712" | "personal_sign";

/** A 403 "You don't own this agent": the configuration is wrong, so it is not retried. */
export function isOwnershipError(error: unknown): error is MarketplaceError {
  return (
    isMarketplaceError(error, "BR_ERR_MARKETPLACE_FORBIDDEN") && /own/i.test(error.detail ?? "")
  );
}

interface Session {
  token: string;
  expiresAt: number;
  method: SignInMethod;
}

export interface SessionsOptions {
  transport: MarketplaceTransport;
  logger?: Logger;
  now?: () => number;
  /** Renew a session this long before it expires (default 1 h of its 24). */
  renewBeforeMs?: number;
  /** Assumed lifetime of a session (the service's is 24 h; the verify answer does not say). */
  sessionLifetimeMs?: number;
}

/**
 * Wallet sign-in: challenge, signature (EIP-712 typed data built from the contract,
 * `personal_sign` as fallback), session token. One session per wallet, shared by every
 * caller, renewed before expiry and after a 401.
 */
export class Sessions {
  readonly #transport: MarketplaceTransport;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #renewBeforeMs: number;
  readonly #lifetimeMs: number;
  readonly #sessions = new Map<string, Session>();
  readonly #pending = new Map<string, Promise<Session>>();
  /** Sign-ins performed, for status and tests. */
  signIns = 0;

  constructor(options: SessionsOptions) {
    this.#transport = options.transport;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#renewBeforeMs = options.renewBeforeMs ?? 60 * 60 * 1000;
    this.#lifetimeMs = options.sessionLifetimeMs ?? SESSION_LIFETIME_MS;
  }

  /** A valid session token for the signer's wallet, signing in when there is none or it is about to expire. */
  async token(signer: Signer, signal?: AbortSignal): Promise<string> {
    const key = signer.address.toLowerCase();
    const current = this.#sessions.get(key);
    if (current && current.expiresAt - this.#renewBeforeMs > this.#now()) return current.token;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#signIn(signer, signal).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    const session = await pending;
    this.#sessions.set(key, session);
    return session.token;
  }

  /** Forgets a token the service refused, unless a newer one replaced it already. */
  invalidate(wallet: string, token: string): void {
    const key = wallet.toLowerCase();
    if (this.#sessions.get(key)?.token === token) this.#sessions.delete(key);
  }

  /** Runs an authenticated call; a 401 (expired or unknown session) signs in again and retries once. */
  async withSession<T>(
    signer: Signer,
    call: (token: string) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const token = await this.token(signer, signal);
    try {
      return await call(token);
    } catch (error) {
      if (!isMarketplaceError(error, "BR_ERR_MARKETPLACE_UNAUTHORIZED")) throw error;
      this.invalidate(signer.address, token);
      this.#log?.info(
        { wallet: signer.address },
        "marketplace session refused (401); signing in again",
      );
      return call(await this.token(signer, signal));
    }
  }

  /** Whether a wallet has a live session, and how it signed in. */
  session(wallet: string): { method: SignInMethod; expiresAt: string } | undefined {
    const s = this.#sessions.get(wallet.toLowerCase());
    return s && s.expiresAt > this.#now()
      ? { method: s.method, expiresAt: new Date(s.expiresAt).toISOString() }
      : undefined;
  }

  async #signIn(signer: Signer, signal?: AbortSignal): Promise<Session> {
    try {
      return await this.#signInWith(signer, "eip712", signal);
    } catch (error) {
      // The typed data was refused: the service may only know personal_sign. A fresh
      // challenge, since a nonce is good for one verification.
      if (!isMarketplaceError(error, "BR_ERR_MARKETPLACE_UNAUTHORIZED")) throw error;
      this.#log?.info({ wallet: signer.address }, "EIP-712 sign-in refused; trying personal_sign");
      return this.#signInWith(signer, "personal_sign", signal);
    }
  }

  async #signInWith(signer: Signer, method: SignInMethod, signal?: AbortSignal): Promise<Session> {
    const wallet = signer.address.toLowerCase();
    const challenge = await this.#transport.call({
      route: route("authChallenge"),
      query: { wallet },
      schema: ChallengeResponseSchema,
      signal,
    });
    if (challenge.wallet.toLowerCase() !== wallet)
      throw new MarketplaceError(
        `GET /api/auth/challenge: answered for ${challenge.wallet}, not ${wallet}`,
        { kind: "invalid-response", route: route("authChallenge"), attempts: 1 },
      );
    // The typed data is built here from the contract, never signed as the service sent
    // it: a service could otherwise have the agent sign anything (a token permit).
    const signature: Hex =
      method === "eip712"
        ? await signer.signTypedData({
            domain: AUTH_DOMAIN,
            types: AUTH_TYPES,
            primaryType: "AuthRequest",
            message: { wallet: signer.address, nonce: challenge.nonce, statement: AUTH_STATEMENT },
          })
        : await signer.signMessage({ message: authMessage(challenge.nonce) });
    const verified = await this.#transport.call({
      route: route("authVerify"),
      json: { wallet, signature, nonce: challenge.nonce },
      schema: VerifyResponseSchema,
      maxAttempts: 1, // the nonce is spent by the first attempt that reached the service
      signal,
    });
    this.signIns++;
    this.#log?.info({ wallet: signer.address, method }, "signed in to the marketplace");
    return { token: verified.session_token, expiresAt: this.#now() + this.#lifetimeMs, method };
  }

  /** Who the service thinks a token is. */
  me(token: string) {
    return this.#transport.call({
      route: route("authMe"),
      schema: MeResponseSchema,
      token,
    });
  }
}
