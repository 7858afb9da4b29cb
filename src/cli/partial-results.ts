import type { LadderResult } from "../engine/ladder.js";
import { RESULTS_SCHEMA_VERSION, type MetricsSnapshot, type RunResult } from "../metrics/result.js";
import { writeJsonFileSync, writeTextFileSync } from "../report/json.js";
import { ladderTable } from "../report/markdown.js";
import { formatSummary } from "../report/terminal.js";
import { writeStderr, writeStdout } from "./interrupts.js";

/**
 * What a command that must quit at once (interrupts.ts `quitNow`) writes: the results measured
 * so far, marked interrupted, in the same documents a finished command writes (docs/RESULTS.md).
 */

const INTERRUPTED_WARNING = "Run interrupted: results cover only the part that ran";

/** A live result as an interrupted one (quitting without a signal: the parent died). */
export function asInterrupted(result: RunResult): RunResult {
  if (result.interrupted) return result;
  return {
    ...result,
    interrupted: true,
    verdict: { ...result.verdict, warnings: [...result.verdict.warnings, INTERRUPTED_WARNING] },
  };
}

/**
 * A run's live results at the moment it quits: interrupted, and what is still in flight is
 * abandoned, so counted as dropped, as a run that ends by itself counts it (docs/RESULTS.md).
 */
export function quitSnapshot(snapshot: MetricsSnapshot): RunResult {
  const result = asInterrupted(snapshot.result);
  const abandoned = Math.max(0, result.requests.sent - result.requests.total);
  return { ...result, requests: { ...result.requests, dropped: result.requests.dropped + abandoned } };
}

/** `load-test run` (one run): the summary, `--out` and `--markdown`. */
export function writeRunNow(
  live: RunResult,
  files: { out?: string; markdown?: string; ratePerSec: number; title: string },
): void {
  const result = asInterrupted(live);
  writeStdout(`${formatSummary(result)}\n`);
  if (files.out) {
    writeJsonFileSync(files.out, result);
    writeStderr(`results written to ${files.out}\n`);
  }
  if (files.markdown) {
    writeTextNow(files.markdown, ladderTable([{ ratePerSec: files.ratePerSec, result, note: files.title }]));
  }
}

/** A profile's phases (docs/RESULTS.md "Phases"). */
export function phasesDocument(
  phases: ReadonlyArray<{ name: string; result: RunResult }>,
  interrupted: boolean,
): unknown {
  return { schemaVersion: RESULTS_SCHEMA_VERSION, kind: "phases", interrupted, phases };
}

/** The phases done, and the one running as far as it got. */
export function writePhasesNow(
  phases: ReadonlyArray<{ name: string; result: RunResult }>,
  files: { out?: string; markdown?: string },
): void {
  const interrupted = phases.map((phase, index) =>
    index === phases.length - 1 ? { ...phase, result: asInterrupted(phase.result) } : phase,
  );
  const last = interrupted[interrupted.length - 1];
  if (last) writeStdout(`${formatSummary(last.result)}\n`);
  if (files.markdown) {
    writeTextNow(
      files.markdown,
      ladderTable(
        interrupted.map(({ name, result }) => ({ ratePerSec: result.rate.targetPerSec, result, note: name })),
      ),
    );
  }
  if (files.out) {
    writeJsonFileSync(files.out, phasesDocument(interrupted, true));
    writeStderr(`results written to ${files.out}\n`);
  }
}

/** A ladder's document (docs/RESULTS.md "Ladder"). */
export function ladderDocument(outcome: LadderResult, table: string): unknown {
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    kind: "ladder",
    saturatedAtPerSec: outcome.saturatedAtPerSec,
    capacity: outcome.capacity,
    interrupted: outcome.interrupted,
    unreachable: outcome.unreachable ?? null,
    table,
    steps: outcome.steps.map((step) => ({
      ratePerSec: step.ratePerSec,
      interrupted: step.result.interrupted,
      note: step.note,
      result: step.result,
    })),
  };
}

/** The ladder's steps done and the one running (already marked interrupted by the caller). */
export function writeLadderNow(outcome: LadderResult, files: { out?: string; markdown?: string }): void {
  const table = ladderTable(outcome.steps);
  const last = outcome.steps[outcome.steps.length - 1];
  if (last) writeStdout(`${formatSummary(last.result)}\n`);
  writeStdout(`\nBaseline Results\n\n${table}\n\n`);
  if (files.markdown) writeTextNow(files.markdown, table);
  if (files.out) {
    writeJsonFileSync(files.out, ladderDocument(outcome, table));
    writeStderr(`results written to ${files.out}\n`);
  }
}

function writeTextNow(path: string, table: string): void {
  writeTextFileSync(path, `${table}\n`);
}
