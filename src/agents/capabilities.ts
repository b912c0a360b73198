/**
 * An agent's score for a capability a job names. Own entries only: a job requiring
 * `constructor`, `toString` or `__proto__` would otherwise find the prototype's
 * function or object there, which no `?? 0` catches and which compares as no
 * shortfall (NaN < x is false), so every agent would seem to have it.
 */
export function capabilityScore(
  capabilities: Readonly<Record<string, number>>,
  name: string,
): number {
  if (!Object.hasOwn(capabilities, name)) return 0;
  const score = capabilities[name];
  return typeof score === "number" ? score : 0;
}
