import { mkdtemp, readdir } from "node:fs/promises";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../helpers/cli.js";
import { expectChartsDrawn, launchChromium, watchPage, type BrowserSession } from "../../helpers/browser.js";
import { allowEverything, delayed, startLocalServer, type LocalServer } from "../../helpers/servers.js";

/**
 * `compare --html` and `history --html` in a real browser, with the report's checks
 * (report-browser.test.ts): from file://, no console error, no request but the page itself,
 * every chart drawn; the pages made by the real CLI from real runs against local servers.
 */

const ARTIFACTS = process.env.LOAD_TEST_ARTIFACTS ?? join(tmpdir(), "load-test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

let session: BrowserSession;
let dir: string;
const servers: LocalServer[] = [];

beforeAll(async () => {
  session = await launchChromium();
  dir = await mkdtemp(join(tmpdir(), "load-test-compare-html-"));
}, 60_000);

afterAll(async () => {
  await session?.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function open(file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await session.browser.newPage();
  const watch = watchPage(page);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-charts-drawn]", { timeout: 15_000 });
  return { page, ...watch };
}

const run = (url: string, out: string, extra: string[] = []) =>
  runCli(
    [
      ...["--target", url, "--category", "normal", "--rps", "100", "--duration", "2s", "--warmup", "1s"],
      ...["--quiet", "--out", out, ...extra],
    ],
    { timeoutMs: 30_000 },
  );

describe("compare --html and history --html in Chromium", () => {
  it("overlays both runs' spectra and time series; the slowed P50 row reads worse", async () => {
    const fast = await startLocalServer(allowEverything);
    // 20 ms: this test is about the page; test/cli/cli-compare.test.ts catches 5 ms.
    const slow = await startLocalServer(delayed(() => 20));
    servers.push(fast, slow);
    await run(fast.url, join(dir, "base.json"));
    await run(slow.url, join(dir, "slow.json"));
    const html = join(dir, "compare.html");
    const compared = await runCli([
      "compare",
      join(dir, "base.json"),
      join(dir, "slow.json"),
      "--html",
      html,
    ]);
    expect(compared.code, compared.stdout).toBe(3);
    expect(compared.stderr).toContain(`HTML report written to ${html}`);
    const { page, errors, requests } = await open(html);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(html).href]);
    // One section: the spectrum and the time series.
    expect(await expectChartsDrawn(page)).toBe(2);
    expect(await page.locator('[data-field="result"]').textContent()).toMatch(/^REGRESSION \(\d+\)$/);
    expect(await page.locator('tr[data-scope="all"][data-metric="P50"]').getAttribute("data-judgement")).toBe(
      "worse",
    );
    const legend = await page.locator("figure.chart").first().textContent();
    expect(legend).toContain("baseline");
    expect(legend).toContain("candidate");
    await page.screenshot({ path: join(ARTIFACTS, "compare.png"), fullPage: true });
    await page.close();
  }, 60_000);

  it("history --html: the runs and a trend chart per test", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const archive = join(dir, "archive");
    for (const name of ["h1", "h2", "h3"]) {
      const result = await run(server.url, join(dir, `${name}.json`), ["--archive", archive]);
      expect(result.stderr).toContain("archived to");
    }
    const html = join(dir, "history.html");
    const history = await runCli(["history", archive, "--html", html]);
    expect(history.code, history.stderr).toBe(0);
    const { page, errors, requests } = await open(html);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(html).href]);
    expect(await expectChartsDrawn(page)).toBe(1);
    const ids = await page
      .locator("tr[data-run-id]")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-run-id")));
    expect(ids).toEqual((await readdir(archive)).sort().reverse());
    await page.screenshot({ path: join(ARTIFACTS, "history.png"), fullPage: true });
    await page.close();
  }, 60_000);
});
