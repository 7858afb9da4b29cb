import { formatTargetBlock } from "./target-block.js";
import type { LatencySummaryMs, Level, Progress, RunResult } from "../metrics/result.js";
import { describeTargets } from "../scenarios/request-targets.js";
import { describeConnections, describeTransportErrors } from "../transport/describe.js";

const num = (value: number, digits = 2): string => String(Number(value.toFixed(digits)));
/** A rate below 1 req/s keeps two significant digits: 0.0001 req/s must not read "0 req/s". */
const rateText = (ratePerSec: number): string =>
  ratePerSec > 0 && ratePerSec < 1 ? String(Number(ratePerSec.toPrecision(2))) : num(ratePerSec, 1);
/** Seconds, with hundredths below 1 s (a 50 ms run must not read "0s"). */
const secondsText = (sec: number): string => num(sec, sec < 1 ? 2 : 1);
const pct = (ratio: number | null): string => (ratio === null ? "n/a" : `${num(ratio * 100, 2)}%`);
const pad = (text: string, width: number): string => text.padEnd(width);
const padLeft = (text: string, width: number): string => text.padStart(width);

/** One status line, redrawn every second on a TTY (or printed every few seconds without one). */
export function formatProgressLine(progress: Progress): string {
  const { latencyMs } = progress;
  return (
    `[${num(Math.min(progress.elapsedSec, progress.totalSec), 0)}s/${num(progress.totalSec, 0)}s] ` +
    `${num(progress.achievedPerSec, 1)} req/s | p50 ${num(latencyMs.p50)}ms p95 ${num(latencyMs.p95)}ms p99 ${num(latencyMs.p99)}ms | ` +
    `ok ${progress.success} blocked ${progress.blocked} err ${progress.error} | in flight ${progress.inFlight} | ` +
    `correct ${pct(progress.correctness)}` +
    (progress.shards ? ` | shards ${progress.shards.live}/${progress.shards.count}` : "") +
    drainNote(progress)
  );
}

/**
 * After the schedule the run waits for the answers still in flight, each up to `--timeout` from
 * its send: against a silent target that is the whole timeout, so the line says what it waits for.
 */
function drainNote(progress: Progress): string {
  if (progress.elapsedSec <= progress.totalSec || progress.inFlight === 0) return "";
  const leftSec = Math.max(0, progress.totalSec + progress.timeoutSec - progress.elapsedSec);
  return ` | draining ${progress.inFlight} in flight, up to ${num(leftSec, 0)}s more (--timeout ${num(progress.timeoutSec)}s)`;
}

/** A wait after the schedule worth a line: longer than an answer of a healthy target takes. */
const DRAIN_NOTE_FROM_SEC = 1;

const LEVEL_MARK: Record<Level, string> = { target: "✅", degraded: "⚠️ ", critical: "❌" };
const SUMMARY_KEYS: Array<keyof LatencySummaryMs> = [
  "min",
  "mean",
  "p50",
  "p90",
  "p95",
  "p99",
  "p999",
  "max",
];

function latencyRow(label: string, summary: LatencySummaryMs): string {
  return pad(label, 16) + SUMMARY_KEYS.map((key) => padLeft(num(summary[key]), 9)).join("");
}

function tableRow(label: string, labelWidth: number, cells: string[], cellWidth: number): string {
  return pad(label, labelWidth) + cells.map((cell) => padLeft(cell, cellWidth)).join("");
}

/** Correctness and the three percentiles of a slice of the run (a category, a stage). */
function judged(slice: { correctness: number | null; latencyMs: LatencySummaryMs }): string[] {
  return [
    pct(slice.correctness),
    num(slice.latencyMs.p50),
    num(slice.latencyMs.p95),
    num(slice.latencyMs.p99),
  ];
}

