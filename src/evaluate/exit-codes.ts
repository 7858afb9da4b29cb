import type { ResultsDocument } from "../metrics/result.js";
import { ladderFailed } from "./methodology.js";

/**
 * Documented, stable exit codes (README "Exit codes"). CI gates on these; never renumber.
 * Interrupted wins over the verdict because a partial run proves nothing either way; a lost
 * results file wins over the verdict because whatever reads that file next would fail.
 */
export const EXIT_CODES = {
  /** Verdict target or degraded: nothing critical. */
  ok: 0,
  /** An unexpected internal failure (a bug): the message says what happened. */
  internalError: 1,
  /** Invalid input: a flag, a value or a file was wrong; nothing was sent. */
  invalidInput: 2,
  /** The run completed and its verdict is critical (a threshold of the methodology's table failed). */
  critical: 3,
  /** `--pushgateway-fatal`: the run was fine but its metrics could not be exported. */
  exportFailed: 4,
  /**
   * The run ended but a results file (`--out`, `--markdown`, `--prometheus-file`, a profile's
   * `outputs`) could not be written; every path was checked before the run, so this is a late
   * failure (disk full, directory removed). The summary on stdout still has the results.
   */
  writeFailed: 5,
  /** The run was interrupted (SIGINT/SIGTERM); partial results were still written. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** What decides a command's exit code (README "Exit codes"). */
export interface CommandOutcome {
  /** Ctrl-C, SIGTERM, the parent's death: a partial run proves nothing either way. */
  interrupted: boolean;
  /** A results file could not be written after the run. */
  writeFailed: boolean;
  /** The verdict of the run (of a phase, or the ladder's rule) is critical. */
  critical: boolean;
  /** `--pushgateway-fatal` and the export failed. */
  exportFailed: boolean;
}

/** The one rule every command follows: 130 > 5 > 3 > 4 > 0. */
export function exitCodeOf(outcome: CommandOutcome): ExitCode {
  if (outcome.interrupted) return EXIT_CODES.interrupted;
  if (outcome.writeFailed) return EXIT_CODES.writeFailed;
  if (outcome.critical) return EXIT_CODES.critical;
  return outcome.exportFailed ? EXIT_CODES.exportFailed : EXIT_CODES.ok;
}

/**
 * Whether a command's document fails its verdict: a run or any phase critical; a ladder by its
 * own rule (methodology.ts `ladderFailed`).
 */
export function documentCritical(document: ResultsDocument): boolean {
  if (!("kind" in document)) return document.verdict.level === "critical";
  if (document.kind === "phases")
    return document.phases.some(({ result }) => result.verdict.level === "critical");
  return ladderFailed(
    document.steps.map((step) => step.result),
    document.unreachable !== null,
  );
}
