/**
 * Run by regex-budget.test.ts in a child Node under a backtrack budget: every extractor
 * on every adversarial input (`corpus`), or the replaced patterns on them (`replaced`),
 * each input about `chars` long. It prints nothing itself: V8 prints what it condemns.
 */
import { CORPUS, EXTRACTORS } from "./hostile-text.ts";
import { REPLACED_PATTERNS } from "./replaced-patterns.ts";

const [mode, chars] = process.argv.slice(2);
const length = Number(chars);
const inputs = Object.values(CORPUS).map((unit) => unit.repeat(Math.ceil(length / unit.length)));

if (mode === "corpus") {
  for (const extract of Object.values(EXTRACTORS)) for (const input of inputs) extract(input);
} else if (mode === "replaced") {
  for (const pattern of Object.values(REPLACED_PATTERNS)) {
    const global = pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
    for (const input of inputs) [...input.matchAll(global)];
  }
} else {
  throw new Error(`regex-budget-child: unknown mode ${mode}`);
}
