import type { Level, RunResult, Verdict, VerdictCheck } from "../metrics/result.js";
import { authRejectionWarning, blockedAllWarning } from "./auth-hint.js";
import { capacityCheck, perNodeText } from "./capacity.js";

/** What the verdict reads: the measured parts of a result (`errors` for the warning signs). */
export type MeasuredRun = Pick<
  RunResult,
  "latencyMs" | "sendLagMs" | "rate" | "requests" | "categories" | "timeline" | "generator" | "interrupted"
> &
  // The connections, to name what held a run back, and the errors for the warning signs (both
  // absent from results written before them).
  Partial<Pick<RunResult, "transport" | "errors">>;

const LEVEL_ORDER: Record<Level, number> = { target: 0, degraded: 1, critical: 2 };

export function worstLevel(levels: Iterable<Level>): Level {
  let worst: Level = "target";
  for (const level of levels) if (LEVEL_ORDER[level] > LEVEL_ORDER[worst]) worst = level;
  return worst;
}

/** A "lower is better" bound from the spec's "Target Metrics" table. */
export interface UpperBound {
  name: string;
  label: string;
  unit: string;
  targetBelow: number;
  degradedUpTo: number;
}

// The spec's "Target Metrics" table: P50 < 3 / 3-5 / > 5 ms, P95 < 10 / 10-20 / > 20 ms, P99 < 25 / 25-50 / > 50 ms.
export const LATENCY_BOUNDS: ReadonlyArray<UpperBound & { key: "p50" | "p95" | "p99" }> = [
  { key: "p50", name: "latency_p50_ms", label: "P50", unit: "ms", targetBelow: 3, degradedUpTo: 5 },
  { key: "p95", name: "latency_p95_ms", label: "P95", unit: "ms", targetBelow: 10, degradedUpTo: 20 },
  { key: "p99", name: "latency_p99_ms", label: "P99", unit: "ms", targetBelow: 25, degradedUpTo: 50 },
];

/**
 * A fixed rate is judged by achieved ÷ asked: it asks a rate, it does not measure a capacity
 * (the spec's "> 1,000 RPS per node" row is judged per node where one is measured, capacity.ts).
 * Achieved ≥ asked is target and below half of it critical; 5% is allowed for start/stop edges
 * and timer granularity.
 */
const THROUGHPUT_TARGET_RATIO = 0.95;
const THROUGHPUT_CRITICAL_RATIO = 0.5;
/** The spec's error-rate row: 0% target, < 0.1% degraded, > 0.1% critical. */
const ERROR_RATE_DEGRADED_MAX = 0.001;
/** Send lag or event-loop delay above this means the generator, not the target, set the latency. */
export const GENERATOR_LAG_BOUND_MS = 5;

const fmt = (value: number, digits = 2): string => String(Number(value.toFixed(digits)));
const pct = (ratio: number): string => `${fmt(ratio * 100, 3)}%`;
/** Below 1 req/s two significant digits, so a slow schedule never reads "0 asked". */
const fmtRate = (ratePerSec: number): string =>
  ratePerSec > 0 && ratePerSec < 1 ? String(Number(ratePerSec.toPrecision(2))) : fmt(ratePerSec, 1);

function upperBoundCheck(bound: UpperBound, value: number): VerdictCheck {
  const level: Level =
    value < bound.targetBelow ? "target" : value <= bound.degradedUpTo ? "degraded" : "critical";
  return {
    name: bound.name,
    level,
    value,
    expected: `< ${bound.targetBelow} ${bound.unit} target, ${bound.targetBelow}-${bound.degradedUpTo} ${bound.unit} degraded`,
    message: `${bound.label}: ${fmt(value)}${bound.unit}`,
  };
}

/** Categories whose cases a working policy engine must block (spec "Test Categories" 2 and 3). */
const ENFORCEMENT_CATEGORIES = new Set(["security", "policy"]);

/**
 * The spec's Target / Degraded / Critical table plus correctness, and its "Warning Signs".
 * The run's level is the worst of its checks.
 */
