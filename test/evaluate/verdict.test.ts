import { describe, expect, it } from "vitest";
import { evaluateRun, p50Rise } from "../../src/evaluate/verdict.js";
import type { TimelineEntry } from "../../src/metrics/result.js";
import { latency, measuredRun } from "../helpers/measured-run.js";

const run = measuredRun;

const levelOf = (verdict: ReturnType<typeof evaluateRun>, name: string) =>
  verdict.checks.find((c) => c.name === name)?.level;

describe("evaluateRun: the spec's Target / Degraded / Critical table", () => {
  it("a healthy run is target with no warnings", () => {
    const verdict = evaluateRun(run(), true);
    expect(verdict.level).toBe("target");
    expect(verdict.warnings).toEqual([]);
  });

  it.each([
    [2.9, "target"],
    [3, "degraded"],
    [5, "degraded"],
    [5.01, "critical"],
  ])("P50 %d ms is %s", (p50, level) => {
    expect(levelOf(evaluateRun(run({ latencyMs: latency(p50, 9, 20) }), true), "latency_p50_ms")).toBe(level);
  });

  it.each([
    [9.9, "target"],
    [10, "degraded"],
    [20, "degraded"],
    [21, "critical"],
  ])("P95 %d ms is %s", (p95, level) => {
    expect(levelOf(evaluateRun(run({ latencyMs: latency(1, p95, 24) }), true), "latency_p95_ms")).toBe(level);
  });

  it.each([
    [24.9, "target"],
    [25, "degraded"],
    [50, "degraded"],
    [51, "critical"],
  ])("P99 %d ms is %s", (p99, level) => {
    expect(levelOf(evaluateRun(run({ latencyMs: latency(1, 2, p99) }), true), "latency_p99_ms")).toBe(level);
  });

  it.each([
    [0, 0, "target"],
    [1, 1000, "degraded"],
    [1, 999, "critical"],
  ])("error rate %d/%d is %s", (errors, completed, level) => {
    const requests = {
      sent: completed,
      total: completed,
      success: completed - errors - 100,
      blocked: 100,
      error: errors,
      dropped: 0,
      unexpected: 0,
    };
    expect(levelOf(evaluateRun(run({ requests }), true), "error_rate")).toBe(level);
  });

  it("throughput is judged against the asked rate", () => {
    expect(
      levelOf(
        evaluateRun(
          run({ rate: { targetPerSec: 100, achievedPerSec: 96, sentPerSec: 100, closedLoop: false } }),
          true,
        ),
        "throughput_ratio",
      ),
    ).toBe("target");
    expect(
      levelOf(
        evaluateRun(
          run({ rate: { targetPerSec: 100, achievedPerSec: 60, sentPerSec: 100, closedLoop: false } }),
          true,
        ),
        "throughput_ratio",
      ),
    ).toBe("degraded");
    expect(
      levelOf(
        evaluateRun(
          run({ rate: { targetPerSec: 100, achievedPerSec: 40, sentPerSec: 100, closedLoop: false } }),
          true,
        ),
        "throughput_ratio",
      ),
    ).toBe("critical");
  });

  it("a closed loop (--rps max) asks no rate: its throughput is the result, judged target", () => {
    const verdict = evaluateRun(
      run({ rate: { targetPerSec: 0, achievedPerSec: 41_234.5, sentPerSec: 41_240, closedLoop: true } }),
      true,
    );
    const check = verdict.checks.find((c) => c.name === "throughput_ratio")!;
    expect(check.level).toBe("target");
    expect(check.message).toBe("Throughput: 41234.5 req/s (closed loop, no asked rate)");
  });

  it("a missed block on security or policy cases is critical; a false positive on normal is degraded", () => {
    const missed = run();
    missed.categories.security = { ...missed.categories.security!, correctness: 0.99 };
    expect(evaluateRun(missed, true).level).toBe("critical");
    const falsePositive = run();
    falsePositive.categories.normal = { ...falsePositive.categories.normal!, correctness: 0.99 };
    expect(evaluateRun(falsePositive, true).level).toBe("degraded");
  });

  it("blocked rate 0% with a mix that must block: critical and the spec's warning", () => {
    const allowAll = run({
      requests: { sent: 1000, total: 1000, success: 1000, blocked: 0, error: 0, dropped: 0, unexpected: 200 },
    });
    const verdict = evaluateRun(allowAll, true);
    expect(levelOf(verdict, "blocked_rate")).toBe("critical");
    expect(verdict.warnings).toContain("Blocked Rate 0%: policy might not be active");
    // A normal-only run expects no blocks: no block-rate check at all.
    expect(levelOf(evaluateRun(allowAll, false), "blocked_rate")).toBeUndefined();
  });

  it("no request completed, none failed: the error rate is n/a, not 100%, and the run is critical", () => {
    const verdict = evaluateRun(
      run({
        rate: { targetPerSec: 10, achievedPerSec: 0, sentPerSec: 10, closedLoop: false },
        requests: { sent: 10, total: 0, success: 0, blocked: 0, error: 0, dropped: 10, unexpected: 0 },
        categories: {},
      }),
      true,
    );
    const errorRate = verdict.checks.find((check) => check.name === "error_rate");
    expect(errorRate).toMatchObject({ level: "critical", value: null });
    expect(errorRate?.message).toBe("Error Rate: n/a, no request completed (10 dropped)");
    expect(JSON.stringify(verdict)).not.toContain("100%");
    expect(verdict.level).toBe("critical");
  });

  it("warns when the generator could not keep the schedule", () => {
    const verdict = evaluateRun(
      run({
        generator: {
          eventLoopDelayMs: { p50: 8, p99: 30, max: 40 },
          ownSendLagMs: { p50: 0.5, p99: 1.2, max: 3 },
          maxInFlight: 3,
          workers: 10,
          threads: 1,
          pacing: "precise",
          trustworthy: false,
        },
      }),
      true,
    );
    expect(verdict.warnings.some((w) => w.includes("not trustworthy"))).toBe(true);
  });
});

