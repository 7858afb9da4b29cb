import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterEach, describe, expect, it } from "vitest";
import * as hdr from "hdr-histogram-js";
import type { RunResult } from "../../src/metrics/result.js";
import { decodeRuns, loadResultsFile } from "../../src/metrics/results-file.js";
import { afterStderr, runCli } from "../helpers/cli.js";
import { allowEverything, delayed, startLocalServer, type LocalServer } from "../helpers/servers.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function validator() {
  const schema = JSON.parse(
    await readFile(new URL("../../docs/results.schema.json", import.meta.url), "utf8"),
  ) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

/** An interval log's intervals of one tag ("NO TAG": all responses), as hdr-histogram-js's own reader sees them. */
function readIntervals(text: string, tag = "NO TAG"): hdr.Histogram[] {
  const reader = new hdr.HistogramLogReader(text);
  const intervals: hdr.Histogram[] = [];
  for (let histogram = reader.nextIntervalHistogram(); histogram; histogram = reader.nextIntervalHistogram())
    if (histogram.tag === tag) intervals.push(histogram);
  return intervals;
}

/** A percentile read from a decoded histogram (µs) against the results' figure (ms), within the HDR's 0.1%. */
function expectWithinResolution(histogram: hdr.Histogram, percentile: number, fileMs: number): void {
  const decodedMs = histogram.getValueAtPercentile(percentile) / 1000;
  expect(Math.abs(decodedMs - fileMs), `p${percentile}: ${decodedMs} ms vs ${fileMs} ms`).toBeLessThanOrEqual(
    Math.max(fileMs * 0.001, 0.001),
  );
}