export function evaluateRun(run: MeasuredRun, expectsBlocks: boolean): Verdict {
  const checks: VerdictCheck[] = [];
  const warnings: string[] = [];
  const completed = run.requests.success + run.requests.blocked + run.requests.error;

  if (completed > 0) {
    for (const bound of LATENCY_BOUNDS) checks.push(upperBoundCheck(bound, run.latencyMs[bound.key]));
  }

  const askedPerSec = run.rate.targetPerSec;
  const nodes = run.rate.nodes ?? 1;
  // A closed loop asks no rate: whatever it achieved is the result, not a shortfall.
  const ratio = askedPerSec > 0 ? run.rate.achievedPerSec / askedPerSec : 1;
  checks.push({
    name: "throughput_ratio",
    level:
      ratio >= THROUGHPUT_TARGET_RATIO
        ? "target"
        : ratio >= THROUGHPUT_CRITICAL_RATIO
          ? "degraded"
          : "critical",
    value: ratio,
    expected: run.rate.closedLoop
      ? "none: a closed loop measures the most the target serves"
      : `≥ ${THROUGHPUT_TARGET_RATIO * 100}% of the asked rate target, ≥ ${THROUGHPUT_CRITICAL_RATIO * 100}% degraded`,
    message: run.rate.closedLoop
      ? `Throughput: ${fmt(run.rate.achievedPerSec, 1)} req/s (closed loop, no asked rate)`
      : `Throughput: ${fmtRate(run.rate.achievedPerSec)} req/s of ${fmtRate(askedPerSec)} asked (${pct(ratio)})` +
        (nodes > 1 ? `, ${perNodeText(run.rate.achievedPerSec, nodes)}` : ""),
  });
  // A closed loop measures the most the target serves: the methodology's capacity per node.
  // A fixed rate only shows whether the asked rate was held, not what the nodes could serve.
  if (run.rate.closedLoop && completed > 0) checks.push(capacityCheck(run.rate.achievedPerSec, nodes));

  // Errors ÷ completed. With nothing completed there is no rate to show (0 errors of 0 is not
  // 100%), but requests that were due and never completed mean the run failed: critical.
  const errorRate = completed > 0 ? run.requests.error / completed : 0;
  checks.push({
    name: "error_rate",
    level:
      completed === 0
        ? run.requests.dropped > 0
          ? "critical"
          : "target"
        : errorRate === 0
          ? "target"
          : errorRate <= ERROR_RATE_DEGRADED_MAX
            ? "degraded"
            : "critical",
    value: completed > 0 ? errorRate : null,
    expected: "0% target, ≤ 0.1% degraded",
    message:
      completed > 0
        ? `Error Rate: ${pct(errorRate)}`
        : `Error Rate: n/a, no request completed${run.requests.dropped > 0 ? ` (${run.requests.dropped} dropped)` : ""}`,
  });

  const blockedRate = completed > 0 ? run.requests.blocked / completed : 0;
  if (expectsBlocks && completed > 0) {
    checks.push({
      name: "blocked_rate",
      level: blockedRate > 0 ? "target" : "critical",
      value: blockedRate,
      expected: "> 0% when the mix holds cases a policy must block (0% means the policy engine is inactive)",
      message: `Blocked Rate: ${pct(blockedRate)}`,
    });
  }

  for (const [category, result] of Object.entries(run.categories)) {
    if (result.correctness === null) continue;
    const enforcing = ENFORCEMENT_CATEGORIES.has(category);
    // A missed block on a security or policy case is a policy failure under load: always critical.
    // A wrongly blocked benign request (false positive) hurts users but leaks nothing: degraded
    // up to 5% of the category, critical beyond.
    const level: Level =
      result.correctness === 1 ? "target" : enforcing || result.correctness < 0.95 ? "critical" : "degraded";
    checks.push({
      name: `correctness_${category}`,
      level,
      value: result.correctness,
      expected: enforcing ? "100% (every probe blocked)" : "100% target, ≥ 95% degraded",
      message: `Correctness (${category}): ${pct(result.correctness)} of ${result.requests}`,
    });
  }

  // First, because it explains the rest: a target that refused the credentials measured nothing else.
  const authRejected =
    authRejectionWarning(run.errors, completed) ??
    blockedAllWarning(run.categories, run.requests.blocked, completed);
  if (authRejected) warnings.push(authRejected);
  // The spec's "Warning Signs".
  if (completed > 0 && run.latencyMs.p95 > 20)
    warnings.push(`P95 > 20ms (${fmt(run.latencyMs.p95)}ms): investigate latency issues`);
  if (errorRate > ERROR_RATE_DEGRADED_MAX)
    warnings.push(`Error Rate > 0.1% (${pct(errorRate)}): check system logs`);
  if (expectsBlocks && completed > 0 && blockedRate === 0)
    warnings.push("Blocked Rate 0%: policy might not be active");
  const rising = p50Rise(run);
  if (rising)
    warnings.push(`P50 increasing (${fmt(rising.fromMs)}ms → ${fmt(rising.toMs)}ms): possible degradation`);
  if (run.requests.dropped > 0) warnings.push(droppedWarning(run));
  if (!run.generator.trustworthy) {
    warnings.push(
      `Generator overloaded (own send lag p99 ${fmt(run.generator.ownSendLagMs.p99)}ms, event-loop delay p99 ${fmt(run.generator.eventLoopDelayMs.p99)}ms > ${GENERATOR_LAG_BOUND_MS}ms): latencies include the generator's own delay, results are not trustworthy`,
    );
  }
  if (run.interrupted) warnings.push("Run interrupted: results cover only the part that ran");

  return { level: worstLevel(checks.map((check) => check.level)), checks, warnings };
}

