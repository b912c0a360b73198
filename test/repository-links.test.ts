import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * No file of the repository may point outside it: a clone has nothing next to it, so a
 * link to a folder beside the clone is a dead link for every user. Checks every tracked text file
 * (Markdown links and any relative path in source, comments included).
 */
const ROOT = resolve(import.meta.dirname, "..");

/** A relative path that climbs (two dots, then perhaps more segments), not preceded by a path character. */
const CLIMBING = /(?<![\w.\-/])\.\.(?!\.)(?:\/\.\.)*(?:\/[^\s"'`)\]>|,;]*)?/g;
/** file: URLs always point at one machine's disk. */
const FILE_URL = /\bfile:\/\/\/[^\s"'`)\]>]+/g;

interface Escape {
  file: string;
  line: number;
  target: string;
}

/** Every place in `text` (the file `file`, relative to `root`) that points outside `root`. */
function escapes(root: string, file: string, text: string): Escape[] {
  const found: Escape[] = [];
  const base = dirname(join(root, file));
  text.split("\n").forEach((content, index) => {
    for (const match of content.matchAll(CLIMBING)) {
      const target = match[0];
      const resolved = relative(root, resolve(base, target));
      if (resolved.startsWith("..") || isAbsolute(resolved))
        found.push({ file, line: index + 1, target });
    }
    for (const match of content.matchAll(FILE_URL))
      found.push({ file, line: index + 1, target: match[0] });
  });
  return found;
}

/** Tracked files (git), or every file but dependencies and outputs when there is no git. */
function trackedFiles(): string[] {
  try {
    return execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
      .split("\0")
      .filter(Boolean);
  } catch {
    const skip = new Set([".git", "node_modules", "test-results", ".bazaar-runner"]);
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
        if (skip.has(entry.name)) return [];
        const path = dir ? `${dir}/${entry.name}` : entry.name;
        return entry.isDirectory() ? walk(path) : [path];
      });
    return walk("");
  }
}

function readText(file: string): string | undefined {
  const path = join(ROOT, file);
  // Deleted in the work tree but still tracked, or too big to be hand-written text.
  try {
    if (statSync(path).size > 2_000_000) return undefined;
  } catch {
    return undefined;
  }
  const bytes = readFileSync(path);
  return bytes.includes(0) ? undefined : bytes.toString("utf8");
}

/** The examples below climb out of the repository themselves: built, so this file stays clean. */
const UP = [".", "."].join("");

describe("the repository is self-contained", () => {
  it("finds a link that climbs out, and accepts ones that stay inside", () => {
    expect(escapes(ROOT, "README.md", `[API](${UP}/shared/marketplace-api.md)`)).toEqual([
      { file: "README.md", line: 1, target: `${UP}/shared/marketplace-api.md` },
    ]);
    expect(escapes(ROOT, "docs/a.md", `x\nsee [it](${UP}/${UP}/other/b.md)`)).toHaveLength(1);
    expect(
      escapes(ROOT, "src/a.ts", `load("${["file:", "", "", "etc/passwd"].join("/")}")`),
    ).toHaveLength(1);
    expect(escapes(ROOT, "docs/a.md", "[readme](../README.md)")).toEqual([]);
    expect(
      escapes(ROOT, "test/x/y.test.ts", `join(import.meta.dirname, "${UP}/${UP}/src/a.ts")`),
    ).toEqual([]);
    expect(escapes(ROOT, "src/a.ts", "const range = a...b; x..y; [...list]")).toEqual([]);
  });

  it("no tracked file points outside the repository", () => {
    const files = trackedFiles();
    expect(files).toContain("README.md");
    const found = files.flatMap((file) => {
      if (file === "package-lock.json") return [];
      const text = readText(file);
      return text === undefined ? [] : escapes(ROOT, file, text);
    });
    expect(found.map((e) => `${e.file}:${e.line}: ${e.target}`)).toEqual([]);
  });
});
