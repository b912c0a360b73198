import type { Ledger } from "../../src/state/types.ts";

/**
 * The ledger with some of its methods replaced (to count calls, or fail them), the rest
 * its own. A spread (`{ ...ledger }`) copies no method of a class-built backend; here the
 * others are called on the ledger itself, so a class's private fields stay reachable.
 */
export function ledgerWith(ledger: Ledger, overrides: Partial<Ledger>): Ledger {
  return new Proxy(ledger, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof Ledger];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
