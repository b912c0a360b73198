import { createHash } from "node:crypto";
import { z } from "zod";
import type { MarketplaceStore } from "./store.ts";

/** Sign-in and payment rows of the embedded marketplace (migration 3), over the same database. */

/**
 * A session as stored: `token` holds the SHA-256 of the bearer token, never the token
 * itself, so the database file does not hand out sign-ins.
 */
const SessionRow = z.object({
  token: z.string(),
  wallet: z.string(),
  agent_id: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string(),
});
export type SessionRow = z.output<typeof SessionRow>;

/** A payment record in the service's shape (models.py `BazaarTransaction`). */
const TransactionRow = z.object({
  txn_id: z.string(),
  txn_type: z.string(),
  job_id: z.string(),
  bid_id: z.string().nullable(),
  payer_id: z.string(),
  payer_wallet: z.string(),
  payee_id: z.string().nullable(),
  payee_wallet: z.string().nullable(),
  amount_usd: z.number(),
  amount_usdc: z.number(),
  x402_payment_id: z.string().nullable(),
  x402_escrow_id: z.string().nullable(),
  status: z.string(),
  created_at: z.string(),
  confirmed_at: z.string().nullable(),
  released_at: z.string().nullable(),
});
export type TransactionDoc = z.output<typeof TransactionRow>;
const TRANSACTION_COLUMNS = Object.keys(TransactionRow.shape);

export class MoneyStore {
  readonly #store: MarketplaceStore;

  constructor(store: MarketplaceStore) {
    this.#store = store;
  }

  get #db() {
    return this.#store.db;
  }

  /** A new challenge replaces the wallet's previous one. */
  putChallenge(wallet: string, nonce: string, expiresAt: string): void {
    this.#db
      .prepare(
        `INSERT INTO auth_challenges (wallet, nonce, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (wallet) DO UPDATE SET nonce = excluded.nonce, expires_at = excluded.expires_at`,
      )
      .run(wallet, nonce, expiresAt);
  }

  /** Removes and returns the wallet's challenge if its nonce is `nonce`: a nonce is good for one verification. */
  takeChallenge(wallet: string, nonce: string): { expires_at: string } | null {
    return this.#store.transaction(() => {
      const row = this.#db
        .prepare("SELECT expires_at FROM auth_challenges WHERE wallet = ? AND nonce = ?")
        .get(wallet, nonce);
      if (!row) return null;
      this.#db.prepare("DELETE FROM auth_challenges WHERE wallet = ?").run(wallet);
      return z.object({ expires_at: z.string() }).parse(row);
    });
  }

  /** Stores a session under the hash of its `token`. */
  insertSession(row: SessionRow): void {
    this.#db
      .prepare(
        "INSERT INTO auth_sessions (token, wallet, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(tokenHash(row.token), row.wallet, row.agent_id, row.created_at, row.expires_at);
  }

  /** The session of a bearer token (its `token` is the stored hash). */
  getSession(token: string): SessionRow | null {
    const row = this.#db
      .prepare("SELECT * FROM auth_sessions WHERE token = ?")
      .get(tokenHash(token));
    return row ? SessionRow.parse(row) : null;
  }

  deleteSession(token: string): boolean {
    const res = this.#db.prepare("DELETE FROM auth_sessions WHERE token = ?").run(tokenHash(token));
    return Number(res.changes) > 0;
  }

  insertTransaction(doc: TransactionDoc): void {
    const cols = TRANSACTION_COLUMNS;
    this.#db
      .prepare(
        `INSERT INTO transactions (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
      )
      .run(...cols.map((c) => doc[c as keyof TransactionDoc]));
  }

  /** Sets a transaction's status (and when it was released or refunded). */
  settleTransaction(txnId: string, status: string, releasedAt: string): void {
    this.#db
      .prepare("UPDATE transactions SET status = ?, released_at = ? WHERE txn_id = ?")
      .run(status, releasedAt, txnId);
  }

  getTransaction(txnId: string): TransactionDoc | null {
    const row = this.#db.prepare("SELECT * FROM transactions WHERE txn_id = ?").get(txnId);
    return row ? TransactionRow.parse(row) : null;
  }

  jobTransactions(jobId: string): TransactionDoc[] {
    return this.#db
      .prepare("SELECT * FROM transactions WHERE job_id = ? ORDER BY seq")
      .all(jobId)
      .map((r) => TransactionRow.parse(r));
  }
}

/** How a session token is kept in the database. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
