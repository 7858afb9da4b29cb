import { closedLoopPlan, constantRatePlan, type Plan } from "./constant.js";
import { stagesPlan, type Stage } from "./ramping.js";

export type { Plan } from "./constant.js";

/** The plan of a run: a closed loop (`--rps max`), k6 stages when given, else a constant rate. */
export function planFor(options: {
  ratePerSec: number;
  durationMs: number;
  stages: readonly Stage[] | undefined;
  startPerSec: number;
  closedLoop?: boolean;
}): Plan {
  if (options.closedLoop) return closedLoopPlan(options.durationMs);
  return options.stages
    ? stagesPlan(options.stages, options.startPerSec)
    : constantRatePlan(options.ratePerSec, options.durationMs);
}

/** Start of every stage after the first, ms after t0: the recorder's segment boundaries. */
export function stageStartsMs(stages: readonly Stage[] | undefined): number[] {
  if (!stages) return [];
  const starts: number[] = [];
  let atMs = 0;
  for (const stage of stages.slice(0, -1)) {
    atMs += stage.durationMs;
    starts.push(atMs);
  }
  return starts;
}

/** Each stage's bounds and asked rates, for per-stage results. */
export function stageWindows(
  stages: readonly Stage[],
  startPerSec: number,
): Array<{ startMs: number; endMs: number; fromPerSec: number; toPerSec: number }> {
  let atMs = 0;
  let fromPerSec = startPerSec;
  return stages.map((stage) => {
    const window = {
      startMs: atMs,
      endMs: atMs + stage.durationMs,
      fromPerSec,
      toPerSec: stage.targetPerSec,
    };
    atMs += stage.durationMs;
    fromPerSec = stage.targetPerSec;
    return window;
  });
}
