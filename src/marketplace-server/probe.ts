/**
 * Whether an AgentBazaar API answers at `url`: `GET /api/agents` gives JSON with an
 * `agents` list within about a second. Used to reuse a marketplace already running.
 */
export async function isAgentBazaar(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/api/agents`, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: "application/json" },
    });
    if (!res.ok) {
      await res.body?.cancel();
      return false;
    }
    const body: unknown = await res.json();
    return (
      typeof body === "object" &&
      body !== null &&
      Array.isArray((body as { agents?: unknown }).agents)
    );
  } catch {
    return false;
  }
}
