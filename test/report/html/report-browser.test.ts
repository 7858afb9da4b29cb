import { mkdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../../src/metrics/result.js";
import { afterStderr, runCli } from "../../helpers/cli.js";
import { expectChartsDrawn, launchChromium, watchPage, type BrowserSession } from "../../helpers/browser.js";
import { allowEverything, delayed, startLocalServer, type LocalServer } from "../../helpers/servers.js";

/**
 * The HTML report in a real browser (docs/REPORTS.md "Tests"): Debian's chromium through
 * playwright-core, offline flags, a fresh profile. Reports are made by the real CLI from real
 * runs against local servers. Screenshots go to $LOAD_TEST_ARTIFACTS (default a temp dir).
 */

const ARTIFACTS = process.env.LOAD_TEST_ARTIFACTS ?? join(tmpdir(), "load-test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

let session: BrowserSession;
let dir: string;
const servers: LocalServer[] = [];

beforeAll(async () => {
  session = await launchChromium();
  dir = await mkdtemp(join(tmpdir(), "load-test-html-"));
}, 60_000);

afterAll(async () => {
  await session?.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
}

/** Opens a report from file:// and waits until its script has drawn the charts. */
async function open(file: string): Promise<Opened> {
  const page = await session.browser.newPage();
  const watch = watchPage(page);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-charts-drawn]", { timeout: 15_000 });
  return { page, ...watch };
}

const text = async (page: Page, field: string): Promise<string> =>
  ((await page.locator(`[data-field="${field}"]`).first().textContent()) ?? "").trim();

describe("HTML report of a run (--html, load-test report)", () => {
  let result: RunResult;
  let htmlFile: string;
  let resultsFile: string;

  beforeAll(async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    resultsFile = join(dir, "run.json");
    htmlFile = join(dir, "run.html");
    const cli = await runCli([
      "--target",
      `${server.url.replace("http://", "http://user:secret-pass@")}`,
      "--api-key",
      "sk-test-never-shown",
      "--category",
      "normal",
      "--rps",
      "40",
      "--duration",
      "3s",
      "--label",
      "team=platform",
      "--out",
      resultsFile,
      "--html",
      htmlFile,
      "--quiet",
    ]);
    // 0 or, on a machine busy enough to push p50 past 3 ms, 3 (critical): the page shows either.
    expect([0, 3], cli.stderr).toContain(cli.code);
    expect(cli.stderr).toContain(`HTML report written to ${htmlFile}`);
    result = JSON.parse(await readFile(resultsFile, "utf8")) as RunResult;
  }, 60_000);

  it("loads from file:// with no console error and no request but itself; every chart draws", async () => {
    const { page, errors, requests } = await open(htmlFile);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(htmlFile).href]);
    const charts = await expectChartsDrawn(page);
    // rate, latency, outcomes, in flight; spectrum and per-category spectrum.
    expect(charts).toBe(6);
    // The four charts over time share one time axis: their plot areas line up exactly.
    const plots = await page.evaluate(() =>
      [...document.querySelectorAll('figure.chart[id^="run-chart-"]:not([id*="spectrum"]) .u-over')].map(
        (over) => {
          const box = over.getBoundingClientRect();
          return `${Math.round(box.left)}+${Math.round(box.width)}`;
        },
      ),
    );
    expect(plots).toHaveLength(4);
    expect(new Set(plots).size, plots.join(", ")).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, "report-run.png"), fullPage: true });
    await page.close();
  });

  it("shows the results file's numbers: percentiles, counts, verdict, labels; no credentials", async () => {
    const { page } = await open(htmlFile);
    for (const key of ["p50", "p95", "p99"] as const) {
      expect(await text(page, `latencyMs.${key}`)).toBe(String(result.latencyMs[key]));
      expect(await text(page, `categories.normal.latencyMs.${key}`)).toBe(
        String(result.categories.normal?.latencyMs[key]),
      );
    }
    for (const key of ["total", "success", "blocked", "error"] as const)
      expect(await text(page, `requests.${key}`)).toBe(String(result.requests[key]));
    expect(result.requests.total).toBeGreaterThan(100);
    expect(await text(page, "verdict.level")).toContain(result.verdict.level);
    const body = (await page.textContent("body")) ?? "";
    expect(body).toContain("team=platform");
    expect(body).toContain("Results Interpretation");
    await page.close();
    const html = await readFile(htmlFile, "utf8");
    expect(html).not.toContain("secret-pass");
    expect(html).not.toContain("sk-test-never-shown");
  });

  it("keeps its tables in the HTML itself, readable without JavaScript", async () => {
    const html = await readFile(htmlFile, "utf8");
    expect(html).toContain(`data-field="latencyMs.p99">${result.latencyMs.p99}</td>`);
    expect(html).toContain(`data-field="requests.total">${result.requests.total}</span>`);
    for (const check of result.verdict.checks) expect(html).toContain(check.message.replace(/&/g, "&amp;"));
  });

  it("prints: the page renders to a PDF", async () => {
    const { page } = await open(htmlFile);
    const pdf = await page.pdf({ format: "A4" });
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    await writeFile(join(ARTIFACTS, "report-run.pdf"), pdf);
    await page.close();
  });

  it("load-test report makes the same page from the results file", async () => {
    const out = join(dir, "from-file.html");
    const cli = await runCli(["report", resultsFile, "-o", out]);
    expect(cli.code, cli.stderr).toBe(0);
    // The run's own page carried its --label; without it the pages are the same.
    const fromRun = (await readFile(htmlFile, "utf8")).replace(/<dt>Labels<\/dt><dd>[^<]*<\/dd>/, "");
    expect(await readFile(out, "utf8")).toBe(fromRun);
  });
});

