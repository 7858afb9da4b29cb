import type { Histogram } from "hdr-histogram-js";
import {
  expressionOf,
  METRICS,
  selectorOf,
  type Operator,
  type Threshold,
  type ThresholdLevel,
} from "../config/thresholds.js";
import type { LatencySummaryMs, Level, VerdictCheck } from "../metrics/result.js";
import type { MeasuredRun } from "./verdict.js";

/**
 * One latency distribution as thresholds read it: any percentile (`p(97.5)`), not only the ones
 * the results file keeps. Values in ms. `percentile` returns NaN when this view cannot answer
 * (a summary read back from a results file only knows p50/p90/p95/p99/p99.9).
 */
export interface HistogramView {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  percentile(p: number): number;
}

export interface CategoryInputs {
  latencyMs: HistogramView;
  success: number;
  blocked: number;
  error: number;
  /** Matched ÷ completed; null when none completed. */
  correctness: number | null;
}

/** Everything thresholds can read: the measured part of a run, overall and per category. */
export interface ThresholdInputs {
  latencyMs: HistogramView;
  serviceTimeMs: HistogramView;
  sendLagMs: HistogramView;
  requests: { success: number; blocked: number; error: number; dropped: number };
  correctness: number | null;
  achievedPerSec: number;
  /** Gateway nodes serving the target (`--nodes`); undefined: 1. */
  nodes?: number;
  /** The asked rate (for stages: the plan's mean, N(elapsed) ÷ elapsed). */
  targetPerSec: number;
  /** Keyed by category name; a category missing here was not part of the run. */
  categories: Readonly<Record<string, CategoryInputs>>;
}

export interface ThresholdResult {
  threshold: Threshold;
  level: ThresholdLevel;
  passed: boolean;
  /** The measured value in the metric's unit; null when there was nothing to measure. */
  observed: number | null;
  /** True when the threshold's category was not part of this run (passed, not evaluated). */
  skipped: boolean;
  message: string;
}

const compare = (observed: number, operator: Operator, bound: number): boolean => {
  switch (operator) {
    case "<":
      return observed < bound;
    case "<=":
      return observed <= bound;
    case ">":
      return observed > bound;
    case ">=":
      return observed >= bound;
    case "==":
      return observed === bound;
    case "!=":
      return observed !== bound;
  }
};

const fmt = (value: number): string => String(Number(value.toPrecision(6)));

interface Observation {
  value: number | null;
  /** Why value is null. */
  missing?: string;
}

function observeTrend(threshold: Threshold, view: HistogramView, scope: string): Observation {
  if (threshold.aggregation === "count") return { value: view.count };
  if (view.count === 0) return { value: null, missing: `no completed requests${scope}` };
  const p =
    threshold.aggregation === "med" ? 50 : threshold.aggregation === "p" ? threshold.percentile : undefined;
  const value =
    p !== undefined
      ? view.percentile(p)
      : threshold.aggregation === "avg"
        ? view.mean
        : threshold.aggregation === "min"
          ? view.min
          : threshold.aggregation === "max"
            ? view.max
            : Number.NaN;
  if (Number.isFinite(value)) return { value };
  const what = p !== undefined ? `p(${p})` : threshold.aggregation;
  return { value: null, missing: `${what} is not available from these measurements` };
}

function observe(threshold: Threshold, inputs: ThresholdInputs): Observation {
  const scope = threshold.category === undefined ? "" : ` in category ${threshold.category}`;
  const category = threshold.category === undefined ? undefined : inputs.categories[threshold.category];
  const counts = category ?? inputs.requests;
  const completed = counts.success + counts.blocked + counts.error;
  switch (threshold.metric) {
    case "latency":
      return observeTrend(threshold, category ? category.latencyMs : inputs.latencyMs, scope);
    case "service_time":
      return observeTrend(threshold, inputs.serviceTimeMs, scope);
    case "send_lag":
      return observeTrend(threshold, inputs.sendLagMs, scope);
    case "error_rate": {
      if (threshold.aggregation === "count") return { value: counts.error };
      if (completed > 0) return { value: counts.error / completed };
      // Nothing completed (every request dropped): no rate, and the threshold fails as evaluateRun's check.
      return { value: null, missing: `no completed requests${scope}` };
    }
    case "block_rate":
      if (threshold.aggregation === "count") return { value: counts.blocked };
      return completed > 0
        ? { value: counts.blocked / completed }
        : { value: null, missing: `no completed requests${scope}` };
    case "correctness": {
      const value = category ? category.correctness : inputs.correctness;
      return value === null ? { value: null, missing: `no completed requests${scope}` } : { value };
    }
    case "achieved_rate":
      return { value: inputs.achievedPerSec };
    case "rate_per_node":
      return { value: inputs.achievedPerSec / (inputs.nodes ?? 1) };
    case "rate_ratio":
      // As evaluateRun: nothing asked means nothing missed.
      return { value: inputs.targetPerSec > 0 ? inputs.achievedPerSec / inputs.targetPerSec : 1 };
  }
}

