import { z } from "zod";
import { CounterOfferSchema } from "./schemas.ts";

/** Shapes of sign-in, negotiation and payment answers (marketplace-api.md, identity and negotiation). */

export const AUTH_DOMAIN = { name: "Open Agora", version: "1", chainId: 8453 } as const;
export const AUTH_STATEMENT = "Sign this message to authenticate with Open Agora marketplace.";
export const AUTH_TYPES = {
  AuthRequest: [
    { name: "wallet", type: "address" },
    { name: "nonce", type: "string" },
    { name: "statement", type: "string" },
  ],
} as const;
/** The plain message signed with `personal_sign` when typed data is not used. */
export const authMessage = (nonce: string): string =>
  `Sign this message to authenticate with Open Agora.\n\nNonce: ${nonce}`;
/** How long a session lasts on the service. */
export const SESSION_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** How long a challenge's nonce stays valid. */
export const CHALLENGE_LIFETIME_MS = 300 * 1000;

export const ChallengeResponseSchema = z.looseObject({
  wallet: z.string(),
  nonce: z.string().min(1),
  expires_at: z.string().nullish(),
  typed_data: z.unknown().optional(),
  message: z.string().nullish(),
});
export type ChallengeResponse = z.infer<typeof ChallengeResponseSchema>;

export const VerifyResponseSchema = z.looseObject({
  success: z.boolean().optional(),
  session_token: z.string().min(1),
  wallet: z.string().nullish(),
  agent_id: z.string().nullish(),
  message: z.string().nullish(),
});
export type VerifyResponse = z.infer<typeof VerifyResponseSchema>;

export const MeResponseSchema = z.looseObject({
  wallet: z.string(),
  agent_id: z.string().nullish(),
  expires_at: z.string().nullish(),
});

export const CounterResponseSchema = z.looseObject({
  bid_id: z.string(),
  status: z.string(),
  counter_offers: z.array(CounterOfferSchema).default([]),
  requires_approval: z.boolean().default(false),
});
export type CounterResponse = z.infer<typeof CounterResponseSchema>;

export const AcceptCounterResponseSchema = z.looseObject({
  bid_id: z.string(),
  status: z.string(),
  final_price: z.number().nullish(),
});

export const BidDecisionResponseSchema = z.looseObject({
  bid_id: z.string(),
  status: z.string(),
});

export const CompleteResponseSchema = z.looseObject({
  job_id: z.string(),
  quality_score: z.number().nullish(),
  quality_decision: z.string().nullish(),
  agreed_price: z.number().nullish(),
  payment_status: z.string(),
  amount_paid: z.number().nullish(),
  txn_id: z.string().nullish(),
});
export type CompleteResponse = z.infer<typeof CompleteResponseSchema>;

export const TransactionSchema = z.looseObject({
  txn_id: z.string(),
  job_id: z.string().nullish(),
  kind: z.string().nullish(),
  payer: z.string().nullish(),
  payee_wallet: z.string().nullish(),
  payee: z.string().nullish(),
  amount_usd: z.number().nullish(),
  amount: z.number().nullish(),
  status: z.string(),
  created_at: z.string().nullish(),
});
export type Transaction = z.infer<typeof TransactionSchema>;

export const PendingApprovalsSchema = z.looseObject({
  approvals: z.array(z.looseObject({ bid_id: z.string(), job_id: z.string() })).default([]),
});

/** The amount of a transaction, under either name the service may use. */
export const transactionAmount = (t: Transaction): number => t.amount_usd ?? t.amount ?? 0;
/** The wallet a transaction paid, under either name. */
export const transactionPayee = (t: Transaction): string | undefined =>
  t.payee_wallet ?? t.payee ?? undefined;
