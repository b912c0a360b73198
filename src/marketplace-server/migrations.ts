/**
 * Ordered schema migrations. `PRAGMA user_version` holds how many have run; each
 * runs in its own transaction (`migrate` in src/sqlite.ts). Append new ones; never edit
 * one that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: agents, jobs, bids. JSON-valued fields are JSON text; `seq` keeps insertion order.
  `
  CREATE TABLE agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    wallet_address TEXT NOT NULL,
    execution_mode TEXT NOT NULL,
    webhook_url TEXT,
    provider TEXT NOT NULL,
    model TEXT,
    base_rate_usd REAL NOT NULL,
    rate_per_1k_tokens REAL NOT NULL,
    capabilities TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    current_capacity INTEGER NOT NULL DEFAULT 1,
    heartbeat_metadata TEXT,
    last_active TEXT,
    created_at TEXT NOT NULL,
    jobs_completed INTEGER NOT NULL DEFAULT 0,
    total_earned_usd REAL NOT NULL DEFAULT 0
  );
  CREATE INDEX agents_wallet ON agents (lower(wallet_address));
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    poster_id TEXT NOT NULL,
    poster_wallet TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    task_type TEXT NOT NULL,
    required_capabilities TEXT NOT NULL DEFAULT '[]',
    min_capability_score REAL NOT NULL,
    data_context TEXT,
    attachments TEXT NOT NULL DEFAULT '[]',
    budget_usd REAL NOT NULL,
    deadline_minutes INTEGER NOT NULL,
    escrow_txn_id TEXT,
    status TEXT NOT NULL,
    bid_count INTEGER NOT NULL DEFAULT 0,
    bid_deadline TEXT,
    winning_bid_id TEXT,
    assigned_agent_id TEXT,
    final_price_usd REAL,
    result TEXT,
    quality_score REAL,
    created_at TEXT NOT NULL,
    assigned_at TEXT,
    completed_at TEXT
  );
  CREATE INDEX jobs_status ON jobs (status);
  CREATE INDEX jobs_assigned_agent ON jobs (assigned_agent_id);
  CREATE TABLE bids (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bid_id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL,
    price_usd REAL NOT NULL,
    estimated_time_seconds INTEGER NOT NULL,
    confidence REAL NOT NULL,
    approach TEXT NOT NULL,
    status TEXT NOT NULL,
    counter_offers TEXT NOT NULL DEFAULT '[]',
    final_price_usd REAL,
    created_at TEXT NOT NULL,
    accepted_at TEXT
  );
  CREATE INDEX bids_job ON bids (job_id);
  `,
  // 2: the per-owner registration cooldown survives a restart, so restarting the
  // marketplace does not open the window early.
  `
  CREATE TABLE registration_cooldowns (
    owner_id TEXT PRIMARY KEY,
    registered_at TEXT NOT NULL
  );
  `,
  // 3: wallet sign-in (one live challenge per wallet, sessions) and the payments ledger.
  `
  CREATE TABLE auth_challenges (
    wallet TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    expires_at TEXT NOT NULL
  );
  CREATE TABLE auth_sessions (
    token TEXT PRIMARY KEY,
    wallet TEXT NOT NULL,
    agent_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
  );
  CREATE TABLE transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id TEXT NOT NULL UNIQUE,
    job_id TEXT,
    kind TEXT NOT NULL,
    payer TEXT,
    payee_wallet TEXT NOT NULL,
    amount_usd REAL NOT NULL,
    currency TEXT NOT NULL,
    chain_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX transactions_job ON transactions (job_id);
  `,
  // 4: files attached to jobs (GET/POST /api/jobs/{id}/files), bytes and all.
  `
  CREATE TABLE job_files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    category TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    checksum TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    content BLOB NOT NULL
  );
  CREATE INDEX job_files_job ON job_files (job_id);
  `,
  // 5: sign-in finds the agent a wallet owns without listing every agent.
  `
  CREATE INDEX agents_owner ON agents (lower(owner_id));
  `,
  // 6: reputation on agents (reviews, hosted execution) and the human review of hosted work.
  `
  ALTER TABLE agents ADD COLUMN rating_avg REAL NOT NULL DEFAULT 0;
  ALTER TABLE agents ADD COLUMN rating_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE agents ADD COLUMN jobs_failed INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE agents ADD COLUMN dispute_rate REAL NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN ai_quality_suggestion TEXT;
  ALTER TABLE jobs ADD COLUMN human_review_decision TEXT;
  ALTER TABLE jobs ADD COLUMN human_review_rating REAL;
  ALTER TABLE jobs ADD COLUMN human_review_feedback TEXT;
  ALTER TABLE jobs ADD COLUMN reviewed_by TEXT;
  ALTER TABLE jobs ADD COLUMN reviewed_at TEXT;
  `,
  // 7: the stale-agent sweep's reason on cancelled bids; session tokens kept as SHA-256
  // hashes (the clear-text sessions of earlier versions are dropped: sign in again);
  // transactions in the service's shape (escrow at posting, release/refund rows later).
  `
  ALTER TABLE bids ADD COLUMN cancelled_reason TEXT;
  DELETE FROM auth_sessions;
  CREATE TABLE payment_transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id TEXT NOT NULL UNIQUE,
    txn_type TEXT NOT NULL,
    job_id TEXT NOT NULL,
    bid_id TEXT,
    payer_id TEXT NOT NULL,
    payer_wallet TEXT NOT NULL,
    payee_id TEXT,
    payee_wallet TEXT,
    amount_usd REAL NOT NULL,
    amount_usdc REAL NOT NULL,
    x402_payment_id TEXT,
    x402_escrow_id TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    confirmed_at TEXT,
    released_at TEXT
  );
  INSERT INTO payment_transactions
    (txn_id, txn_type, job_id, payer_id, payer_wallet, payee_wallet, amount_usd, amount_usdc, status, created_at)
    SELECT txn_id, kind, coalesce(job_id, ''), coalesce(payer, ''), coalesce(payer, ''), payee_wallet,
           amount_usd, amount_usd, status, created_at
    FROM transactions ORDER BY seq;
  INSERT INTO payment_transactions
    (txn_id, txn_type, job_id, payer_id, payer_wallet, amount_usd, amount_usdc, status, created_at, confirmed_at)
    SELECT escrow_txn_id, 'escrow', job_id, poster_id, poster_wallet, budget_usd, budget_usd, 'escrowed',
           created_at, created_at
    FROM jobs
    WHERE escrow_txn_id IS NOT NULL
      AND escrow_txn_id NOT IN (SELECT txn_id FROM payment_transactions)
    ORDER BY seq;
  DROP TABLE transactions;
  ALTER TABLE payment_transactions RENAME TO transactions;
  CREATE INDEX transactions_job ON transactions (job_id);
  `,
];
