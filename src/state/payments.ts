import { z } from "zod";
import { InvalidArgumentError } from "../errors.ts";
import { checkName } from "./common.ts";
import type { PaymentRecord } from "./types.ts";

/** A payment as it is written and read back: storage is a boundary like any other. */
export const paymentSchema = z.object({
  jobId: z.string().min(1),
  agentId: z.string().min(1),
  amountUsd: z.number().finite().nonnegative(),
  outcome: z.enum(["released", "partial", "refunded", "unpaid"]),
  qualityScore: z.number().finite().nullable(),
  recordedAt: z.string().optional(),
});

/** Copies a payment to exactly the PaymentRecord fields, checked; `recordedAt` is the ledger's. */
export function cleanPayment(payment: PaymentRecord): Omit<PaymentRecord, "recordedAt"> {
  const { recordedAt: _ignored, ...clean } = paymentSchema.parse(payment);
  return clean;
}

/** A `total_earned_usd` to remember: a finite, non-negative number. */
export function checkEarned(agentId: string, usd: number): void {
  checkName("agentId", agentId);
  if (!Number.isFinite(usd) || usd < 0)
    throw new InvalidArgumentError(
      "ledger: total_earned_usd must be a finite, non-negative number",
    );
}
