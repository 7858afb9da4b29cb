import * as hdr from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_THRESHOLDS,
  defaultThresholds,
  parseCliThreshold,
  parseThreshold,
  type Threshold,
} from "../../src/config/thresholds.js";
import {
  evaluateThresholds,
  histogramView,
  summaryView,
  thresholdChecks,
  thresholdInputsFromRun,
  thresholdsLevel,
  thresholdsToAbort,
  type HistogramView,
  type ThresholdInputs,
} from "../../src/evaluate/thresholds.js";
import { evaluateRun, type MeasuredRun } from "../../src/evaluate/verdict.js";
import { category, latency, measuredRun } from "../helpers/measured-run.js";
import { createLatencyHistogram, recordMs } from "../../src/metrics/histogram.js";
import type { LatencySummaryMs } from "../../src/metrics/result.js";

/** A view with explicit percentiles (linear between the given points), for table tests. */
function view(points: Record<number, number>, count = 1000, mean = 2): HistogramView {
  const keys = Object.keys(points)
    .map(Number)
    .sort((a, b) => a - b);
  return {
    count,
    min: points[keys[0] as number] as number,
    max: points[keys[keys.length - 1] as number] as number,
    mean,
    percentile: (p) => {
      if (p in points) return points[p] as number;
      const above = keys.find((k) => k >= p) ?? (keys[keys.length - 1] as number);
      const below = [...keys].reverse().find((k) => k <= p) ?? (keys[0] as number);
      if (above === below) return points[above] as number;
      const fraction = (p - below) / (above - below);
      return (points[below] as number) + fraction * ((points[above] as number) - (points[below] as number));
    },
  };
}

function inputs(overrides: Partial<ThresholdInputs> = {}): ThresholdInputs {
  return {
    latencyMs: view({ 0: 0.5, 50: 2, 90: 4, 95: 5, 99: 9, 99.9: 15, 100: 30 }),
    serviceTimeMs: view({ 0: 0.4, 50: 1.8, 95: 4, 99: 8, 100: 25 }),
    sendLagMs: view({ 0: 0, 50: 0.1, 95: 0.4, 99: 1, 100: 3 }),
    requests: { success: 800, blocked: 200, error: 0, dropped: 0 },
    correctness: 1,
    achievedPerSec: 99,
    targetPerSec: 100,
    categories: {
      normal: {
        latencyMs: view({ 0: 0.5, 50: 2, 99: 8, 100: 20 }, 800),
        success: 800,
        blocked: 0,
        error: 0,
        correctness: 1,
      },
      security: {
        latencyMs: view({ 0: 0.5, 50: 1, 99: 12, 100: 30 }, 100),
        success: 0,
        blocked: 100,
        error: 0,
        correctness: 1,
      },
      policy: {
        latencyMs: view({ 0: 0.5, 50: 1, 99: 4, 100: 6 }, 100),
        success: 0,
        blocked: 100,
        error: 0,
        correctness: 1,
      },
    },
    ...overrides,
  };
}

const evalOne = (threshold: Threshold | string, measured = inputs()) => {
  const parsed = typeof threshold === "string" ? parseCliThreshold(threshold) : threshold;
  const [result] = evaluateThresholds([parsed], measured);
  if (!result) throw new Error("no result");
  return result;
};

