import { sleepUnlessAborted } from "./sleep.js";
import type { RunOptions } from "../config/options.js";
import { ladderCapacity, type LadderCapacity } from "../evaluate/capacity.js";
import { unreachableReason } from "../evaluate/reachability.js";
import type { RunResult } from "../metrics/result.js";
import { ladderNotes, saturationIndex, type LadderStep } from "../report/markdown.js";
import { prepareRun, type RunHooks } from "./run.js";

export interface LadderOptions {
  /** Everything but the rate and duration, shared by every step. */
  base: RunOptions;
  ratesPerSec: number[];
  stepMs: number;
  /** Quiet time between steps so one step's tail does not leak into the next. */
  pauseMs: number;
}

export interface LadderHooks extends RunHooks {
  /**
   * Runs one step (the CLI's run with its reporters); default: prepareRun with these hooks.
   * Resolves with the step's final result.
   */
  runStep?: (options: RunOptions, index: number) => Promise<RunResult>;
}

export interface LadderResult {
  steps: LadderStep[];
  /** The rate from which every step was outside target (see saturationIndex); null if none. */
  saturatedAtPerSec: number | null;
  /** The methodology's capacity per node: the highest step within target (--nodes). */
  capacity: LadderCapacity;
  interrupted: boolean;
  /**
   * Why the target was unreachable at the last step (every request refused, timed out, …), which
   * ended the ladder there; undefined when it answered. A first step that never reached the
   * target measured no saturation: its latency is the time to fail.
   */
  unreachable?: { ratePerSec: number; reason: string };
}

/**
 * The methodology's "Best Practices: Start Small" as a command: one open-loop run per rate, back to
 * back, each with its own verdict; the table then shows where the target stops being healthy.
 */
export async function runLadder(options: LadderOptions, hooks: LadderHooks = {}): Promise<LadderResult> {
  const results: RunResult[] = [];
  let unreachable: LadderResult["unreachable"];
  for (const [index, ratePerSec] of options.ratesPerSec.entries()) {
    if (hooks.signal?.aborted) break;
    if (index > 0 && options.pauseMs > 0) await sleepUnlessAborted(options.pauseMs, hooks.signal);
    if (hooks.signal?.aborted) break;
    const stepOptions: RunOptions = {
      ...options.base,
      ratePerSec,
      durationMs: options.stepMs,
      stages: undefined,
      // Each step warms up only if asked, and only the first: later steps follow a busy target.
      warmupMs: index === 0 ? options.base.warmupMs : 0,
    };
    const result = await (hooks.runStep
      ? hooks.runStep(stepOptions, index)
      : prepareRun(stepOptions, hooks).start());
    results.push(result);
    if (result.interrupted) break;
    const reason = unreachableReason(result);
    if (reason !== undefined) {
      unreachable = { ratePerSec, reason };
      break;
    }
  }
  return ladderOutcome(
    options.ratesPerSec,
    options.stepMs,
    results,
    results.some((result) => result.interrupted) || hooks.signal?.aborted === true,
    unreachable,
  );
}

/** The ladder's table notes, saturation point and capacity from the results of its steps so far. */
export function ladderOutcome(
  ratesPerSec: readonly number[],
  stepMs: number,
  results: readonly RunResult[],
  interrupted: boolean,
  unreachable?: LadderResult["unreachable"],
): LadderResult {
  // An interrupted step (Ctrl-C, the last one run) judged only its first seconds: it is marked,
  // and left out of the notes and the saturation, which compare whole steps.
  const whole = results.filter((result) => !result.interrupted);
  const notes = ladderNotes(whole.map((result) => result.verdict.level));
  if (unreachable) notes[results.length - 1] = "Unreachable";
  const steps = results.map((result, index) => ({
    ratePerSec: ratesPerSec[index] as number,
    result,
    note: result.interrupted
      ? `Interrupted after ${Number(result.durationSec.toFixed(1))}s of ${stepMs / 1000}s (partial step, not judged for saturation)`
      : (notes[index] as string),
  }));
  const saturation = saturationIndex(whole.map((result) => result.verdict.level));
  const neverReached = unreachable !== undefined && results.length === 1;
  return {
    steps,
    saturatedAtPerSec: saturation >= 0 && !neverReached ? (steps[saturation] as LadderStep).ratePerSec : null,
    capacity: ladderCapacity(steps),
    interrupted,
    ...(unreachable ? { unreachable } : {}),
  };
}