/**
 * Evaluates each threshold against the measurements.
 *
 * - A threshold whose `{category:…}` was not part of this run (not in its mix), or that had no
 *   completed request in it, is **skipped**: passed, observed null, `skipped: true`. This is
 *   what evaluateRun does with per-category correctness, and it keeps short runs honest: with
 *   an 8:1:1 mix a 5-request run may never reach the policy category. The profile loader
 *   rejects category names that exist nowhere, so a typo cannot be skipped silently.
 * - A whole-run threshold with nothing to measure (no completed request at all) **fails** with
 *   observed null: a gate that passes when nothing was measured would turn a dead target
 *   green. (k6 passes thresholds on metrics without samples; we do not.)
 * - `count` never lacks data: it is 0.
 */
export function evaluateThresholds(
  thresholds: readonly Threshold[],
  inputs: ThresholdInputs,
): ThresholdResult[] {
  return thresholds.map((threshold) => {
    const name = `${selectorOf(threshold)} ${expressionOf(threshold)}`;
    const levelNote = threshold.level === "degraded" ? " (degraded bound: beyond it is critical)" : "";
    if (threshold.category !== undefined) {
      const category = inputs.categories[threshold.category];
      const why =
        category === undefined
          ? `category ${threshold.category} is not part of this run`
          : category.success + category.blocked + category.error === 0 && threshold.aggregation !== "count"
            ? `no completed requests in category ${threshold.category}`
            : undefined;
      if (why !== undefined) {
        return {
          threshold,
          level: threshold.level,
          passed: true,
          observed: null,
          skipped: true,
          message: `${name}: skipped, ${why}`,
        };
      }
    }
    const observation = observe(threshold, inputs);
    if (observation.value === null) {
      return {
        threshold,
        level: threshold.level,
        passed: false,
        observed: null,
        skipped: false,
        message: `${name}: failed, nothing to measure (${observation.missing})${levelNote}`,
      };
    }
    const passed = compare(observation.value, threshold.operator, threshold.bound);
    const unit = METRICS[threshold.metric].unit;
    const shown = `${fmt(observation.value)}${unit === "" ? "" : ` ${unit}`}`;
    return {
      threshold,
      level: threshold.level,
      passed,
      observed: observation.value,
      skipped: false,
      message: passed
        ? `${name}: passed (${shown})`
        : `${name}: failed (${shown}, must be ${threshold.operator} ${threshold.bound})${levelNote}`,
    };
  });
}

/** The level a failed threshold gives the run: failing a target bound is degraded, failing a degraded bound is critical. */
export function failureLevel(level: ThresholdLevel): Level {
  return level === "target" ? "degraded" : "critical";
}

/** The run's level from its threshold results: the worst failure, or target. */
export function thresholdsLevel(results: readonly ThresholdResult[]): Level {
  let level: Level = "target";
  for (const result of results) {
    if (result.passed) continue;
    if (result.level === "degraded") return "critical";
    level = "degraded";
  }
  return level;
}

/**
 * Threshold results as the verdict's checks (results JSON `verdict.checks`): skipped thresholds
 * are left out, as evaluateRun leaves out categories the run did not send.
 */
export function thresholdChecks(results: readonly ThresholdResult[]): VerdictCheck[] {
  return results
    .filter((result) => !result.skipped)
    .map((result) => ({
      name: `threshold ${selectorOf(result.threshold)} ${expressionOf(result.threshold)}`,
      level: result.passed ? "target" : failureLevel(result.level),
      value: result.observed,
      expected: `${expressionOf(result.threshold)} (${result.level})`,
      message: result.message,
    }));
}

