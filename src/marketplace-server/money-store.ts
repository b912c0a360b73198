import { z } from "zod";
import type { MarketplaceStore } from "./store.ts";

/** Sign-in and payment rows of the embedded marketplace (migration 3), over the same database. */

const SessionRow = z.object({
  token: z.string(),
  wallet: z.string(),
  agent_id: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string(),
});
export type SessionRow = z.output<typeof SessionRow>;

const TransactionRow = z.object({
  txn_id: z.string(),
  job_id: z.string().nullable(),
  kind: z.string(),
  payer: z.string().nullable(),
  payee_wallet: z.string(),
  amount_usd: z.number(),
  currency: z.string(),
  chain_id: z.number(),
  status: z.string(),
  created_at: z.string(),
});
export type TransactionDoc = z.output<typeof TransactionRow>;

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

  insertSession(row: SessionRow): void {
    this.#db
      .prepare(
        "INSERT INTO auth_sessions (token, wallet, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(row.token, row.wallet, row.agent_id, row.created_at, row.expires_at);
  }

  getSession(token: string): SessionRow | null {
    const row = this.#db.prepare("SELECT * FROM auth_sessions WHERE token = ?").get(token);
    return row ? SessionRow.parse(row) : null;
  }

  deleteSession(token: string): boolean {
    return (
      Number(this.#db.prepare("DELETE FROM auth_sessions WHERE token = ?").run(token).changes) > 0
    );
  }

  insertTransaction(doc: TransactionDoc): void {
    this.#db
      .prepare(
        `INSERT INTO transactions (txn_id, job_id, kind, payer, payee_wallet, amount_usd, currency, chain_id, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        doc.txn_id,
        doc.job_id,
        doc.kind,
        doc.payer,
        doc.payee_wallet,
        doc.amount_usd,
        doc.currency,
        doc.chain_id,
        doc.status,
        doc.created_at,
      );
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
