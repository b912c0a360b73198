/**
 * Jobs written the way customers write them, with planted defects whose place is
 * known: spikes, level shifts and seasonal breaks in series; eval, injection and keys in
 * code; sample records and broken specifications. Data is generated from a fixed seed,
 * so every run sees the same numbers.
 */

export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** Standard normal noise (Box–Muller) from a seeded generator. */
export function gaussian(seed: number): () => number {
  const rand = seeded(seed);
  return () => {
    const u = rand() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

function hours(start: string, count: number): string[] {
  const t0 = Date.parse(`${start}Z`);
  return Array.from({ length: count }, (_, i) =>
    new Date(t0 + i * 3_600_000).toISOString().slice(0, 19),
  );
}

function days(start: string, count: number): string[] {
  const t0 = Date.parse(`${start}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) =>
    new Date(t0 + i * 86_400_000).toISOString().slice(0, 10),
  );
}

const round = (v: number, d = 2) => Number(v.toFixed(d));

export interface AnomalyFixture {
  title: string;
  description: string;
  /** Timestamps (or indexes) that must be flagged. */
  planted: string[];
  /** The kind each planted point must be reported as (same order), when it matters. */
  kinds?: ("point" | "level shift")[];
}

/** 1. Hourly API latency with three spikes. */
function latencySpikes(): AnomalyFixture {
  const noise = gaussian(11);
  const times = hours("2026-03-02T00:00:00", 240);
  const values = times.map(() => round(120 + 4 * noise(), 1));
  values[37] = 212.4;
  values[128] = 188.9;
  values[201] = 41.3;
  const csv = ["timestamp,latency_ms", ...times.map((t, i) => `${t},${values[i]}`)].join("\n");
  return {
    title: "Find anomalies in our API latency",
    description: `Hi! Our checkout API has felt flaky for the last ten days. Below is the p50 latency per hour from our APM export. Can you find the anomalies and tell us what's unusual?\n\n\`\`\`csv\n${csv}\n\`\`\`\n\nThanks!`,
    planted: [times[37]!, times[128]!, times[201]!],
    kinds: ["point", "point", "point"],
  };
}

/** 2. Daily conversion rate that drops for good after a release (a level shift). */
function conversionShift(): AnomalyFixture {
  const noise = gaussian(22);
  const dates = days("2026-01-01", 120);
  const records = dates.map((date, i) => ({
    date,
    conversion_rate: round((i < 70 ? 3.2 : 2.4) + 0.05 * noise(), 3),
    sessions: 1000 + Math.round(20 * noise()),
  }));
  return {
    title: "Did our conversion rate drop after the March release? (change point detection)",
    description: `We shipped a new checkout on March 11. Marketing says conversion is down, engineering says it is noise. Here is the daily export as JSON, please run a change point / anomaly analysis:\n\n\`\`\`json\n${JSON.stringify(records)}\n\`\`\``,
    planted: [dates[70]!],
    kinds: ["level shift"],
  };
}

/** 3. Hourly web traffic with a daily season and one hour that breaks the pattern. */
function seasonalBreak(): AnomalyFixture {
  const noise = gaussian(33);
  const times = hours("2026-05-04T00:00:00", 24 * 14);
  const visits = times.map((_, i) =>
    Math.round(500 + 300 * Math.sin((2 * Math.PI * (i % 24)) / 24) + 12 * noise()),
  );
  // 14:00 on day 9 should be near the daily peak; it collapsed instead.
  const broken = 9 * 24 + 5;
  visits[broken] = Math.round(visits[broken]! - 260);
  const csv = ["hour,visits", ...times.map((t, i) => `${t},${visits[i]}`)].join("\n");
  return {
    title: "Seasonal pattern break in website traffic",
    description: `Our traffic has a strong daily seasonality. Two weeks of hourly visits are below; flag any hour that does not fit the usual daily pattern.\n\n\`\`\`csv\n${csv}\n\`\`\``,
    planted: [times[broken]!],
    kinds: ["point"],
  };
}

/** 4. Clean temperature readings with a daily cycle: nothing to flag. */
function cleanSensor(): AnomalyFixture {
  const noise = gaussian(44);
  const times = hours("2026-02-01T00:00:00", 24 * 10);
  const rows = times.map(
    (t, i) => `${t},${round(18 + 3 * Math.sin((2 * Math.PI * i) / 24) + 0.3 * noise())}`,
  );
  return {
    title: "Sanity check: anomalies in our greenhouse sensor time series?",
    description: `Can you check this temperature feed for outliers? I think it's fine but want a second opinion before we tune the alerting.\n\n\`\`\`\ntime,temp_c\n${rows.join("\n")}\n\`\`\``,
    planted: [],
  };
}

/** 5. A plain list of daily order counts, pasted inline, with one spike. */
function orderList(): AnomalyFixture {
  const noise = gaussian(55);
  const values = Array.from({ length: 60 }, () => Math.round(340 + 9 * noise()));
  values[44] = 612;
  return {
    title: "Outlier in daily orders",
    description: `Daily order counts for the last 60 days (oldest first):\n\n${values.join(", ")}\n\nIs there an outlier we should worry about?`,
    planted: ["44"],
    kinds: ["point"],
  };
}

/** 6. Pasted service logs with a latency spike. */
function pastedLogs(): AnomalyFixture {
  const noise = gaussian(66);
  const t0 = Date.parse("2026-06-10T08:00:00Z");
  const lines = Array.from({ length: 90 }, (_, i) => {
    const at = new Date(t0 + i * 60_000).toISOString().slice(0, 19);
    const latency = i === 61 ? 1480 : Math.round(210 + 8 * noise());
    return `${at} INFO payments-api request handled status=200 latency_ms=${latency}`;
  });
  const spikeAt = new Date(t0 + 61 * 60_000).toISOString().slice(0, 19);
  return {
    title: "Log analysis: unusual latency in payments-api",
    description: `Pasted from our logs this morning, anything abnormal?\n\n${lines.join("\n")}`,
    planted: [spikeAt],
    kinds: ["point"],
  };
}

/** 7. A steady upward trend with noise: growth is not an anomaly. */
function cleanTrend(): AnomalyFixture {
  const noise = gaussian(77);
  const dates = days("2026-01-01", 150);
  const records = dates.map((d, i) => ({ day: d, signups: round(200 + 1.5 * i + 6 * noise(), 1) }));
  return {
    title: "Trend analysis of signups: anything anomalous?",
    description: `Signups keep growing. Please check the series for anomalies.\n\n\`\`\`json\n${JSON.stringify(records, null, 1)}\n\`\`\``,
    planted: [],
  };
}

export const ANOMALY_FIXTURES: AnomalyFixture[] = [
  latencySpikes(),
  conversionShift(),
  seasonalBreak(),
  cleanSensor(),
  orderList(),
  pastedLogs(),
  cleanTrend(),
];

export interface CodeFixture {
  title: string;
  description: string;
  /** file, line and a rule pattern of every finding that must be there. */
  planted: { file: string; line: number; rule: RegExp }[];
  /** Secrets that must never appear in full in the deliverable. */
  secrets?: string[];
}

const AWS_KEY = "AKIAZ3MSJV4WWXYZ1234";
const GITHUB_TOKEN = "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";
const PEM_BODY = [
  "MIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH",
  "lWu2/a1gB9JW5TBQ+AVpum9Okx7KfqkfBKL9mcHgSL0yWMdjMfNOqNtrQqKlN4kE",
  "p6RD++7sGbzbfZ9arwrlD/HSDAWGdGGJTSOBM6pHehyLmSC3DJoR/CTu0vTGTWXQ",
].join("\n");

export const CODE_FIXTURES: CodeFixture[] = [
  {
    title: "Security review of our Express calculator endpoint",
    description: `Please do a security review of this route before we ship it.\n\n\`\`\`js
const express = require("express");
const db = require("./db");
const AWS_ACCESS_KEY_ID = "${AWS_KEY}";

const app = express();
app.post("/calc", (req, res) => {
  const result = eval(req.body.expression);
  res.json({ result });
});

app.get("/user", async (req, res) => {
  const rows = await db.query("SELECT * FROM users WHERE id = " + req.query.id);
  res.json(rows);
});
\`\`\``,
    planted: [
      { file: "block-1.js", line: 3, rule: /^secret\/aws$/ },
      { file: "block-1.js", line: 7, rule: /^no-eval$/ },
      { file: "block-1.js", line: 12, rule: /^sql-injection/ },
    ],
    secrets: [AWS_KEY],
  },
  {
    title: "Code review: TypeScript scheduler (someone disabled the linter)",
    description: `Our intern added this scheduler. Note they put eslint-disable comments in; please review it properly anyway.\n\n\`\`\`ts
type Task = { name: string; code: string; delayMs: number };

export function schedule(task: Task): void {
  // eslint-disable-next-line no-implied-eval
  setTimeout("runTask('" + task.name + "')", task.delayMs);
}

export function run(expr: string): unknown {
  /* eslint-disable */
  return eval(expr);
}

export const build = (body: string) => new Function("x", body);
\`\`\``,
    planted: [
      { file: "block-1.ts", line: 5, rule: /^no-implied-eval$/ },
      { file: "block-1.ts", line: 10, rule: /^no-eval$/ },
      { file: "block-1.ts", line: 13, rule: /^no-new-func$/ },
    ],
  },
  {
    title: "Review my Flask app for security vulnerabilities",
    description: `Python, Flask. I'm worried about SQL injection.\n\n\`\`\`python
import sqlite3
from flask import Flask, request

GITHUB_TOKEN = "${GITHUB_TOKEN}"
app = Flask(__name__)

@app.route("/search")
def search():
    term = request.args.get("q")
    conn = sqlite3.connect("shop.db")
    rows = conn.execute(f"SELECT * FROM products WHERE name LIKE '%{term}%'").fetchall()
    return {"rows": rows}

@app.route("/order/<oid>")
def order(oid):
    conn = sqlite3.connect("shop.db")
    return {"rows": conn.execute("SELECT * FROM orders WHERE id = %s" % oid).fetchall()}
\`\`\``,
    planted: [
      { file: "block-1.py", line: 4, rule: /^secret\/github$/ },
      { file: "block-1.py", line: 11, rule: /^sql-injection/ },
      { file: "block-1.py", line: 17, rule: /^sql-injection/ },
    ],
    secrets: [GITHUB_TOKEN],
  },
  {
    title: "Review deploy script (Go) for hard-coded credentials",
    description: `This is our deploy helper. Anything leaking?\n\n\`\`\`go
package deploy

import "fmt"

const signingKey = \`-----BEGIN RSA PRIVATE KEY-----
${PEM_BODY}
-----END RSA PRIVATE KEY-----\`

func Query(table string, id string) string {
	return fmt.Sprintf("SELECT * FROM %s WHERE id = %s", table, id)
}
\`\`\``,
    planted: [
      { file: "block-1.go", line: 5, rule: /^secret\/privatekey$/ },
      { file: "block-1.go", line: 12, rule: /^sql-injection/ },
    ],
    secrets: [PEM_BODY.split("\n")[0]!],
  },
  {
    title: "Code review of our TypeScript repository layer",
    description: `Clean-up PR, please review for performance and security.\n\n\`\`\`ts
import type { Pool } from "pg";

export interface User {
  id: string;
  email: string;
}

export async function findUser(pool: Pool, id: string): Promise<User | undefined> {
  const result = await pool.query<User>("SELECT id, email FROM users WHERE id = $1", [id]);
  return result.rows[0];
}

export function total(prices: readonly number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
\`\`\``,
    planted: [],
  },
  {
    title: "Python code review: data cleaning helpers",
    description: `Please review for bugs and style.\n\n\`\`\`python
import os

def load_rows(cursor, customer_id):
    cursor.execute("SELECT * FROM invoices WHERE customer_id = %s", (customer_id,))
    return cursor.fetchall()

def api_key():
    return os.environ["BILLING_API_KEY"]
\`\`\``,
    planted: [],
  },
];

/** Order records with a nested customer, a list of items and an optional coupon. */
export const ORDER_RECORDS = [
  {
    order_id: "3f1c9a7e-0b2d-4c5e-8f6a-1b2c3d4e5f60",
    placed_at: "2026-04-01T10:15:00Z",
    total: 42.5,
    quantity: 3,
    customer: { id: 17, email: "ana@example.com" },
    items: [{ sku: "A-1", price: 12.5 }],
    coupon: "SPRING",
  },
  {
    order_id: "9b8a7c6d-5e4f-4a3b-9c2d-0e1f2a3b4c5d",
    placed_at: "2026-04-02T08:01:30Z",
    total: 19,
    quantity: 1,
    customer: { id: 18, email: "li@example.org" },
    items: [
      { sku: "B-7", price: 19 },
      { sku: "C-2", price: 0 },
    ],
  },
];

export interface SchemaFixture {
  title: string;
  description: string;
  /** Sample sets the tools must infer a schema for, and (some) required fields. */
  inferred: { name: string; required: string[]; notRequired?: string[] }[];
  /** Specifications in the request and whether each must validate. */
  checks: { name: string; kind: string; ok: boolean }[];
}

export const SCHEMA_FIXTURES: SchemaFixture[] = [
  {
    title: "JSON Schema for our order export",
    description: `We export orders as JSON. Please design a JSON Schema (2020-12) for them; two samples:\n\n\`\`\`json\n${JSON.stringify(ORDER_RECORDS, null, 2)}\n\`\`\``,
    inferred: [
      {
        name: "block-1.json",
        required: ["order_id", "placed_at", "total", "customer", "items"],
        notRequired: ["coupon"],
      },
    ],
    checks: [],
  },
  {
    title: "Database schema for our user list (CSV attached inline)",
    description: `Need a PostgreSQL table and a JSON Schema for this user export:\n\nid,email,signed_up,active,plan\n1,ana@example.com,2026-01-03,true,pro\n2,li@example.org,2026-02-11,false,free\n3,sam@example.net,2026-02-28,true,free\n`,
    inferred: [{ name: "block-1.csv", required: ["id", "email", "signed_up", "active", "plan"] }],
    checks: [],
  },
  {
    title: "Event schema from JSON lines",
    description: `Our analytics events, one per line. Design a schema for the event stream.\n\n\`\`\`jsonl\n{"event":"page_view","at":"2026-05-01T10:00:00Z","user":42,"props":{"path":"/"}}\n{"event":"click","at":"2026-05-01T10:00:03Z","user":42,"props":{"target":"buy"}}\n{"event":"page_view","at":"2026-05-01T10:01:00Z","user":null}\n\`\`\``,
    inferred: [
      { name: "block-1.jsonl", required: ["event", "at", "user"], notRequired: ["props"] },
    ],
    checks: [],
  },
  {
    title: "Fix our GraphQL schema",
    description: `Our GraphQL SDL fails to build and we can't see why. Can you fix the schema design?\n\n\`\`\`graphql\ntype Query {\n  booking(id: ID!): Booking\n  bookings(first: Int): [Booking!]!\n}\n\ntype Booking {\n  id: ID!\n  guest: Guest!\n  nights: Int!\n}\n\`\`\``,
    inferred: [],
    checks: [{ name: "block-1.graphql", kind: "graphql", ok: false }],
  },
  {
    title: "Review our OpenAPI spec for the bookings REST API",
    description: `Here is the current OpenAPI 3.1 spec; please extend it with pagination.\n\n\`\`\`yaml\nopenapi: 3.1.0\ninfo:\n  title: Bookings\n  version: "1.0"\npaths:\n  /bookings:\n    get:\n      operationId: listBookings\n      responses:\n        "200":\n          description: The bookings\n          content:\n            application/json:\n              schema:\n                type: array\n                items:\n                  $ref: "#/components/schemas/Booking"\ncomponents:\n  schemas:\n    Booking:\n      type: object\n      required: [id]\n      properties:\n        id:\n          type: string\n\`\`\``,
    inferred: [],
    checks: [{ name: "block-1.yaml", kind: "openapi", ok: true }],
  },
  {
    title: "MySQL DDL review for the inventory database schema",
    description: `Does this parse? We're on MySQL 8.\n\n\`\`\`sql\nCREATE TABLE items (\n  id INT AUTO_INCREMENT PRIMARY KEY,\n  sku VARCHAR(32) NOT NULL UNIQUE,\n  qty INT NOT NULL DEFAULT 0\n) ENGINE=InnoDB;\n\`\`\``,
    inferred: [],
    checks: [{ name: "block-1.sql", kind: "sql", ok: true }],
  },
];

/** A broken OpenAPI document an LLM might produce (a $ref to nothing), and its repair. */
export const BROKEN_OPENAPI = `openapi: 3.1.0
info:
  title: Bookings
  version: "1.0"
paths:
  /bookings:
    get:
      operationId: listBookings
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/BookingPage"
`;

export const FIXED_OPENAPI = `${BROKEN_OPENAPI}components:
  schemas:
    BookingPage:
      type: object
      properties:
        items:
          type: array
          items:
            type: object
        next_cursor:
          type: string
`;

export const BROKEN_DDL =
  "CREATE TABLE bookings (\n  id BIGSERIAL PRIMARY KEY,\n  starts_at TIMESTAMPTZ NOT NULL,,\n);";