/**
 * k6's abortOnFail: the failed thresholds that should stop the run now, at `elapsedMs` of the
 * measured run (not before their delayAbortEval). The engine evaluates thresholds on its live
 * snapshot about once a second and stops the run when this is non-empty.
 */
export function thresholdsToAbort(results: readonly ThresholdResult[], elapsedMs: number): ThresholdResult[] {
  return results.filter(
    (result) =>
      !result.passed && result.threshold.abortOnFail && elapsedMs >= result.threshold.delayAbortEvalMs,
  );
}

/** Rounds to µs as src/metrics/histogram.ts summarizeMs does, so thresholds and reports agree. */
const usToMs = (valueUs: number): number => Math.round(valueUs) / 1000;

/** A live HDR histogram (µs unit, src/metrics/histogram.ts) as a HistogramView in ms. */
export function histogramView(histogram: Histogram): HistogramView {
  return {
    get count() {
      return histogram.totalCount;
    },
    get min() {
      return histogram.totalCount === 0 ? 0 : usToMs(histogram.minNonZeroValue);
    },
    get max() {
      return usToMs(histogram.maxValue);
    },
    get mean() {
      return histogram.totalCount === 0 ? 0 : usToMs(histogram.mean);
    },
    percentile: (p: number) =>
      histogram.totalCount === 0 ? Number.NaN : usToMs(histogram.getValueAtPercentile(p)),
  };
}

/** Percentiles a summary keeps (src/metrics/result.ts LatencySummaryMs). */
const SUMMARY_PERCENTILES: ReadonlyArray<[number, keyof LatencySummaryMs]> = [
  [0, "min"],
  [50, "p50"],
  [90, "p90"],
  [95, "p95"],
  [99, "p99"],
  [99.9, "p999"],
  [100, "max"],
];

/** A distribution that was not measured (e.g. a results file without it). */
function unavailableView(count: number): HistogramView {
  return { count, min: Number.NaN, max: Number.NaN, mean: Number.NaN, percentile: () => Number.NaN };
}

/** A stored summary as a HistogramView: exact for the percentiles it keeps, NaN for others. */
export function summaryView(summary: LatencySummaryMs, count: number): HistogramView {
  return {
    count,
    min: summary.min,
    max: summary.max,
    mean: summary.mean,
    percentile: (p: number) => {
      const known = SUMMARY_PERCENTILES.find(([percentile]) => percentile === p);
      return known ? summary[known[1]] : Number.NaN;
    },
  };
}

/**
 * Threshold inputs from a run's measured fields (a live RunResult or one loaded from a results
 * file): lets thresholds be re-evaluated offline, limited to the percentiles the file keeps.
 * The engine should prefer live histograms (histogramView) so any p(x) can be asked for.
 */
export function thresholdInputsFromRun(
  run: Pick<MeasuredRun, "latencyMs" | "sendLagMs" | "rate" | "requests" | "categories"> & {
    serviceTimeMs?: LatencySummaryMs;
    correctness?: number | null;
  },
): ThresholdInputs {
  const completed = run.requests.success + run.requests.blocked + run.requests.error;
  const categories: Record<string, CategoryInputs> = {};
  let matched = 0;
  for (const [name, category] of Object.entries(run.categories)) {
    const categoryCompleted = category.success + category.blocked + category.error;
    categories[name] = {
      latencyMs: summaryView(category.latencyMs, categoryCompleted),
      success: category.success,
      blocked: category.blocked,
      error: category.error,
      correctness: category.correctness,
    };
    matched += (category.correctness ?? 0) * categoryCompleted;
  }
  const correctness =
    run.correctness !== undefined ? run.correctness : completed === 0 ? null : matched / completed;
  return {
    latencyMs: summaryView(run.latencyMs, completed),
    serviceTimeMs: run.serviceTimeMs ? summaryView(run.serviceTimeMs, completed) : unavailableView(completed),
    sendLagMs: summaryView(run.sendLagMs, completed),
    requests: {
      success: run.requests.success,
      blocked: run.requests.blocked,
      error: run.requests.error,
      dropped: run.requests.dropped,
    },
    correctness,
    achievedPerSec: run.rate.achievedPerSec,
    nodes: run.rate.nodes ?? 1,
    targetPerSec: run.rate.targetPerSec,
    categories,
  };
}