describe("results JSON (--out) contract", () => {
  it("validates against docs/results.schema.json and keeps its invariants", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "nested", "results.json");
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "50",
      "--duration",
      "2s",
      "--out",
      out,
      "--quiet",
    ]);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    const validate = await validator();
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
    // An allow-everything target answering the mixed category: security and policy probes went through.
    expect(cli.code).toBe(3);
    const { requests } = result;
    expect(requests.total).toBe(requests.success + requests.blocked + requests.error);
    expect(requests.total).toBe(100);
    expect(result.categories.normal?.requests).toBe(80);
    expect(result.categories.security?.requests).toBe(10);
    expect(result.categories.policy?.requests).toBe(10);
    expect(result.categories.security?.correctness).toBe(0);
    expect(result.categories.normal?.correctness).toBe(1);
    expect(requests.unexpected).toBe(20);
    expect(result.correctness).toBeCloseTo(0.8, 10);
    expect(result.verdict.level).toBe("critical");
    expect(result.verdict.warnings).toContain("Blocked Rate 0%: policy might not be active");
    expect(result.timeline.reduce((sum, entry) => sum + entry.completed, 0)).toBe(100);
    expect(result.timeline.reduce((sum, entry) => sum + entry.sent, 0)).toBe(100);
    expect(cli.stdout).toContain("Results Interpretation: CRITICAL");
    expect(cli.stdout).toContain("❌ Correctness (security): 0%");
  });

  it("holds the run's HDR histograms, and --hdr-log writes one interval per second that HistogramLogReader reads", async () => {
    const server = await startLocalServer(delayed((index) => (index % 10 === 0 ? 15 : 1)));
    servers.push(server);
    const dir = await mkdtemp(join(tmpdir(), "load-test-"));
    const out = join(dir, "results.json");
    const log = join(dir, "logs", "latency.hlog");
    // Two threads: the coordinator merges their per-second histograms before logging them.
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "200",
      "--duration",
      "3s",
      "--threads",
      "2",
      "--out",
      out,
      "--hdr-log",
      log,
      "--quiet",
    ]);
    expect(cli.stderr).toContain(`histogram log written to ${log}`);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    const validate = await validator();
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
    expect(result.requests.total).toBe(600);

    // The results file alone: its histograms decode to the summary's counts and percentiles.
    const [run] = decodeRuns(await loadResultsFile(out));
    const histograms = run!.histograms;
    expect(histograms.latency.totalCount).toBe(result.requests.total);
    expect(histograms.serviceTime.totalCount).toBe(result.requests.total);
    expect(histograms.sendLag.totalCount).toBe(result.requests.sent);
    for (const [percentile, key] of [
      [50, "p50"],
      [95, "p95"],
      [99, "p99"],
    ] as const) {
      expectWithinResolution(histograms.latency, percentile, result.latencyMs[key]);
      expectWithinResolution(histograms.serviceTime, percentile, result.serviceTimeMs[key]);
      expectWithinResolution(histograms.sendLag, percentile, result.sendLagMs[key]);
    }
    // 1 in 10 answers takes 15 ms: p95 and p99 are in that tail, p50 is not.
    expect(result.latencyMs.p99).toBeGreaterThanOrEqual(15);
    expect(result.latencyMs.p50).toBeLessThan(15);
    expect(Object.keys(histograms.latencyByCategory).sort()).toEqual(Object.keys(result.categories).sort());
    for (const [name, category] of Object.entries(result.categories)) {
      const histogram = histograms.latencyByCategory[name] as hdr.Histogram;
      expect(histogram.totalCount).toBe(category.requests);
      expectWithinResolution(histogram, 50, category.latencyMs.p50);
      expectWithinResolution(histogram, 99, category.latencyMs.p99);
    }

    // The interval log: one interval per timeline second, each with that second's completions.
    const logText = await readFile(log, "utf8");
    const intervals = readIntervals(logText);
    expect(intervals).toHaveLength(result.timeline.length);
    expect(intervals.map((interval) => interval.totalCount)).toEqual(
      result.timeline.map((entry) => entry.completed),
    );
    const base = intervals[0]!.startTimeStampMsec;
    expect(intervals.map((interval) => (interval.startTimeStampMsec - base) / 1000)).toEqual(
      result.timeline.map((entry) => entry.t),
    );
    expect(Math.abs(base - Date.parse(result.startedAt))).toBeLessThan(1000);
    // Summed, the seconds are the run's histogram, bucket for bucket.
    const total = hdr.build({ numberOfSignificantValueDigits: 3, bitBucketSize: 32, useWebAssembly: false });
    for (const interval of intervals) total.add(interval);
    expect(total.totalCount).toBe(result.requests.total);
    for (const percentile of [50, 95, 99, 100])
      expect(total.getValueAtPercentile(percentile)).toBe(
        histograms.latency.getValueAtPercentile(percentile),
      );
    // A tagged line per category and second: each category's seconds add up to its histogram.
    expect(hdr.listTags(logText).sort()).toEqual(["NO TAG", ...Object.keys(result.categories)].sort());
    for (const [name, category] of Object.entries(result.categories)) {
      const tagged = readIntervals(logText, name);
      expect(tagged).toHaveLength(result.timeline.length);
      expect(tagged.reduce((sum, interval) => sum + interval.totalCount, 0)).toBe(category.requests);
    }
  });

  it("Ctrl-C stops sending, waits for requests in flight, prints the summary and writes results marked interrupted", async () => {
    const server = await startLocalServer(delayed(() => 20));
    servers.push(server);
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
    const cli = await runCli(
      ["--target", server.url, "--rps", "50", "--duration", "60s", "--category", "normal", "--out", out],
      {
        timeoutMs: 20_000,
        // Progress lines are printed every 5 s without a TTY; the start line tells the run began.
        onSpawn: (child) =>
          afterStderr(child, "req/s for", () => setTimeout(() => child.kill("SIGINT"), 5600)),
      },
    );
    expect(cli.code).toBe(130);
    expect(cli.stderr).toContain("interrupted");
    // Without a TTY, a plain progress line every 5 s: elapsed/total, rate, percentiles, outcomes, correctness.
    expect(cli.stderr).toMatch(
      /\[5s\/60s\] [\d.]+ req\/s \| p50 [\d.]+ms p95 [\d.]+ms p99 [\d.]+ms \| ok \d+ blocked 0 err 0 .*correct 100%/,
    );
    expect(cli.stdout).toContain("(INTERRUPTED)");
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.interrupted).toBe(true);
    expect(result.durationSec).toBeLessThan(12);
    // Everything the server answered was measured: requests in flight at Ctrl-C were awaited.
    expect(result.requests.total).toBe(server.arrivalsMs.length);
    expect(result.requests.total).toBeGreaterThan(200);
    expect(result.verdict.warnings).toContain("Run interrupted: results cover only the part that ran");
    const validate = await validator();
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
  });

  it("SIGTERM behaves like Ctrl-C", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const dir = await mkdtemp(join(tmpdir(), "load-test-"));
    const out = join(dir, "results.json");
    const log = join(dir, "latency.hlog");
    const args = ["--target", server.url, "--rps", "20", "--duration", "30s", "--out", out, "--hdr-log", log];
    const cli = await runCli(args, {
      timeoutMs: 20_000,
      onSpawn: (child) =>
        afterStderr(child, "req/s for", () => setTimeout(() => child.kill("SIGTERM"), 1500)),
    });
    expect(cli.code).toBe(130);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.interrupted).toBe(true);
    expect(result.requests.total).toBeGreaterThan(10);
    // The interval log is complete too: every completed request is in one of its seconds.
    const intervals = readIntervals(await readFile(log, "utf8"));
    expect(intervals).toHaveLength(result.timeline.length);
    expect(intervals.reduce((sum, interval) => sum + interval.totalCount, 0)).toBe(result.requests.total);
    expect(result.histograms?.latency).toMatch(/^HISTF/);
  });
});
