import { saturationIndex } from "../evaluate/methodology.js";
import { unreachableReason } from "../evaluate/reachability.js";
import type { LadderStep, Level, ResultsDocument } from "../metrics/result.js";

export type { LadderStep };

const ms = (value: number): string => `${Number(value.toFixed(2))}ms`;
const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(3))}%`;

/**
 * The methodology's "Baseline Results" table: | RPS | P50 | P95 | P99 | Error Rate | Notes |, plus the
 * columns a baseline needs to be trusted (achieved rate, correctness, verdict).
 */
export function ladderTable(steps: readonly LadderStep[]): string {
  const rows = [
    "| RPS | P50 | P95 | P99 | Error Rate | Achieved | Correctness | Verdict | Notes |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const { ratePerSec, result, note } of steps) {
    const completed = result.requests.total;
    // Errors ÷ completed: with nothing completed there is no rate (0 of 0 is not 0% or 100%).
    const errorRate = completed > 0 ? percent(result.requests.error / completed) : "n/a";
    // A step that never reached the target measured the time to fail, not the target's latency.
    const latency = (valueMs: number): string =>
      unreachableReason(result) === undefined ? ms(valueMs) : "n/a";
    rows.push(
      `| ${result.rate.closedLoop ? "max" : ratePerSec} | ${latency(result.latencyMs.p50)} | ${latency(result.latencyMs.p95)} | ${latency(result.latencyMs.p99)} | ` +
        `${errorRate} | ${Number(result.rate.achievedPerSec.toFixed(1))} | ` +
        `${result.correctness === null ? "n/a" : percent(result.correctness)} | ${result.verdict.level}${result.interrupted ? " (interrupted)" : ""} | ${note} |`,
    );
  }
  return rows.join("\n");
}

export { saturationIndex };

/**
 * Notes in the methodology's words, from each step's verdict: the first step is the warm-up; steps
 * within target are normal load, the highest of them the target load; a degraded step is the
 * stress test; a critical one is near (or past) saturation.
 */
export function ladderNotes(levels: readonly Level[]): string[] {
  const lastTarget = levels.lastIndexOf("target");
  const saturation = saturationIndex(levels);
  return levels.map((level, index) => {
    const words =
      index === 0
        ? "Warmup"
        : level === "target"
          ? index === lastTarget
            ? "Target load"
            : "Normal load"
          : level === "degraded"
            ? "Stress test"
            : "Near saturation";
    const qualified = index === 0 && level !== "target" ? `${words} (${level})` : words;
    return index === saturation ? `${qualified}; saturation starts here` : qualified;
  });
}

/**
 * The Baseline Results table of any document: a run is one row (noted with `note`), phases one
 * row each named after the phase, a ladder its own table.
 */
export function documentTable(document: ResultsDocument, note = ""): string {
  if (!("kind" in document)) {
    return ladderTable([{ ratePerSec: document.rate.targetPerSec, result: document, note }]);
  }
  if (document.kind === "ladder") return document.table;
  return ladderTable(
    document.phases.map(({ name, result }) => ({ ratePerSec: result.rate.targetPerSec, result, note: name })),
  );
}
