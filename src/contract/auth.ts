import { z } from "zod";

/**
 * Wallet sign-in (marketplace-api.md, "Identity"): what is signed, how long a challenge
 * and a session last, and the answers of the challenge, verify and me routes.
 */

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
