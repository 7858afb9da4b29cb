import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hdr from "hdr-histogram-js";
import type { RunResult } from "../../src/metrics/result.js";
import { decodeRuns, loadResultsFile } from "../../src/metrics/results-file.js";
import { HTTP_SERVER_KINDS, startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { afterStderr, runCli } from "../helpers/cli.js";

// Against both HTTP servers the gateway can sit on (node:http and the lean one).
describe.each(HTTP_SERVER_KINDS)("%s HTTP server", (httpServer) => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ llmLatencyMs: { min: 5, max: 15 }, httpServer });
  });
  afterAll(async () => {
    await gateway.close();
  });

  async function runCategory(
    category: string,
    extra: string[] = [],
  ): Promise<{ code: number | null; result: RunResult; stdout: string }> {
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
    const cli = await runCli(
      [
        "--target",
        gateway.url,
        "--rps",
        "50",
        "--duration",
        "2s",
        "--category",
        category,
        "--api-key",
        "ci-org",
        "--out",
        out,
        "--quiet",
        ...extra,
      ],
      { timeoutMs: 30_000 },
    );
    return {
      code: cli.code,
      result: JSON.parse(await readFile(out, "utf8")) as RunResult,
      stdout: cli.stdout,
    };
  }

  describe("the core CLI against the reference policy gateway", () => {
    it.each([
      ["normal", { success: 100, blocked: 0 }],
      ["security", { success: 0, blocked: 100 }],
      ["policy", { success: 0, blocked: 100 }],
      ["llm", { success: 100, blocked: 0 }],
    ])("category %s: every request judged correctly (100%% correctness)", async (category, expected) => {
      const { result } = await runCategory(category);
      expect(result.requests.total).toBe(100);
      expect(result.requests.success).toBe(expected.success);
      expect(result.requests.blocked).toBe(expected.blocked);
      expect(result.requests.error).toBe(0);
      expect(result.correctness).toBe(1);
      expect(result.categories[category]?.correctness).toBe(1);
      expect(Object.keys(result.categories)).toEqual([category]);
      const failedChecks = result.verdict.checks.filter(
        (check) => check.name.startsWith("correctness") && check.level !== "target",
      );
      expect(failedChecks).toEqual([]);
    });

    it("llm requests carry the mock provider's latency", async () => {
      const { result } = await runCategory("llm");
      expect(result.latencyMs.min).toBeGreaterThanOrEqual(5);
    });

    it("mixed: ~20% blocked, 100% correct, block rate check passes", async () => {
      const { result, stdout } = await runCategory("mixed");
      expect(result.requests.blocked).toBe(20);
      expect(result.correctness).toBe(1);
      expect(result.verdict.checks.find((check) => check.name === "blocked_rate")?.level).toBe("target");
      expect(stdout).toContain("✅ Blocked Rate: 20%");
      expect(stdout).toContain("✅ Correctness (security): 100%");
    });

    it("without the API key (--api-key '') the gateway answers 401: every request is an error", async () => {
      const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
      const cli = await runCli([
        "--api-key",
        "",
        "--target",
        gateway.url,
        "--rps",
        "20",
        "--duration",
        "1s",
        "--out",
        out,
        "--quiet",
      ]);
      expect(cli.code).toBe(3);
      const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
      expect(result.errors).toEqual({ http_401: 20 });
      expect(result.correctness).toBe(0);
    });
  });

  describe("load-test ladder", () => {
    it("runs one step per rate against the reference gateway and prints the Baseline Results table", async () => {
      const dir = await mkdtemp(join(tmpdir(), "load-test-"));
      const cli = await runCli(
        [
        "ladder", "--target", gateway.url, "--api-key", "k", "--rates", "10,30,60", "--step", "1s", "--pause", "0s",
        "--category", "mixed", "--out", join(dir, "ladder.json"), "--markdown", join(dir, "table.md"),
        "--hdr-log", join(dir, "ladder.hlog"),
      ], // prettier-ignore
        { timeoutMs: 60_000 },
      );
      // 3 only if even the first step were critical: on a busy machine 10 samples can carry a cold-start outlier.
      expect([0, 3]).toContain(cli.code);
      const table = await readFile(join(dir, "table.md"), "utf8");
      const rows = table.trim().split("\n");
      expect(rows[0]).toBe(
        "| RPS | P50 | P95 | P99 | Error Rate | Achieved | Correctness | Verdict | Notes |",
      );
      expect(rows.slice(2).map((row) => row.split("|")[1]?.trim())).toEqual(["10", "30", "60"]);
      expect(rows[2]).toContain("Warmup");
      expect(cli.stdout).toContain(table.trim());
      const ladder = JSON.parse(await readFile(join(dir, "ladder.json"), "utf8")) as {
        steps: Array<{ ratePerSec: number; result: RunResult }>;
      };
      expect(ladder.steps.map((step) => step.result.requests.total)).toEqual([10, 30, 60]);
      for (const step of ladder.steps) expect(step.result.correctness).toBe(1);
      // Each step's result holds its histograms; one interval log holds every step's seconds.
      const runs = decodeRuns(await loadResultsFile(join(dir, "ladder.json")));
      expect(runs.map((run) => run.histograms.latency.totalCount)).toEqual([10, 30, 60]);
      const reader = new hdr.HistogramLogReader(await readFile(join(dir, "ladder.hlog"), "utf8"));
      const intervals: hdr.Histogram[] = [];
      for (let next = reader.nextIntervalHistogram(); next; next = reader.nextIntervalHistogram())
        if (next.tag === "NO TAG") intervals.push(next);
      const seconds = ladder.steps.map((step) => step.result.timeline.length);
      expect(intervals).toHaveLength(seconds[0]! + seconds[1]! + seconds[2]!);
      let first = 0;
      for (const [index, step] of ladder.steps.entries()) {
        const own = intervals.slice(first, first + seconds[index]!);
        expect(own.map((interval) => interval.totalCount)).toEqual(
          step.result.timeline.map((entry) => entry.completed),
        );
        first += seconds[index]!;
      }
      // One time axis: the steps' seconds follow each other.
      const starts = intervals.map((interval) => interval.startTimeStampMsec);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    });

    it("rejects bad rates with one line naming --rates", async () => {
      const cli = await runCli(["ladder", "--target", gateway.url, "--rates", "10,zero"]);
      expect(cli.code).toBe(2);
      expect(cli.stderr).toContain("--rates");
    });
  });
});

