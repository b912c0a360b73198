import type { LocalAccount } from "viem";
import { authMessage } from "../../src/contract/auth.ts";
import { authTypedData } from "../../src/marketplace-server/auth.ts";
import type { Api } from "./raw-http.ts";

/**
 * Signs in over raw HTTP (challenge, signature, verify), as any client of the real
 * service would, and returns the Authorization header of the session. `personal`
 * signs the plain message instead of the typed data.
 */
export async function signIn(
  a: Api,
  account: Pick<LocalAccount, "address" | "signMessage" | "signTypedData">,
  options: { personal?: boolean } = {},
): Promise<Record<string, string>> {
  const challenge = await a.req("GET", `/api/auth/challenge?wallet=${account.address}`);
  const nonce = (challenge.json as { nonce?: unknown } | null)?.nonce;
  if (typeof nonce !== "string")
    throw new Error(`challenge: ${challenge.status} ${challenge.text}`);
  const signature = options.personal
    ? await account.signMessage({ message: authMessage(nonce) })
    : await account.signTypedData(authTypedData(account.address.toLowerCase(), nonce));
  const res = await a.req("POST", "/api/auth/verify", {
    wallet: account.address,
    signature,
    nonce,
  });
  const token = (res.json as { session_token?: unknown } | null)?.session_token;
  if (res.status !== 200 || typeof token !== "string")
    throw new Error(`verify: ${res.status} ${res.text}`);
  return { authorization: `Bearer ${token}` };
}
