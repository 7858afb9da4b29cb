/**
 * The methodology's target table (docs/METHODOLOGY.md "Target metrics") as data, defined once.
 * The verdict (verdict.ts), the default thresholds (config/thresholds.ts `defaultThresholds`),
 * the capacity per node (capacity.ts), the early abort (engine/run.ts), saturation and the
 * ladder's exit rule all read their bounds, levels and enforcing categories from here.
 */
import type { Level, VerdictCheck } from "../metrics/result.js";

/** A "lower is better" latency row: below `targetBelowMs` target, up to `degradedUpToMs` degraded. */
export interface LatencyRow {
  percentile: 50 | 95 | 99;
  key: "p50" | "p95" | "p99";
  targetBelowMs: number;
  degradedUpToMs: number;
}

export const TARGET_TABLE = {
  latencyMs: [
    { percentile: 50, key: "p50", targetBelowMs: 3, degradedUpToMs: 5 },
    { percentile: 95, key: "p95", targetBelowMs: 10, degradedUpToMs: 20 },
    { percentile: 99, key: "p99", targetBelowMs: 25, degradedUpToMs: 50 },
  ] as readonly LatencyRow[],
  /**
   * A fixed rate is judged by achieved ÷ asked: it asks a rate, it does not measure a capacity.
   * 5% is allowed for start/stop edges and timer granularity; below half of it is critical.
   */
  rateRatio: { targetAtLeast: 0.95, degradedAtLeast: 0.5 },
  /** Throughput where a run measures capacity (`--rps max`, a ladder): per gateway node. */
  capacityPerNodePerSec: { targetAbove: 1000, degradedAtLeast: 500 },
  /** Errors ÷ completed: 0% target, up to 0.1% degraded. */
  errorRate: { targetAtMost: 0, degradedAtMost: 0.001 },
  /** A mix that must be blocked and blocked nothing: the policy engine is inactive (critical). */
  blockRate: { targetAbove: 0 },
  /**
   * Correctness per category: a missed block on an enforcing category is a policy failure under
   * load, critical at once; a wrongly blocked benign request hurts users but leaks nothing,
   * degraded down to 95% of the category.
   */
  correctness: { targetAtLeast: 1, degradedAtLeast: 0.95 },
  /** The warning signs (docs/METHODOLOGY.md "Reading the results"). */
  warnings: { p95AboveMs: 20, errorRateAbove: 0.001 },
} as const;

/** Categories whose cases a working policy engine must block (docs/METHODOLOGY.md "Test categories"). */
export const ENFORCING_CATEGORIES: readonly string[] = ["security", "policy"];

export function isEnforcing(category: string, enforcing: readonly string[] = ENFORCING_CATEGORIES): boolean {
  return enforcing.includes(category);
}

/** Send lag or event-loop delay above this means the generator, not the target, set the latency. */
export const GENERATOR_LAG_BOUND_MS = 5;

/**
 * `--abort-on-critical` stops a run once it has "clearly failed": a policy failure at once;
 * anything else after this long and this many completed requests, so a cold start's first
 * outliers do not end a run.
 */
export const EARLY_ABORT = { afterMs: 5000, completedAtLeast: 50 } as const;

export function latencyLevel(row: LatencyRow, valueMs: number): Level {
  return valueMs < row.targetBelowMs ? "target" : valueMs <= row.degradedUpToMs ? "degraded" : "critical";
}

export function rateRatioLevel(ratio: number): Level {
  const { targetAtLeast, degradedAtLeast } = TARGET_TABLE.rateRatio;
  return ratio >= targetAtLeast ? "target" : ratio >= degradedAtLeast ? "degraded" : "critical";
}

export function capacityLevel(perNodePerSec: number): Level {
  const { targetAbove, degradedAtLeast } = TARGET_TABLE.capacityPerNodePerSec;
  if (perNodePerSec > targetAbove) return "target";
  return perNodePerSec >= degradedAtLeast ? "degraded" : "critical";
}

export function errorRateLevel(errorRate: number): Level {
  const { targetAtMost, degradedAtMost } = TARGET_TABLE.errorRate;
  return errorRate <= targetAtMost ? "target" : errorRate <= degradedAtMost ? "degraded" : "critical";
}

export function blockRateLevel(blockRate: number): Level {
  return blockRate > TARGET_TABLE.blockRate.targetAbove ? "target" : "critical";
}

export function correctnessLevel(category: string, correctness: number): Level {
  const { targetAtLeast, degradedAtLeast } = TARGET_TABLE.correctness;
  if (correctness >= targetAtLeast) return "target";
  return isEnforcing(category) || correctness < degradedAtLeast ? "critical" : "degraded";
}

/** The check name of a category's correctness (`correctness_security`). */
export const correctnessCheckName = (category: string): string => `correctness_${category}`;

/** The category a correctness check judges: `correctness_security` or a threshold's `correctness{category:security}`. */
function correctnessCategory(checkName: string): string | undefined {
  return (/^correctness_(.+)$/.exec(checkName) ??
    /^threshold correctness\{category:([^}]+)\}/.exec(checkName))?.[1];
}

/** A critical correctness check of an enforcing category (the verdict's or a threshold's): a probe got through. */
export function isPolicyFailure(check: Pick<VerdictCheck, "name" | "level">): boolean {
  if (check.level !== "critical") return false;
  const category = correctnessCategory(check.name);
  return category !== undefined && isEnforcing(category);
}

/**
 * Where a ladder saturated: the first step of the trailing run of steps not within target. A
 * lone noisy step between healthy ones (a 10 req/s step has only a handful of samples above its
 * p99) is not saturation; saturation is the rate from which the target stays unhealthy.
 */
export function saturationIndex(levels: readonly Level[]): number {
  let index = levels.length;
  while (index > 0 && levels[index - 1] !== "target") index--;
  return index < levels.length ? index : -1;
}

/**
 * A ladder is meant to find saturation, so a critical top step is not a failure: it fails when
 * even its first step is critical, when any step let a security or policy probe through, or when
 * the target was unreachable (critical, as for a single run).
 */
export function ladderFailed(
  steps: ReadonlyArray<{
    verdict: { level: Level; checks: ReadonlyArray<Pick<VerdictCheck, "name" | "level">> };
  }>,
  unreachable: boolean,
): boolean {
  const policyFailed = steps.some((step) => step.verdict.checks.some(isPolicyFailure));
  return policyFailed || steps[0]?.verdict.level === "critical" || unreachable;
}