/**
 * Why requests due were never completed, naming only what really held the run back: the
 * server's HTTP/2 stream limit when it allowed fewer streams than --workers; --workers only when
 * the requests in flight reached it; else the interrupt (an interrupted run abandons what is in
 * flight).
 */
function droppedWarning(run: MeasuredRun): string {
  const head = `${run.requests.dropped} requests due but never completed`;
  const workers = run.generator.workers;
  const connections = run.transport?.connections;
  const serverStreams = connections?.serverMaxStreams ?? null;
  if (
    connections &&
    serverStreams !== null &&
    serverStreams > 0 &&
    serverStreams * connections.limit < workers
  ) {
    const needed = Math.ceil(workers / serverStreams);
    return (
      `${head}: the server's HTTP/2 stream limit was the limit (SETTINGS_MAX_CONCURRENT_STREAMS ${serverStreams} × ` +
      `${connections.limit} connection${connections.limit === 1 ? "" : "s"} = ${serverStreams * connections.limit} in flight, ` +
      `not --workers ${workers}); --workers ${workers} needs ${needed} connections (--connections ${needed})`
    );
  }
  if (run.generator.maxInFlight >= workers) return `${head}: --workers (${workers}) was the limit`;
  if (run.interrupted) {
    return `${head}: the run was interrupted (in flight peaked at ${run.generator.maxInFlight} of --workers ${workers})`;
  }
  return `${head} (in flight peaked at ${run.generator.maxInFlight} of --workers ${workers})`;
}

/**
 * "P50 increasing" (spec, Warning Signs): the median of the per-second P50s of the last third of
 * the run against the first third, ignoring the first second (warm-up). Needs ≥ 6 seconds with
 * traffic; the rise must be both relative (× 1.5) and absolute (> 1 ms) so jitter on a
 * sub-millisecond baseline does not trigger it.
 */
export function p50Rise(run: Pick<MeasuredRun, "timeline">): { fromMs: number; toMs: number } | undefined {
  const seconds = run.timeline.slice(1).filter((entry) => entry.completed > 0);
  if (seconds.length < 6) return undefined;
  const third = Math.floor(seconds.length / 3);
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  };
  const fromMs = median(seconds.slice(0, third).map((entry) => entry.latencyMs.p50));
  const toMs = median(seconds.slice(-third).map((entry) => entry.latencyMs.p50));
  return toMs > fromMs * 1.5 && toMs - fromMs > 1 ? { fromMs, toMs } : undefined;
}