describe("evaluateThresholds", () => {
  it.each<[string, number | null, boolean]>([
    // Boundaries: < excludes the bound, <= includes it.
    ["latency:p(95)<5", 5, false],
    ["latency:p(95)<=5", 5, true],
    ["latency:p(95)>5", 5, false],
    ["latency:p(95)>=5", 5, true],
    ["latency:p(95)==5", 5, true],
    ["latency:p(95)!=5", 5, false],
    ["latency:p(97)<10", 7, true], // any percentile, from the view's function
    ["latency:med<3", 2, true],
    ["latency:avg<1", 2, false],
    ["latency:min>=0.5", 0.5, true],
    ["latency:max<30", 30, false],
    ["latency:count>=1000", 1000, true],
    ["service_time:p(99)<10", 8, true],
    ["send_lag:p(99)<=1", 1, true],
    ["error_rate:rate==0", 0, true],
    ["error_rate:count<1", 0, true],
    ["errors:value<=0.001", 0, true],
    ["block_rate:rate>0.15", 0.2, true],
    ["block_rate:count==200", 200, true],
    ["correctness:rate==1", 1, true],
    ["achieved_rate:value>=100", 99, false],
    ["rate_ratio:value>=0.95", 0.99, true],
    // Tags select the category's own numbers.
    ["latency{category:security}:p(99)<10", 12, false],
    ["latency{category:policy}:p(99)<10", 4, true],
    ["block_rate{category:security}:rate==1", 1, true],
    ["error_rate{category:normal}:rate==0", 0, true],
    ["correctness{category:policy}:value>=0.99", 1, true],
  ])("%s -> observed %s, passed %s", (text, observed, passed) => {
    const result = evalOne(text);
    expect(result.observed).toBeCloseTo(observed as number, 12);
    expect(result.passed).toBe(passed);
    expect(result.skipped).toBe(false);
    expect(result.message).toContain(passed ? "passed" : "failed");
  });

  it("messages name the metric, the value with its unit and the bound", () => {
    expect(evalOne("latency:p(95)<5").message).toBe("latency p(95)<5: failed (5 ms, must be < 5)");
    expect(evalOne("latency:p(95)<=20@degraded", inputs({ latencyMs: view({ 95: 25 }) })).message).toBe(
      "latency p(95)<=20: failed (25 ms, must be <= 20) (degraded bound: beyond it is critical)",
    );
    expect(evalOne("achieved_rate:value>=90").message).toBe("achieved_rate value>=90: passed (99 req/s)");
  });

  it("a category not in the run, or with nothing completed in it, is skipped (passed, observed null)", () => {
    const result = evalOne("correctness{category:llm}:rate==1@degraded");
    expect(result).toMatchObject({ passed: true, skipped: true, observed: null });
    expect(result.message).toBe(
      "correctness{category:llm} rate==1: skipped, category llm is not part of this run",
    );
    expect(thresholdChecks([result])).toEqual([]);
    const quiet = inputs({
      categories: {
        policy: { latencyMs: view({ 50: 0 }, 0), success: 0, blocked: 0, error: 0, correctness: null },
      },
    });
    expect(evalOne("latency{category:policy}:p(99)<25", quiet)).toMatchObject({
      passed: true,
      skipped: true,
      message: "latency{category:policy} p(99)<25: skipped, no completed requests in category policy",
    });
    // count still applies: "at least 10 policy requests" fails on 0.
    expect(evalOne("latency{category:policy}:count>=10", quiet)).toMatchObject({
      passed: false,
      observed: 0,
    });
  });

  it("a whole-run threshold with nothing to measure fails with observed null and says why", () => {
    const empty = inputs({
      latencyMs: view({ 50: 0 }, 0),
      requests: { success: 0, blocked: 0, error: 0, dropped: 0 },
      correctness: null,
      categories: {},
    });
    const latency = evalOne("latency:p(95)<10", empty);
    expect(latency).toMatchObject({ passed: false, observed: null, skipped: false });
    expect(latency.message).toBe("latency p(95)<10: failed, nothing to measure (no completed requests)");
    expect(evalOne("correctness:rate==1", empty).message).toContain("nothing to measure");
    expect(evalOne("block_rate:rate>0", empty).observed).toBeNull();
    // count is never missing: zero requests is a count of 0.
    expect(evalOne("latency:count<1", empty)).toMatchObject({ passed: true, observed: 0 });
    // All due requests dropped: no rate to show (not 100% of nothing), and the threshold fails.
    const dropped = { ...empty, requests: { success: 0, blocked: 0, error: 0, dropped: 5 } };
    expect(evalOne("error_rate:rate<=0.001", dropped)).toMatchObject({ passed: false, observed: null });
  });

  it("a percentile a stored summary does not keep fails as not available", () => {
    const summary: LatencySummaryMs = { min: 1, mean: 2, p50: 2, p90: 3, p95: 4, p99: 5, p999: 6, max: 7 };
    const measured = inputs({ latencyMs: summaryView(summary, 10) });
    expect(evalOne("latency:p(99.9)<10", measured).observed).toBe(6);
    expect(evalOne("latency:p(97)<10", measured).message).toContain("p(97) is not available");
  });

  it("levels: a failed target threshold is degraded, a failed degraded threshold critical", () => {
    const thresholds = [
      parseCliThreshold("latency:p(95)<4"),
      parseCliThreshold("latency:p(95)<=20@degraded"),
    ];
    const results = evaluateThresholds(thresholds, inputs());
    expect(thresholdsLevel(results)).toBe("degraded");
    expect(thresholdChecks(results).map((check) => check.level)).toEqual(["degraded", "target"]);
    const worse = evaluateThresholds(thresholds, inputs({ latencyMs: view({ 95: 21 }) }));
    expect(thresholdsLevel(worse)).toBe("critical");
    expect(thresholdChecks(worse)[1]).toMatchObject({
      name: "threshold latency p(95)<=20",
      level: "critical",
      value: 21,
      expected: "p(95)<=20 (degraded)",
    });
    expect(thresholdsLevel(evaluateThresholds([parseCliThreshold("latency:p(95)<10")], inputs()))).toBe(
      "target",
    );
  });

  it("abortOnFail stops only failed thresholds, and not before delayAbortEval", () => {
    const abortLater = parseThreshold("latency", "p(99)<5", { abortOnFail: true, delayAbortEvalMs: 10_000 });
    const noAbort = parseThreshold("latency", "p(95)<1");
    const results = evaluateThresholds([abortLater, noAbort], inputs());
    expect(thresholdsToAbort(results, 9_999)).toEqual([]);
    expect(thresholdsToAbort(results, 10_000).map((result) => result.threshold)).toEqual([abortLater]);
  });

  it("histogramView reads a live HDR histogram in ms, rounded to µs like the summaries", () => {
    const histogram = createLatencyHistogram();
    for (let i = 1; i <= 1000; i++) recordMs(histogram, i / 100); // 0.01 .. 10 ms
    const live = histogramView(histogram);
    expect(live.count).toBe(1000);
    expect(live.min).toBe(0.01);
    expect(live.max).toBeCloseTo(10, 2);
    expect(live.percentile(50)).toBeCloseTo(5, 2);
    expect(live.percentile(97.5)).toBeCloseTo(9.75, 2);
    expect(evalOne("latency:p(97.5)<9.7", inputs({ latencyMs: live })).passed).toBe(false);
    const empty = histogramView(hdr.build());
    expect(empty.count).toBe(0);
    expect(Number.isNaN(empty.percentile(50))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// DEFAULT_THRESHOLDS must judge like evaluateRun (src/evaluate/verdict.ts), the spec's table.

const requests = (success: number, blocked: number, error: number, dropped = 0) => ({
  sent: success + blocked + error,
  total: success + blocked + error,
  success,
  blocked,
  error,
  dropped,
  unexpected: 0,
});

const SAMPLES: Array<[string, MeasuredRun, boolean]> = [
  ["healthy mixed run", measuredRun(), true],
  ...[2.9, 3, 5, 5.01].map((p50): [string, MeasuredRun, boolean] => [
    `P50 ${p50} ms`,
    measuredRun({ latencyMs: latency(p50, 9, 20) }),
    true,
  ]),
  ...[9.9, 10, 20, 21].map((p95): [string, MeasuredRun, boolean] => [
    `P95 ${p95} ms`,
    measuredRun({ latencyMs: latency(1, p95, 24) }),
    true,
  ]),
  ...[24.9, 25, 50, 51].map((p99): [string, MeasuredRun, boolean] => [
    `P99 ${p99} ms`,
    measuredRun({ latencyMs: latency(1, 2, p99) }),
    true,
  ]),
  ...[100, 95, 94.9, 50, 49.9, 0].map((achieved): [string, MeasuredRun, boolean] => [
    `throughput ${achieved} of 100 req/s`,
    measuredRun({
      rate: { targetPerSec: 100, achievedPerSec: achieved, sentPerSec: 100, closedLoop: false },
    }),
    true,
  ]),
  ["error rate 1/1000 (0.1%)", measuredRun({ requests: requests(699, 300, 1) }), true],
  ["error rate 1/999", measuredRun({ requests: requests(698, 300, 1) }), true],
  ["everything dropped", measuredRun({ requests: requests(0, 0, 0, 50) }), true],
  [
    "blocked rate 0% with a blocking mix (policy inactive)",
    measuredRun({ requests: requests(1000, 0, 0) }),
    true,
  ],
  [
    "blocked rate 0% on normal traffic",
    measuredRun({ requests: requests(1000, 0, 0), categories: { normal: category(1000, 1000, 0, 0, 1) } }),
    false,
  ],
  [
    "one security probe answered 200",
    measuredRun({
      categories: { normal: category(800, 800, 0, 0, 1), security: category(100, 1, 99, 0, 0.99) },
    }),
    true,
  ],
  [
    "normal correctness 96% (false positives)",
    measuredRun({ categories: { normal: category(800, 768, 32, 0, 0.96) } }),
    true,
  ],
  ["normal correctness 94%", measuredRun({ categories: { normal: category(800, 752, 48, 0, 0.94) } }), true],
  [
    "llm correctness 100%, a category with nothing completed",
    measuredRun({ categories: { llm: category(50, 50, 0, 0, 1), policy: category(0, 0, 0, 0, null) } }),
    true,
  ],
  [
    "several at once: degraded latency and a critical error rate",
    measuredRun({ latencyMs: latency(4, 15, 30), requests: requests(690, 300, 10) }),
    true,
  ],
];

describe("DEFAULT_THRESHOLDS judge like evaluateRun (the spec's Target / Degraded / Critical table)", () => {
  it.each(SAMPLES)("%s", (_name, run, expectsBlocks) => {
    const verdict = evaluateRun(run, expectsBlocks);
    const thresholds = expectsBlocks
      ? DEFAULT_THRESHOLDS
      : defaultThresholds({ categories: ["normal", "security", "policy", "llm"], expectsBlocks });
    const results = evaluateThresholds(thresholds, thresholdInputsFromRun(run));
    expect(thresholdsLevel(results)).toBe(verdict.level);
  });

  it("agree check by check, not only on the worst level", () => {
    for (const [, run, expectsBlocks] of SAMPLES) {
      if (run.requests.success + run.requests.blocked + run.requests.error === 0) continue;
      const verdict = evaluateRun(run, expectsBlocks);
      const results = evaluateThresholds(
        defaultThresholds({ categories: Object.keys(run.categories), expectsBlocks }),
        thresholdInputsFromRun(run),
      );
      const levelOf = (selector: (t: Threshold) => boolean) =>
        thresholdsLevel(results.filter((result) => selector(result.threshold)));
      const check = (name: string) => verdict.checks.find((c) => c.name === name)?.level;
      for (const p of [50, 95, 99]) {
        expect(levelOf((t) => t.metric === "latency" && t.percentile === p)).toBe(check(`latency_p${p}_ms`));
      }
      expect(levelOf((t) => t.metric === "rate_ratio")).toBe(check("throughput_ratio"));
      expect(levelOf((t) => t.metric === "error_rate")).toBe(check("error_rate"));
      if (expectsBlocks) expect(levelOf((t) => t.metric === "block_rate")).toBe(check("blocked_rate"));
      for (const [name, result] of Object.entries(run.categories)) {
        if (result.correctness === null) continue;
        expect(levelOf((t) => t.metric === "correctness" && t.category === name)).toBe(
          check(`correctness_${name}`),
        );
      }
    }
  });
});

describe("capacity per node (--rps max): the closed-loop defaults judge like evaluateRun", () => {
  const closedLoop = (achievedPerSec: number, nodes: number): MeasuredRun =>
    measuredRun({
      rate: { targetPerSec: 0, achievedPerSec, sentPerSec: achievedPerSec, closedLoop: true, nodes },
    });

  it.each([
    [1500, 1, "target"],
    [1000.1, 1, "target"],
    [1000, 1, "degraded"],
    [500, 1, "degraded"],
    [499.9, 1, "critical"],
    [2400, 2, "target"],
    [1500, 2, "degraded"],
    [1500, 4, "critical"],
  ] as const)("%d req/s over %d node(s): %s", (achieved, nodes, level) => {
    const run = closedLoop(achieved, nodes);
    const verdict = evaluateRun(run, true);
    expect(verdict.checks.find((check) => check.name === "throughput_per_node")?.level).toBe(level);
    const results = evaluateThresholds(
      defaultThresholds({ categories: Object.keys(run.categories), expectsBlocks: true, closedLoop: true }),
      thresholdInputsFromRun(run),
    );
    expect(thresholdsLevel(results.filter((result) => result.threshold.metric === "rate_per_node"))).toBe(
      level,
    );
    expect(thresholdsLevel(results)).toBe(verdict.level);
  });

  it("a fixed rate gets no capacity threshold: it shows whether the asked rate was held", () => {
    const thresholds = defaultThresholds({ categories: ["normal"], expectsBlocks: false });
    expect(thresholds.some((threshold) => threshold.metric === "rate_per_node")).toBe(false);
  });
});