describe("load-test demo", () => {
  it("starts the gateway, runs the start-small steps with verdicts and the table, and stops the gateway", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "demo.json");
    const cli = await runCli(
      ["demo", "--rates", "20,40", "--step", "2s", "--pause", "0s", "--warmup", "1s", "--out", out],
      {
        timeoutMs: 60_000,
      },
    );
    expect([0, 3]).toContain(cli.code);
    const pid = Number(/reference gateway \(pid (\d+)\)/.exec(cli.stderr)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
    expect(cli.stdout).toContain("Results Interpretation");
    expect(cli.stdout).toContain("| RPS | P50 | P95 | P99 | Error Rate |");
    const demo = JSON.parse(await readFile(out, "utf8")) as {
      steps: Array<{ ratePerSec: number; result: RunResult }>;
    };
    expect(demo.steps.map((step) => step.result.requests.total)).toEqual([40, 80]);
    for (const step of demo.steps) {
      expect(step.result.correctness).toBe(1);
      expect(step.result.requests.blocked / step.result.requests.total).toBeCloseTo(0.2, 5);
    }
  });

  it("Ctrl-C during the demo still prints results and stops the gateway", async () => {
    const cli = await runCli(["demo", "--rates", "50", "--step", "60s", "--warmup", "0s"], {
      timeoutMs: 30_000,
      onSpawn: (child) => afterStderr(child, "req/s for", () => setTimeout(() => child.kill("SIGINT"), 1500)),
    });
    const pid = Number(/reference gateway \(pid (\d+)\)/.exec(cli.stderr)?.[1]);
    expect(cli.code).toBe(130);
    expect(cli.stdout).toContain("(INTERRUPTED)");
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  it("rejects bad demo input before starting anything", async () => {
    const cli = await runCli(["demo", "--rates", "0"]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("--rates");
    expect(cli.stderr).not.toContain("reference gateway");
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
