import type { Level, RunResult, Verdict, VerdictCheck } from "../metrics/result.js";
import { authRejectionWarning, blockedAllWarning } from "./auth-hint.js";
import { capacityCheck, perNodeText } from "./capacity.js";
import {
  blockRateLevel,
  correctnessCheckName,
  correctnessLevel,
  errorRateLevel,
  GENERATOR_LAG_BOUND_MS,
  isEnforcing,
  latencyLevel,
  rateRatioLevel,
  TARGET_TABLE,
  type LatencyRow,
} from "./methodology.js";

export { GENERATOR_LAG_BOUND_MS };

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

const { rateRatio, errorRate: ERROR_RATE, warnings: WARNING_SIGNS } = TARGET_TABLE;

const fmt = (value: number, digits = 2): string => String(Number(value.toFixed(digits)));
const pct = (ratio: number): string => `${fmt(ratio * 100, 3)}%`;
/** Below 1 req/s two significant digits, so a slow schedule never reads "0 asked". */
const fmtRate = (ratePerSec: number): string =>
  ratePerSec > 0 && ratePerSec < 1 ? String(Number(ratePerSec.toPrecision(2))) : fmt(ratePerSec, 1);

function latencyCheck(row: LatencyRow, valueMs: number): VerdictCheck {
  return {
    name: `latency_${row.key}_ms`,
    level: latencyLevel(row, valueMs),
    value: valueMs,
    expected: `< ${row.targetBelowMs} ms target, ${row.targetBelowMs}-${row.degradedUpToMs} ms degraded`,
    message: `${row.key.toUpperCase()}: ${fmt(valueMs)}ms`,
  };
}

/**
 * The methodology's Target / Degraded / Critical table plus correctness, and its "Warning Signs".
 * The run's level is the worst of its checks.
 */
export function evaluateRun(run: MeasuredRun, expectsBlocks: boolean): Verdict {
  const checks: VerdictCheck[] = [];
  const warnings: string[] = [];
  const completed = run.requests.success + run.requests.blocked + run.requests.error;

  if (completed > 0) {
    for (const row of TARGET_TABLE.latencyMs) checks.push(latencyCheck(row, run.latencyMs[row.key]));
  }

  const askedPerSec = run.rate.targetPerSec;
  const nodes = run.rate.nodes ?? 1;
  // A closed loop asks no rate: whatever it achieved is the result, not a shortfall.
  const ratio = askedPerSec > 0 ? run.rate.achievedPerSec / askedPerSec : 1;
  checks.push({
    name: "throughput_ratio",
    level: rateRatioLevel(ratio),
    value: ratio,
    expected: run.rate.closedLoop
      ? "none: a closed loop measures the most the target serves"
      : `≥ ${rateRatio.targetAtLeast * 100}% of the asked rate target, ≥ ${rateRatio.degradedAtLeast * 100}% degraded`,
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
    level: completed === 0 ? (run.requests.dropped > 0 ? "critical" : "target") : errorRateLevel(errorRate),
    value: completed > 0 ? errorRate : null,
    expected: `${pct(ERROR_RATE.targetAtMost)} target, ≤ ${pct(ERROR_RATE.degradedAtMost)} degraded`,
    message:
      completed > 0
        ? `Error Rate: ${pct(errorRate)}`
        : `Error Rate: n/a, no request completed${run.requests.dropped > 0 ? ` (${run.requests.dropped} dropped)` : ""}`,
  });

  const blockedRate = completed > 0 ? run.requests.blocked / completed : 0;
  if (expectsBlocks && completed > 0) {
    checks.push({
      name: "blocked_rate",
      level: blockRateLevel(blockedRate),
      value: blockedRate,
      expected: "> 0% when the mix holds cases a policy must block (0% means the policy engine is inactive)",
      message: `Blocked Rate: ${pct(blockedRate)}`,
    });
  }

  for (const [category, result] of Object.entries(run.categories)) {
    if (result.correctness === null) continue;
    const enforcing = isEnforcing(category);
    checks.push({
      name: correctnessCheckName(category),
      level: correctnessLevel(category, result.correctness),
      value: result.correctness,
      expected: enforcing
        ? `${pct(TARGET_TABLE.correctness.targetAtLeast)} (every probe blocked)`
        : `${pct(TARGET_TABLE.correctness.targetAtLeast)} target, ≥ ${pct(TARGET_TABLE.correctness.degradedAtLeast)} degraded`,
      message: `Correctness (${category}): ${pct(result.correctness)} of ${result.requests}`,
    });
  }

  // First, because it explains the rest: a target that refused the credentials measured nothing else.
  const authRejected =
    authRejectionWarning(run.errors, completed) ??
    blockedAllWarning(run.categories, run.requests.blocked, completed);
  if (authRejected) warnings.push(authRejected);
  // The methodology's "Warning Signs".
  if (completed > 0 && run.latencyMs.p95 > WARNING_SIGNS.p95AboveMs)
    warnings.push(
      `P95 > ${WARNING_SIGNS.p95AboveMs}ms (${fmt(run.latencyMs.p95)}ms): investigate latency issues`,
    );
  if (errorRate > WARNING_SIGNS.errorRateAbove)
    warnings.push(`Error Rate > ${pct(WARNING_SIGNS.errorRateAbove)} (${pct(errorRate)}): check system logs`);
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
 * "P50 increasing" (docs/METHODOLOGY.md, Warning Signs): the median of the per-second P50s of the last third of
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
