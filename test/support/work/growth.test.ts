import { describe, expect, it } from "vitest";
import { readsByBuiltIn } from "./built-in-reads.ts";
import { FACTOR, growthRatio, LIMIT, workOf } from "./growth.ts";

/** The measure itself: linear code passes, and each kind of quadratic code fails it. */

const text = (n: number) => "ab ".repeat(n);

function linearScan(s: string): number {
  let spaces = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 32) spaces++;
  return spaces;
}

function nestedLoops(s: string): number {
  let pairs = 0;
  for (let i = 0; i < s.length; i++)
    for (let j = i + 1; j < s.length; j++) if (s[i] === s[j]) pairs++;
  return pairs;
}

function slicePerPosition(s: string): number {
  let found = 0;
  for (let i = 0; i < s.length; i++) if (s.slice(i).startsWith("ab")) found++;
  return found;
}

function searchFromStartEachTime(s: string): number {
  let found = 0;
  for (let i = 0; i < s.length; i += 3) if (s.indexOf("x") < 0) found++;
  return found;
}

function regexFromEachPosition(s: string): number {
  const missing = /x/g;
  let tries = 0;
  for (let i = 0; i < s.length; i += 3) {
    missing.lastIndex = i;
    if (!missing.test(s)) tries++;
  }
  return tries;
}

function stickyAtEachPosition(s: string): number {
  const word = /ab/y;
  let words = 0;
  for (let i = 0; i < s.length; i++) {
    word.lastIndex = i;
    if (word.test(s)) words++;
  }
  return words;
}

describe("the work a function does, and how it grows", () => {
  it("is the same count on every call", () => {
    expect(workOf(slicePerPosition, text(100))).toBe(workOf(slicePerPosition, text(100)));
  });

  it.each([
    ["a scan of each character", linearScan],
    [
      "a sticky expression tried at each position (each failed try reads one)",
      stickyAtEachPosition,
    ],
  ])("passes %s", (_name, f) => {
    const ratio = growthRatio(f, text(100), text(100 * FACTOR));
    expect(ratio).toBeGreaterThan(FACTOR / 2);
    expect(ratio).toBeLessThan(LIMIT);
  });

  it.each([
    ["nested loops", nestedLoops, undefined],
    ["a slice at each position", slicePerPosition, "String.slice"],
    ["a search from the start at each step", searchFromStartEachTime, "String.indexOf"],
    ["a global search from each position", regexFromEachPosition, "/x/g.test"],
  ])("fails %s", (_name, f, builtIn) => {
    expect(growthRatio(f, text(100), text(100 * FACTOR))).toBeGreaterThan(LIMIT);
    if (builtIn) expect(readsByBuiltIn()[0]?.[0]).toBe(builtIn);
  });
});
