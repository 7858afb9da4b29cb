import {
  RESULTS_SCHEMA_VERSION,
  type LadderCapacity,
  type LadderDocument,
  type LadderStep,
  type MetricsSnapshot,
  type PhasesDocument,
  type RunResult,
} from "./result.js";

/** A profile's phases (docs/RESULTS.md "Phases"). */
export function phasesDocument(
  phases: ReadonlyArray<{ name: string; result: RunResult }>,
  interrupted: boolean,
): PhasesDocument {
  return { schemaVersion: RESULTS_SCHEMA_VERSION, kind: "phases", interrupted, phases: [...phases] };
}

/** What a ladder measured (engine/ladder.ts `LadderResult`). */
export interface LadderOutcome {
  steps: readonly LadderStep[];
  saturatedAtPerSec: number | null;
  capacity: LadderCapacity;
  interrupted: boolean;
  unreachable?: { ratePerSec: number; reason: string };
}

/** A ladder's document (docs/RESULTS.md "Ladder"); `table` is its Baseline Results table. */
export function ladderDocument(outcome: LadderOutcome, table: string): LadderDocument {
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

// A command that must quit at once (second Ctrl-C, the parent died) writes what was measured so
// far, marked interrupted, in the same documents a finished command writes (docs/RESULTS.md).

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