describe("p50Rise: the spec's 'P50 increasing' warning sign", () => {
  const timeline = (p50s: number[]): TimelineEntry[] =>
    p50s.map((p50, t) => ({
      t,
      sent: 10,
      completed: 10,
      success: 10,
      blocked: 0,
      error: 0,
      latencyMs: { p50, p95: p50, p99: p50 },
    }));

  it("fires when the last third's median P50 is well above the first third's", () => {
    expect(p50Rise({ timeline: timeline([9, 1, 1, 1, 2, 2, 2, 4, 4, 4]) })).toEqual({ fromMs: 1, toMs: 4 });
  });

  it("stays quiet on flat, noisy or short runs", () => {
    expect(p50Rise({ timeline: timeline([1, 1, 1.2, 0.9, 1.1, 1, 1.3, 1, 1.1, 1]) })).toBeUndefined();
    expect(p50Rise({ timeline: timeline([0.2, 0.2, 0.2, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9]) })).toBeUndefined(); // < 1 ms absolute
    expect(p50Rise({ timeline: timeline([1, 1, 5, 5]) })).toBeUndefined();
  });
});

describe("capacity per node (--nodes)", () => {
  const closedLoop = (achievedPerSec: number, nodes?: number) =>
    run({
      rate: {
        targetPerSec: 0,
        achievedPerSec,
        sentPerSec: achievedPerSec,
        closedLoop: true,
        ...(nodes === undefined ? {} : { nodes }),
      },
    });

  it("a closed loop is judged by the methodology's throughput row, per node", () => {
    const check = evaluateRun(closedLoop(3000, 2), true).checks.find(
      (c) => c.name === "throughput_per_node",
    )!;
    expect(check).toEqual({
      name: "throughput_per_node",
      level: "target",
      value: 1500,
      expected: "> 1,000 req/s per node target, 500–1,000 degraded, < 500 critical",
      message: "Capacity: 1500 req/s per node (3000 req/s over 2 nodes), closed loop",
    });
    expect(evaluateRun(closedLoop(3000, 4), true).level).toBe("degraded");
    expect(evaluateRun(closedLoop(3000, 8), true).level).toBe("critical");
  });

  it("a results file without nodes (written before --nodes) reads as one node", () => {
    const check = evaluateRun(closedLoop(800), true).checks.find((c) => c.name === "throughput_per_node")!;
    expect(check.level).toBe("degraded");
    expect(check.message).toBe("Capacity: 800 req/s per node, closed loop");
  });

  it("a fixed rate is judged by achieved ÷ asked, with the rate per node beside it", () => {
    const verdict = evaluateRun(
      run({ rate: { targetPerSec: 200, achievedPerSec: 200, sentPerSec: 200, closedLoop: false, nodes: 2 } }),
      true,
    );
    expect(verdict.checks.some((c) => c.name === "throughput_per_node")).toBe(false);
    expect(verdict.checks.find((c) => c.name === "throughput_ratio")?.message).toBe(
      "Throughput: 200 req/s of 200 asked (100%), 100 req/s per node (200 req/s over 2 nodes)",
    );
  });
});
