import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";

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

/**
 * Every chart on the page drew: the page counted a uPlot per figure (`data-charts-drawn`), and
 * each figure's canvas has painted pixels. Returns how many charts there are.
 */
export async function expectChartsDrawn(page: Page): Promise<number> {
  const figures = await page.locator("figure.chart").count();
  expect(figures).toBeGreaterThan(0);
  expect(Number(await page.getAttribute("body", "data-charts-drawn"))).toBe(figures);
  const painted = await page.evaluate(() =>
    [...document.querySelectorAll("figure.chart")].map((figure) => {
      const canvas = figure.querySelector("canvas");
      if (!canvas || canvas.width === 0) return 0;
      const pixels = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let k = 3; pixels && k < pixels.length; k += 4) if ((pixels[k] as number) > 0) count++;
      return count;
    }),
  );
  expect(
    painted.every((count) => count > 100),
    `painted pixels per chart: ${painted.join(", ")}`,
  ).toBe(true);
  return figures;
}
