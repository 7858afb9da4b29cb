/**
 * The Target section of the HTML report in a real browser (Debian's chromium, as
 * report-browser.test.ts): a real run against the reference gateway with `--monitor` on its
 * /metrics and `--monitor-log` on a file written during the run; the target's charts draw under
 * the latency charts, on their time axis.
 */
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../../../src/gateway/gateway.js";
import { expectChartsDrawn, launchChromium, watchPage, type BrowserSession } from "../../helpers/browser.js";
import { runCli } from "../../helpers/cli.js";

let session: BrowserSession;
let gateway: RunningGateway;
let dir: string;

beforeAll(async () => {
  session = await launchChromium();
  gateway = await startGateway();
  dir = await mkdtemp(join(tmpdir(), "load-test-html-monitor-"));
}, 60_000);

afterAll(async () => {
  await session?.close();
  await gateway?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("HTML report with --monitor", () => {
  it("draws the target's CPU, memory, event-loop lag, pool and log lines on the latency charts' time axis", async () => {
    const htmlFile = join(dir, "run.html");
    const log = join(dir, "app.log");
    await writeFile(log, "");
    const writer = setInterval(() => void appendFile(log, "ERROR something failed\n"), 500);
    let cli;
    try {
      cli = await runCli(
        [
          "--target",
          gateway.url,
          "--rps",
          "40",
          "--duration",
          "4s",
          "--warmup",
          "1s",
          "--monitor",
          `${gateway.url}/metrics`,
          "--monitor-log",
          log,
          "--html",
          htmlFile,
          "--quiet",
        ],
        { timeoutMs: 60_000 },
      );
    } finally {
      clearInterval(writer);
    }
    expect([0, 3], cli.stderr).toContain(cli.code);
    const page = await session.browser.newPage();
    const watch = watchPage(page);
    await page.goto(pathToFileURL(htmlFile).href);
    await page.waitForSelector("body[data-charts-drawn]", { timeout: 15_000 });
    expect(watch.errors).toEqual([]);
    expect(watch.requests).toEqual([pathToFileURL(htmlFile).href]);
    const sections = await page.evaluate(() =>
      [...document.querySelectorAll("section h2")].map((h) => h.textContent),
    );
    const overTime = sections.indexOf("Over time");
    expect(sections[overTime + 1]).toBe("Target");
    const target = page.locator("section", { has: page.locator("h2", { hasText: /^Target$/ }) }).first();
    const titles = await target.locator("figure.chart figcaption").allTextContents();
    expect(titles.map((title) => title.trim())).toEqual(
      expect.arrayContaining([
        expect.stringContaining("Target CPU"),
        expect.stringContaining("Target memory"),
        expect.stringContaining("Target event-loop lag"),
        expect.stringContaining("Target pools"),
        expect.stringContaining("Error log lines"),
      ]),
    );
    await expectChartsDrawn(page);
    await page.screenshot({
      path: join(process.env.LOAD_TEST_ARTIFACTS ?? dir, "report-monitor.png"),
      fullPage: true,
    });
    await page.close();
  }, 90_000);
});
