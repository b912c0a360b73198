import { z } from "zod";
import { CounterOfferSchema } from "./schemas.ts";

/**
 * Shapes of negotiation and payment answers that only the client reads (marketplace-api.md,
 * negotiation). Sign-in is in src/contract/auth.ts; sign-off and approvals, which the
 * marketplace answers by the same shapes, in src/contract/responses.ts.
 */

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

/** The amount of a transaction, under either name the service may use. */
export const transactionAmount = (t: Transaction): number => t.amount_usd ?? t.amount ?? 0;
/** The wallet a transaction paid, under either name. */
export const transactionPayee = (t: Transaction): string | undefined =>
  t.payee_wallet ?? t.payee ?? undefined;