describe("HTML report of a ladder", () => {
  it("draws latency against the rate, marks saturation and holds the Baseline Results table", async () => {
    // Fast for the first step's requests, then 200 ms: every later step is critical.
    const server = await startLocalServer(delayed((index) => (index < 50 ? 0 : 200)));
    servers.push(server);
    const resultsFile = join(dir, "ladder.json");
    const htmlFile = join(dir, "ladder.html");
    const cli = await runCli(
      [
        "ladder",
        "--target",
        server.url,
        "--category",
        "normal",
        "--rates",
        "10,40,80",
        "--step",
        "2s",
        "--pause",
        "0s",
        "--out",
        resultsFile,
        "--html",
        htmlFile,
        "--quiet",
      ],
      { timeoutMs: 60_000 },
    );
    // 3 when a busy machine made even the first step critical (README "Exit codes").
    expect([0, 3], cli.stderr).toContain(cli.code);
    const ladder = JSON.parse(await readFile(resultsFile, "utf8")) as {
      saturatedAtPerSec: number | null;
      steps: Array<{ ratePerSec: number; result: RunResult }>;
    };
    // 40 unless a busy machine made the first step miss its target already.
    expect([10, 40]).toContain(ladder.saturatedAtPerSec);
    const saturation = String(ladder.saturatedAtPerSec);
    const { page, errors, requests } = await open(htmlFile);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(htmlFile).href]);
    await expectChartsDrawn(page);
    expect(await page.getAttribute('[data-field="saturatedAtPerSec"]', "data-value")).toBe(saturation);
    const marker = await page.evaluate(() => {
      const data = JSON.parse(document.getElementById("report-data")?.textContent ?? "{}") as {
        charts: Array<{ id: string; markers?: Array<{ x: number }> }>;
      };
      return data.charts.find((chart) => chart.id === "ladder-chart-latency")?.markers?.[0]?.x;
    });
    expect(marker).toBe(ladder.saturatedAtPerSec);
    for (const [index, step] of ladder.steps.entries()) {
      expect(await text(page, `steps.${index}.ratePerSec`)).toBe(String(step.ratePerSec));
      expect(await text(page, `steps.${index}.latencyMs.p99`)).toBe(
        String(Number(step.result.latencyMs.p99.toFixed(3))),
      );
    }
    expect(await page.locator("table.baseline tbody tr").count()).toBe(3);
    await page.screenshot({ path: join(ARTIFACTS, "report-ladder.png"), fullPage: true });
    await page.close();
  }, 90_000);
});

describe("HTML report of a profile's phases and of an old results file", () => {
  it("gives each phase its own section", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const profile = join(dir, "phases.yaml");
    const htmlFile = join(dir, "phases.html");
    await writeFile(
      profile,
      [
        `target: ${server.url}`,
        "category: normal",
        "phases:",
        "  - { name: gentle, rps: 20, duration: 2s }",
        "  - { name: busier, rps: 60, duration: 2s }",
        "outputs:",
        `  html: ${htmlFile}`,
        "",
      ].join("\n"),
    );
    const cli = await runCli(["run", profile, "--quiet"], { timeoutMs: 60_000 });
    expect([0, 3], cli.stderr).toContain(cli.code);
    const { page, errors } = await open(htmlFile);
    expect(errors).toEqual([]);
    await expectChartsDrawn(page);
    const headings = await page.locator("section.depth-0 > h2").allTextContents();
    expect(headings).toEqual(["Phases", "Phase 1: gentle", "Phase 2: busier"]);
    await page.close();
  }, 60_000);

  it("turns a results file without histograms into a page that says the distribution is missing", async () => {
    const out = join(dir, "old.html");
    const cli = await runCli(["report", "test/fixtures/results-without-histograms.json", "-o", out]);
    expect(cli.code, cli.stderr).toBe(0);
    const { page, errors } = await open(out);
    expect(errors).toEqual([]);
    expect(await text(page, "no-histograms")).toContain("no histograms");
    await expectChartsDrawn(page);
    await page.close();
  });

  it("--html lost after the run: one line naming the flag, exit 5, --out still written", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const lost = join(dir, "lost-html");
    await mkdir(lost);
    const out = join(dir, "kept.json");
    const cli = await runCli(
      ["--target", server.url, "--category", "normal", "--rps", "10", "--duration", "2s"].concat([
        "--html",
        join(lost, "r.html"),
        "--out",
        out,
      ]),
      {
        timeoutMs: 30_000,
        // The path was fine when checked; once the run has started, its directory becomes a file.
        onSpawn: (child) =>
          afterStderr(child, "load-test: http", () => {
            void rm(lost, { recursive: true }).then(() => writeFile(lost, "not a directory"));
          }),
      },
    );
    expect(cli.stderr).toMatch(/load-test: error: --html .*r\.html: could not write the file: /);
    expect(cli.code).toBe(5);
    expect(JSON.parse(await readFile(out, "utf8"))).toMatchObject({ schemaVersion: 1 });
  });

  it("refuses a file that is not results with one line and exit 2", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{}");
    const cli = await runCli(["report", bad, "-o", join(dir, "bad.html")]);
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim()).toBe(`load-test: error: ${bad}: not a results file (no schemaVersion)`);
  });
});