/** The final summary: figures, then the methodology's "Results Interpretation" with ✅ / ⚠️ lines. */
export function formatSummary(result: RunResult): string {
  const lines: string[] = [];
  const { requests, rate } = result;
  lines.push(
    `load-test ${describeTargets(result.target, result)}  category ${result.category}  ` +
      `${rate.closedLoop ? `max rate (closed loop, ${result.generator.workers} in flight)` : `${rateText(rate.targetPerSec)} req/s`} for ${secondsText(result.durationSec)}s${result.interrupted ? "  (INTERRUPTED)" : ""}${result.aborted ? "  (ABORTED)" : ""}`,
    "",
    `Requests      ${requests.total} completed: ${requests.success} success, ${requests.blocked} blocked, ${requests.error} error` +
      `  (${requests.dropped} dropped, ${requests.unexpected} unexpected)`,
    rate.closedLoop
      ? `Throughput    ${num(rate.achievedPerSec, 1)} req/s achieved, closed loop (sent ${num(rate.sentPerSec, 1)} req/s)`
      : `Throughput    ${rateText(rate.achievedPerSec)} req/s achieved of ${rateText(rate.targetPerSec)} asked (sent ${rateText(rate.sentPerSec)} req/s)`,
    `Correctness   ${pct(result.correctness)} of completed requests matched their expected outcome`,
    "",
    pad("(ms)", 16) + SUMMARY_KEYS.map((key) => padLeft(key, 9)).join(""),
    latencyRow("latency", result.latencyMs),
    latencyRow("service time", result.serviceTimeMs),
    latencyRow("queue time", result.queueTimeMs),
    latencyRow("send lag", result.sendLagMs),
    rate.closedLoop
      ? "closed loop (--rps max): each request left when an answer freed its slot, so latency is service time"
      : "latency counts from the intended send time (open loop, no coordinated omission)",
    "",
    tableRow("category", 12, ["requests", "success", "blocked", "error", "correct", "p50", "p95", "p99"], 10),
  );
  for (const [name, category] of Object.entries(result.categories)) {
    lines.push(
      tableRow(
        name,
        12,
        [
          String(category.requests),
          String(category.success),
          String(category.blocked),
          String(category.error),
          ...judged(category),
        ],
        10,
      ),
    );
  }
  if (result.stages) {
    lines.push(
      "",
      tableRow(
        "stage",
        22,
        ["asked/s", "achieved/s", "requests", "error", "correct", "p50", "p95", "p99"],
        11,
      ),
    );
    for (const stage of result.stages) {
      const label = `${stage.index + 1}: ${num(stage.startSec)}-${num(stage.endSec)}s ${num(stage.fromPerSec)}→${num(stage.toPerSec)}`;
      const cells = [
        num(stage.askedPerSec, 1),
        num(stage.achievedPerSec, 1),
        String(stage.requests),
        String(stage.error),
      ];
      lines.push(tableRow(label, 22, [...cells, ...judged(stage)], 11));
    }
  }
  if (result.coldStart) {
    const cold = result.coldStart;
    lines.push(
      "",
      `Cold start    first ${cold.window} requests: p50 ${num(cold.latencyMs.p50)}ms p95 ${num(cold.latencyMs.p95)}ms ` +
        `p99 ${num(cold.latencyMs.p99)}ms max ${num(cold.latencyMs.max)}ms (${cold.requests} completed, ${cold.error} errors)`,
    );
  }
  if ((result.drainSec ?? 0) >= DRAIN_NOTE_FROM_SEC) {
    const timedOut = result.errors.timeout ?? 0;
    lines.push(
      "",
      `Drain         waited ${num(result.drainSec ?? 0, 1)}s after the schedule for answers still in flight ` +
        `(each gets up to --timeout from its send${timedOut > 0 ? `; ${timedOut} timed out` : ""})`,
    );
  }
  const errorKinds = Object.entries(result.errors).sort((a, b) => b[1] - a[1]);
  if (errorKinds.length > 0) {
    lines.push("", "Errors");
    for (const [kind, count] of errorKinds) lines.push(`  ${pad(kind, 18)} ${count}`);
    // Transport failures in detail: the timeout phase, the TLS reason, the HTTP/2 frame.
    lines.push(...describeTransportErrors(result.transport.errors, "    "));
  }
  lines.push(
    "",
    ...describeConnections(result.transport),
    `In flight     peak ${result.generator.maxInFlight} of ${result.generator.workers} workers` +
      (result.generator.threads > 1
        ? ` (${result.generator.threads} ${result.merged ? "shard threads" : "threads"}; peaks summed)`
        : ""),
    `Generator     ${result.rate.closedLoop ? "closed loop" : `${result.generator.pacing} pacing`}, event-loop delay p99 ${num(result.generator.eventLoopDelayMs.p99)}ms, own send lag p99 ${num(result.generator.ownSendLagMs.p99)}ms` +
      (result.generator.trustworthy
        ? ""
        : result.rate.closedLoop
          ? "  ** NOT TRUSTWORTHY: the generator's event loop lagged; latency includes its own delay **"
          : "  ** NOT TRUSTWORTHY: the generator could not keep the schedule **"),
    ...(result.monitor ? formatTargetBlock(result.monitor) : []),
    "",
    `Results Interpretation: ${result.verdict.level.toUpperCase()}`,
  );
  if (result.aborted) lines.push(`❌ Stopped early: ${result.aborted.reason}`);
  for (const check of result.verdict.checks)
    lines.push(`${LEVEL_MARK[check.level]} ${check.message}  (${check.expected})`);
  const warnings = [...result.verdict.warnings, ...result.transport.warnings];
  if (warnings.length > 0) {
    lines.push("", "Warning Signs");
    for (const warning of warnings) lines.push(`⚠️  ${warning}`);
  }
  return lines.join("\n");
}
