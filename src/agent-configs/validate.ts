import { type AgentConfig, AgentConfigSchema, type AgentSource } from "../agents/types.ts";
import type { ConfigIssue } from "./types.ts";

export interface ValidatedDocument {
  ok: true;
  config: AgentConfig;
}
export interface RejectedDocument {
  ok: false;
  issue: ConfigIssue;
}

/** Describes a document for logs: its _id and name where it has them. */
export function documentRef(doc: unknown, fallback: string): string {
  if (doc && typeof doc === "object") {
    const record = doc as Record<string, unknown>;
    const id = record._id === undefined ? undefined : String(record._id);
    const name = typeof record.name === "string" ? record.name : undefined;
    if (id && name) return `${id} (${name})`;
    if (id || name) return (id ?? name) as string;
  }
  return fallback;
}

/**
 * Validates one agent document. The issue message names the field and what is wrong,
 * e.g. `base_rate_usd: expected number, received string`.
 */
export function validateAgentDocument(
  doc: unknown,
  options: { source: AgentSource; ref: string; isKnownType: (agentType: string) => boolean },
): ValidatedDocument | RejectedDocument {
  const parsed = AgentConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((issue) => `${issue.path.join(".") || "document"}: ${issue.message}`)
      .join("; ");
    return { ok: false, issue: { source: options.source, ref: options.ref, message } };
  }
  if (!options.isKnownType(parsed.data.agent_type)) {
    return {
      ok: false,
      issue: {
        source: options.source,
        ref: options.ref,
        message: `agent_type: no executor is registered for "${parsed.data.agent_type}"`,
      },
    };
  }
  return { ok: true, config: parsed.data };
}
