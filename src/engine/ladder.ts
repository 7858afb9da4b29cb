import type { RunOptions } from "../config/options.js";
import { ladderCapacity, type LadderCapacity } from "../evaluate/capacity.js";
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
  onStepStart?: (index: number, ratePerSec: number) => void;
  onStepEnd?: (index: number, result: RunResult) => void;
}

export interface LadderResult {
  steps: LadderStep[];
  /** The rate from which every step was outside target (see saturationIndex); null if none. */
  saturatedAtPerSec: number | null;
  /** The methodology's capacity per node: the highest step within target (--nodes). */
  capacity: LadderCapacity;
  interrupted: boolean;
}

/**
 * The spec's "Best Practices: Start Small" as a command: one open-loop run per rate, back to
 * back, each with its own verdict; the table then shows where the target stops being healthy.
 */
export async function runLadder(options: LadderOptions, hooks: LadderHooks = {}): Promise<LadderResult> {
  const results: RunResult[] = [];
  for (const [index, ratePerSec] of options.ratesPerSec.entries()) {
    if (hooks.signal?.aborted) break;
    if (index > 0 && options.pauseMs > 0) await pause(options.pauseMs, hooks.signal);
    if (hooks.signal?.aborted) break;
    hooks.onStepStart?.(index, ratePerSec);
    const stepOptions: RunOptions = {
      ...options.base,
      ratePerSec,
      durationMs: options.stepMs,
      stages: undefined,
      // Each step warms up only if asked, and only the first: later steps follow a busy target.
      warmupMs: index === 0 ? options.base.warmupMs : 0,
    };
    const result = await prepareRun(stepOptions, hooks).start();
    results.push(result);
    hooks.onStepEnd?.(index, result);
    if (result.interrupted) break;
  }
  // An interrupted step (Ctrl-C, the last one run) judged only its first seconds: it is marked,
  // and left out of the notes and the saturation, which compare whole steps.
  const whole = results.filter((result) => !result.interrupted);
  const notes = ladderNotes(whole.map((result) => result.verdict.level));
  const steps = results.map((result, index) => ({
    ratePerSec: options.ratesPerSec[index] as number,
    result,
    note: result.interrupted
      ? `Interrupted after ${Number(result.durationSec.toFixed(1))}s of ${options.stepMs / 1000}s (partial step, not judged for saturation)`
      : (notes[index] as string),
  }));
  const saturation = saturationIndex(whole.map((result) => result.verdict.level));
  return {
    steps,
    saturatedAtPerSec: saturation >= 0 ? (steps[saturation] as LadderStep).ratePerSec : null,
    capacity: ladderCapacity(steps),
    interrupted: results.some((result) => result.interrupted) || hooks.signal?.aborted === true,
  };
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
