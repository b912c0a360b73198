import { randomBytes } from "node:crypto";
import { type Hex, verifyMessage, verifyTypedData } from "viem";
import {
  AUTH_DOMAIN,
  AUTH_STATEMENT,
  AUTH_TYPES,
  authMessage,
  CHALLENGE_LIFETIME_MS,
  SESSION_LIFETIME_MS,
} from "../contract/auth.ts";
import { isoTime, parseTime } from "../contract/time.ts";
import { ApiError, badRequest } from "./errors.ts";
import type { MoneyStore } from "./money-store.ts";
import type { AgentDoc, MarketplaceStore } from "./store.ts";

const WALLET = /^0x[0-9a-fA-F]{40}$/;
const HEX_SIGNATURE = /^0x[0-9a-fA-F]+$/;

export const AUTH_REQUIRED =
  "Authentication required. Use /api/auth/challenge to get a signing challenge.";

/** 401 with the service's detail and `WWW-Authenticate: Bearer`. */
export const authRequired = (): ApiError =>
  new ApiError(401, AUTH_REQUIRED, { "www-authenticate": "Bearer" });
export const notOwner = (): ApiError => new ApiError(403, "You don't own this agent");

/** Whether `wallet` (lower case) may act for the agent: its owner or its own wallet. */
export function ownsAgent(wallet: string, agent: Pick<AgentDoc, "owner_id" | "wallet_address">) {
  return agent.owner_id.toLowerCase() === wallet || agent.wallet_address.toLowerCase() === wallet;
}

/** The typed data a wallet signs for a nonce (the contract's, verbatim). */
export function authTypedData(wallet: string, nonce: string) {
  return {
    domain: AUTH_DOMAIN,
    types: AUTH_TYPES,
    primaryType: "AuthRequest" as const,
    message: { wallet: wallet as Hex, nonce, statement: AUTH_STATEMENT },
  };
}

/**
 * Wallet sign-in of the embedded marketplace: challenges, EIP-712 or personal_sign
 * signatures checked with viem, and 24 h sessions. `walletOf` tells who a request's
 * Authorization header proves to be (null: no valid authentication).
 */
export class AuthService {
  readonly #money: MoneyStore;
  readonly #store: MarketplaceStore;
  readonly #now: () => Date;

  constructor(store: MarketplaceStore, money: MoneyStore, now: () => Date) {
    this.#store = store;
    this.#money = money;
    this.#now = now;
  }

  challenge(wallet: string) {
    if (!WALLET.test(wallet)) throw badRequest("Invalid wallet address");
    const lower = wallet.toLowerCase();
    const nonce = randomBytes(16).toString("hex");
    const expiresAt = isoTime(new Date(this.#now().getTime() + CHALLENGE_LIFETIME_MS));
    this.#money.putChallenge(lower, nonce, expiresAt);
    const typed = authTypedData(lower, nonce);
    return {
      wallet: lower,
      nonce,
      expires_at: expiresAt,
      typed_data: {
        ...typed,
        types: {
          EIP712Domain: [
            { name: "name", type: "string" },
            { name: "version", type: "string" },
            { name: "chainId", type: "uint256" },
          ],
          ...typed.types,
        },
      },
      message: authMessage(nonce),
    };
  }

  async verify(body: { wallet: string; signature: string; nonce: string }) {
    const wallet = await this.#checkSignature(body.wallet, body.signature, body.nonce);
    const now = this.#now();
    const token = randomBytes(32).toString("base64url");
    const agent = this.#store.findAgentOwnedBy(wallet);
    this.#money.insertSession({
      token,
      wallet,
      agent_id: agent?.agent_id ?? null,
      created_at: isoTime(now),
      expires_at: isoTime(new Date(now.getTime() + SESSION_LIFETIME_MS)),
    });
    return {
      success: true,
      session_token: token,
      wallet,
      agent_id: agent?.agent_id ?? null,
      message: "Authentication successful",
    };
  }

  /** Spends the wallet's challenge and checks the signature over it; 401 unless it is good. */
  async #checkSignature(walletIn: string, signature: string, nonce: string): Promise<string> {
    if (!WALLET.test(walletIn)) throw badRequest("Invalid wallet address");
    const wallet = walletIn.toLowerCase();
    const challenge = this.#money.takeChallenge(wallet, nonce);
    if (!challenge || parseTime(challenge.expires_at) < this.#now())
      throw new ApiError(401, "Invalid or expired nonce");
    if (!HEX_SIGNATURE.test(signature) || !(await signedBy(wallet, signature as Hex, nonce)))
      throw new ApiError(401, "Invalid signature");
    return wallet;
  }

  /** The wallet an Authorization header proves, or null (absent, unknown, expired or bad). */
  async walletOf(header: string | undefined): Promise<string | null> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!match?.[1]) return null;
    const credential = match[1];
    const parts = credential.split(":");
    if (parts.length === 3 && WALLET.test(parts[0] ?? "")) {
      // wallet:signature:nonce, for a fresh challenge, without a session.
      try {
        return await this.#checkSignature(parts[0]!, parts[1]!, parts[2]!);
      } catch {
        return null;
      }
    }
    const session = this.#money.getSession(credential);
    if (!session || parseTime(session.expires_at) <= this.#now()) return null;
    return session.wallet;
  }

  me(token: string | undefined) {
    const session = token ? this.#money.getSession(token) : null;
    if (!session || parseTime(session.expires_at) <= this.#now()) throw authRequired();
    // api.py get_current_user: with the agent's document when the wallet owns one. The
    // session's expiry is ours, beside them, for clients that renew before it.
    const agent = session.agent_id ? this.#store.getAgent(session.agent_id) : null;
    return {
      wallet: session.wallet,
      agent_id: session.agent_id,
      authenticated: true,
      ...(agent ? { agent } : {}),
      expires_at: session.expires_at,
    };
  }

  /** Ends the caller's session; 401 unless the caller is authenticated (api.py `require_auth`). */
  async logout(header: string | undefined) {
    const token = bearerToken(header);
    const session = token ? this.#money.getSession(token) : null;
    if (session && parseTime(session.expires_at) > this.#now()) {
      this.#money.deleteSession(token ?? "");
    } else if ((await this.walletOf(header)) === null) {
      throw authRequired();
    }
    return { success: true, message: "Logged out" };
  }
}

/** Whether the signature is the wallet's, over the typed data (preferred) or the plain message. */
async function signedBy(wallet: string, signature: Hex, nonce: string): Promise<boolean> {
  const address = wallet as Hex;
  try {
    if (await verifyTypedData({ address, signature, ...authTypedData(wallet, nonce) })) return true;
  } catch {
    // malformed signature: not typed data; try the plain message below
  }
  try {
    return await verifyMessage({ address, message: authMessage(nonce), signature });
  } catch {
    return false;
  }
}

/** The bearer token of a request, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1];
}
