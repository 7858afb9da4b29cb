#!/usr/bin/env node
// The HTML report's size and speed (docs/BENCHMARKS.md "HTML report"): a benchmark, not a test.
//
//   node bench/html-report.mjs [--minutes 60] [--keep DIR]
//
// A real run (10 s, 200 req/s, the reference gateway on loopback, `--out`) gives a results file;
// its timeline is then repeated to the asked length (one entry per second, as a run of that
// length records), which is the only part of a result that grows with the duration (the
// histograms have a fixed size). The script renders the report as `load-test report` does,
// prints its size and render time, and opens it in Debian's chromium (playwright-core) to time
// the page from navigation to the last chart drawn.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { URL, pathToFileURL, fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const minutes = Number(option("--minutes", "60"));
const dir = option("--keep", mkdtempSync(join(tmpdir(), "load-test-html-bench-")));

const { startGateway } = await import(`${root}dist/gateway/gateway.js`);
const { parseResults } = await import(`${root}dist/metrics/results-file.js`);
const { htmlReport } = await import(`${root}dist/report/html/report.js`);
const { chromium } = await import("playwright-core");

const gateway = await startGateway({ host: "127.0.0.1", port: 0, llmLatencyMs: { min: 1, max: 5 } });
const out = join(dir, "short.json");
const run = spawnSync(
  process.execPath,
  [
    `${root}dist/cli/bin.js`,
    "--target",
    gateway.url,
    "--rps",
    "200",
    "--duration",
    "10s",
    "--out",
    out,
    "--quiet",
  ],
  { encoding: "utf8" },
);
await gateway.close();
if (run.status !== 0 && run.status !== 3) {
  process.stderr.write(run.stderr);
  process.exit(1);
}
const short = JSON.parse(readFileSync(out, "utf8"));
const seconds = minutes * 60;
const whole = short.timeline.filter((entry) => entry.t + 1 <= short.durationSec);
const long = {
  ...short,
  durationSec: seconds,
  timeline: Array.from({ length: seconds }, (_, t) => ({ ...whole[t % whole.length], t })),
};
const longFile = join(dir, `${minutes}min.json`);
writeFileSync(longFile, JSON.stringify(long));

const renderStart = performance.now();
const html = htmlReport(parseResults(readFileSync(longFile, "utf8"), longFile));
const renderMs = performance.now() - renderStart;
const htmlFile = join(dir, `${minutes}min.html`);
writeFileSync(htmlFile, html);

const profile = mkdtempSync(join(tmpdir(), "load-test-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
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
const drawnMs = [];
for (let k = 0; k < 5; k++) {
  const page = await browser.newPage();
  await page.goto(pathToFileURL(htmlFile).href);
  await page.waitForSelector("body[data-drawn-at-ms]");
  drawnMs.push(Number(await page.getAttribute("body", "data-drawn-at-ms")));
  await page.close();
}
await browser.close();
drawnMs.sort((a, b) => a - b);
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(2);
console.log(
  JSON.stringify(
    {
      minutes,
      resultsFileMiB: Number(mib(Buffer.byteLength(JSON.stringify(long)))),
      reportMiB: Number(mib(Buffer.byteLength(html))),
      renderInNodeMs: Math.round(renderMs),
      chromiumDrawnMs: { min: drawnMs[0], median: drawnMs[2], max: drawnMs[4] },
      files: dir,
    },
    null,
    2,
  ),
);
