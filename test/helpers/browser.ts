import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/**
 * Debian's chromium driven by playwright-core (docs/REPORTS.md "Tests"): installed by
 * scripts/ensure-test-deps.sh, which `npm test` runs first. CHROMIUM_BIN overrides the path.
 */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

export interface BrowserSession {
  /** A persistent context on a fresh profile directory (playwright's way to pass --user-data-dir). */
  browser: BrowserContext;
  close(): Promise<void>;
}

/** A fresh headless Chromium with its own profile directory, offline by its flags. */
export async function launchChromium(): Promise<BrowserSession> {
  const userDataDir = mkdtempSync(join(tmpdir(), "load-test-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    viewport: { width: 1200, height: 900 },
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
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What a page did while it was open: console errors, page errors and every request it made. */
export interface PageWatch {
  errors: string[];
  requests: string[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { errors: [], requests: [] };
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      watch.errors.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => watch.errors.push(`pageerror: ${error.message}`));
  page.on("request", (request) => watch.requests.push(request.url()));
  return watch;
}
