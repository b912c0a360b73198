import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium; `scripts/ensure-chromium.sh` installs it (npm test runs it first). */
export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

/** A suite name that says why the suite is skipped when Chromium is missing. */
export function browserSuiteName(name: string): string {
  return hasChromium
    ? name
    : `${name} (skipped: ${CHROMIUM} missing; run scripts/ensure-chromium.sh as root)`;
}

/**
 * Headless Chromium as this machine allows it: no sandbox (root), and no background
 * networking, whose connections the closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
