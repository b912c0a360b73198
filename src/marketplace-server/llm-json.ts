/**
 * Reads an LLM's answer as JSON the way the service's `call_fireworks_json` (llm.py)
 * does: strip a Markdown fence, parse; else the first object (two levels of nesting at
 * most, as its pattern allows), else the first list; else an error object carrying the
 * start of the text. It never throws: an unreadable answer is still "a result".
 */

const OBJECT = /\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}/s;
const ARRAY = /\[[^[\]]*(?:\[[^[\]]*\][^[\]]*)*\]/s;

/** Appended to the system prompt, as llm.py does for every JSON call. */
export const JSON_ONLY = "\n\nRespond with valid JSON only. No markdown or explanation.";

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export function parseLlmJson(answer: string): unknown {
  let content = answer.trim();
  if (content.startsWith("```json")) content = content.slice(7);
  if (content.startsWith("```")) content = content.slice(3);
  if (content.endsWith("```")) content = content.slice(0, -3);
  content = content.trim();

  const direct = tryParse(content);
  if (direct.ok) return direct.value;
  for (const pattern of [OBJECT, ARRAY]) {
    const found = pattern.exec(content);
    if (found) {
      const parsed = tryParse(found[0]);
      if (parsed.ok) return parsed.value;
    }
  }
  return { error: "Failed to parse JSON", raw: content.slice(0, 500) };
}
