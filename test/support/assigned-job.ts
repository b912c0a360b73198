import {
  type Api,
  newWallet,
  obj,
  placeBidOk,
  postJob,
  registerAgent,
} from "./marketplace-requests.ts";

/** A job assigned to a fresh agent over raw HTTP: registered, posted, bid on and selected. */
export async function assignedJob(
  a: Api,
  options: {
    price?: number;
    budget?: number;
    title?: string;
    description?: string;
    deadlineMinutes?: number;
  } = {},
): Promise<{ jobId: string; agentId: string; bidId: string; wallet: string }> {
  const wallet = newWallet();
  const agentId = await registerAgent(a, { wallet_address: wallet });
  const jobId = await postJob(a, {
    budget_usd: options.budget ?? 5,
    ...(options.title ? { title: options.title } : {}),
    ...(options.description ? { description: options.description } : {}),
    ...(options.deadlineMinutes === undefined ? {} : { deadline_minutes: options.deadlineMinutes }),
  });
  const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: options.price ?? 2 });
  const selected = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
  if (selected.status !== 200) throw new Error(`select: ${selected.status} ${selected.text}`);
  return { jobId, agentId, bidId, wallet };
}

/** A document fetched with GET, as an object. */
export async function getDoc(a: Api, path: string): Promise<Record<string, unknown>> {
  const res = await a.req("GET", path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
  return obj(res.json);
}
