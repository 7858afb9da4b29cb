import { parseDurationMs } from "../config/duration.js";
import { parseDecimal } from "../config/numbers.js";
import { InputError } from "../config/errors.js";
import type { Plan } from "./constant.js";

/**
 * One k6 stage: over `durationMs` the asked rate moves linearly from the previous stage's
 * target (or the plan's start rate) to `targetPerSec`. A stage of 0 ms is a step: the rate
 * jumps to its target at once and no time passes.
 */
export interface Stage {
  durationMs: number;
  targetPerSec: number;
}

/** A stages plan, with the exact expected-count function the schedule is derived from. */
export interface RampingPlan extends Plan {
  readonly stages: readonly Stage[];
  readonly startPerSec: number;
  /** Highest asked rate anywhere in the plan (req/s): sizes the default `--workers`. */
  readonly peakPerSec: number;
  /**
   * N(t): the integral of the asked rate from 0 to tMs, i.e. how many requests the stages ask
   * for up to that instant (a real number). Gives the asked rate of a partial (interrupted) run:
   * N(elapsed) / elapsed.
   */
  expectedCountAtMs(tMs: number): number;
}

/** Same rounding guard as constantRatePlan: one part in 1e9 absorbs float noise before the ceiling. */
const COUNT_TOLERANCE = 1e-9;

/**
 * The ramping arrival rate of k6's `ramping-arrival-rate` executor (and of the `stages` of the
 * methodology's example script): the rate is piecewise linear, each stage moving from the previous
 * target to its own. The number of requests asked for by time t is the area under the rate,
 * N(t) = ∫₀ᵗ r(u) du, and the schedule is its exact inverse (no time slicing):
 *
 *   request i is due at tᵢ = inf { t : N(t) > i },  i = 0, 1, …
 *
 * - With a constant rate r this is tᵢ = i / r: exactly `constantRatePlan` (request 0 at t = 0).
 * - Where the rate is 0 (a `0s:0` gap, or a leading stage that starts from and stays at 0)
 *   no request is due; time passes, and the next request is due when the rate resumes.
 * - k6's `cal()` fires its j-th iteration (j = 1, 2, …) when N(t) = j, so its first iteration
 *   comes one request interval after the start, and when N(end) is an integer its last one falls
 *   exactly at the end. We count from 0 instead, so every intended time is < durationMs (the
 *   Plan contract) and a single constant stage reproduces the constant plan. Both send the same
 *   number of requests when N(end) is an integer (12,450 for the methodology's four stages): our
 *   request i leaves where k6's iteration i did, one slot earlier.
 *
 * count = ceil(N(end)): request i belongs to the run when tᵢ < durationMs, i.e. when i < N(end).
 *
 * Within stage k (start Tₖ, duration d, rate a → b, slope s = (b − a) / d, nₖ = N(Tₖ)), the
 * local count after τ seconds is a·τ + s·τ²/2; solving a·τ + s·τ²/2 = n with the textbook
 * root (−a + √(a² + 2sn)) / s cancels catastrophically when s ≈ 0 or a² ≫ 2sn. We use the
 * equivalent τ = 2n / (a + √(a² + 2sn)), whose denominator adds two non-negative terms. On a ramp
 * down (s < 0) the discriminant a² − 2|s|n would cancel near the end of the stage, so we solve
 * from the stage's end instead, with the remaining count m and the mirrored ramp b → a:
 * τ = d − 2m / (b + √(b² + 2|s|m)). Intended times are O(log #stages): a binary search over the
 * cumulative counts at the stage boundaries, then one closed form.
 */
export function stagesPlan(stages: readonly Stage[], startPerSec = 0): RampingPlan {
  if (stages.length === 0) throw new RangeError("stages must hold at least one stage");
  if (!(startPerSec >= 0) || !Number.isFinite(startPerSec)) throw new RangeError("start rate must be ≥ 0");
  stages.forEach((stage, k) => {
    if (!(stage.durationMs >= 0) || !Number.isFinite(stage.durationMs))
      throw new RangeError(`stage ${k + 1}: duration must be ≥ 0 ms`);
    if (!(stage.targetPerSec >= 0) || !Number.isFinite(stage.targetPerSec))
      throw new RangeError(`stage ${k + 1}: target must be a rate ≥ 0`);
  });

  const n = stages.length;
  const frozen: Stage[] = stages.map((stage) => ({ ...stage }));
  /** startMs[k]: when stage k starts; startMs[n] is the end of the plan. */
  const startMs = new Float64Array(n + 1);
  /** cumulative[k] = N(startMs[k]): requests asked for before stage k. */
  const cumulative = new Float64Array(n + 1);
  const fromPerSec = new Float64Array(n);
  let previousPerSec = startPerSec;
  let peakPerSec = startPerSec;
  frozen.forEach((stage, k) => {
    fromPerSec[k] = previousPerSec;
    startMs[k + 1] = (startMs[k] as number) + stage.durationMs;
    // Trapezoid: the exact integral of a linear rate.
    const area = (stage.durationMs / 1000) * ((previousPerSec + stage.targetPerSec) / 2);
    cumulative[k + 1] = (cumulative[k] as number) + area;
    previousPerSec = stage.targetPerSec;
    peakPerSec = Math.max(peakPerSec, stage.targetPerSec);
  });
  const durationMs = startMs[n] as number;
  if (!(durationMs > 0)) throw new RangeError("the stages must last longer than 0 ms");
  const total = cumulative[n] as number;
  const count = total > 0 ? Math.max(0, Math.ceil(total - COUNT_TOLERANCE * Math.max(1, total))) : 0;
  const lastPerSec = previousPerSec;

  /** The first stage whose end count exceeds i: the stage where N(t) crosses i. */
  const stageOfIndex = (i: number): number => {
    let low = 0;
    let high = n; // answer in [0, n); n means "beyond the last stage"
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((cumulative[mid + 1] as number) > i) high = mid;
      else low = mid + 1;
    }
    return low;
  };

  /** The stage holding instant tMs (0 ≤ tMs < durationMs); zero-length stages hold no instant. */
  const stageAtMs = (tMs: number): number => {
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if ((startMs[mid] as number) <= tMs) low = mid;
      else high = mid - 1;
    }
    return low;
  };

  const intendedAtMs = (i: number): number => {
    if (!(i >= 0)) return Number.NaN;
    const k = stageOfIndex(i);
    if (k >= n) {
      // Beyond the plan: continue at the last rate, as the constant plan does; never, if it is 0.
      return lastPerSec > 0 ? durationMs + ((i - total) * 1000) / lastPerSec : Number.POSITIVE_INFINITY;
    }
    return (startMs[k] as number) + localSec(k, i) * 1000;
  };

  /** Seconds after the start of stage k at which N reaches i (stage k has a positive area). */
  const localSec = (k: number, i: number): number => {
    const stage = frozen[k] as Stage;
    const a = fromPerSec[k] as number;
    const b = stage.targetPerSec;
    const dSec = stage.durationMs / 1000;
    const need = i - (cumulative[k] as number);
    // Request 0, or a request due exactly at a boundary: the start of the first stage asking for it.
    if (need <= 0) return 0;
    let tauSec: number;
    if (a === b) {
      tauSec = need / a;
    } else if (b > a) {
      const slope = (b - a) / dSec;
      tauSec = (2 * need) / (a + Math.sqrt(a * a + 2 * slope * need));
    } else {
      const remaining = (cumulative[k + 1] as number) - i;
      const slope = (a - b) / dSec;
      tauSec = dSec - (2 * remaining) / (b + Math.sqrt(b * b + 2 * slope * remaining));
    }
    // Clamp float noise so times stay inside the stage (keeps the schedule monotonic across stages).
    return Math.min(dSec, Math.max(0, tauSec));
  };

  const rateAtPerSec = (tMs: number): number => {
    if (!(tMs >= 0)) return fromPerSec[0] as number;
    if (tMs >= durationMs) return lastPerSec;
    const k = stageAtMs(tMs);
    const stage = frozen[k] as Stage;
    const a = fromPerSec[k] as number;
    const fraction = (tMs - (startMs[k] as number)) / stage.durationMs;
    return a + (stage.targetPerSec - a) * fraction;
  };

  const expectedCountAtMs = (tMs: number): number => {
    if (!(tMs > 0)) return 0;
    if (tMs >= durationMs) return total;
    const k = stageAtMs(tMs);
    const stage = frozen[k] as Stage;
    const a = fromPerSec[k] as number;
    const tauSec = (tMs - (startMs[k] as number)) / 1000;
    const slope = (stage.targetPerSec - a) / (stage.durationMs / 1000);
    return (cumulative[k] as number) + a * tauSec + (slope * tauSec * tauSec) / 2;
  };

  return {
    count,
    durationMs,
    stages: frozen,
    startPerSec,
    peakPerSec,
    intendedAtMs,
    rateAtPerSec,
    expectedCountAtMs,
  };
}

/**
 * `--stages 30s:10,1m:50,2m:100,30s:0`: comma-separated `DURATION:TARGET` items, k6's
 * `{ duration, target }` written inline (durations as in --duration; a bare number is seconds;
 * `0s:100` is an instant step). Throws an InputError naming `--stages` (or `field`) and the bad
 * item. `startPerSec` is only used to reject stages that ask for no request at all.
 */
export function parseStages(text: string, startPerSec = 0, field = "--stages"): Stage[] {
  const items = text.split(",");
  const stages: Stage[] = [];
  items.forEach((raw, k) => {
    const item = raw.trim();
    const where = `item ${k + 1} "${item}"`;
    const hint = "expected DURATION:TARGET like 30s:10 or 1m:50";
    if (item === "") throw new InputError(field, `${where}: empty (${hint}, separated by commas)`);
    const colon = item.indexOf(":");
    if (colon < 0) throw new InputError(field, `${where}: no ":" (${hint})`);
    const durationText = item.slice(0, colon).trim();
    const targetText = item.slice(colon + 1).trim();
    const durationMs = parseDurationMs(durationText);
    if (durationMs === undefined)
      throw new InputError(field, `${where}: "${durationText}" is not a duration like 30s, 1m or 1m30s`);
    const targetPerSec = parseDecimal(targetText);
    if (targetPerSec === undefined)
      throw new InputError(field, `${where}: target "${targetText}" must be a rate ≥ 0 (req/s)`);
    stages.push({ durationMs, targetPerSec });
  });
  if (!(stages.reduce((sum, stage) => sum + stage.durationMs, 0) > 0))
    throw new InputError(field, `"${text}": the stages last 0 s in total`);
  if (startPerSec <= 0 && stages.every((stage) => stage.targetPerSec === 0))
    throw new InputError(field, `"${text}": every target is 0, so the stages ask for no request`);
  return stages;
}

/** `[{30000, 10}, {60000, 50}]` -> `30s:10,1m:50` (the --stages form), for summaries and results. */
export function formatStages(stages: readonly Stage[]): string {
  return stages.map((stage) => `${formatStageDuration(stage.durationMs)}:${stage.targetPerSec}`).join(",");
}

function formatStageDuration(durationMs: number): string {
  if (durationMs % 1000 !== 0) return `${durationMs}ms`;
  const totalSec = durationMs / 1000;
  const hours = Math.floor(totalSec / 3600);
  const minutes = Math.floor((totalSec % 3600) / 60);
  const seconds = totalSec % 60;
  const text = `${hours ? `${hours}h` : ""}${minutes ? `${minutes}m` : ""}${seconds ? `${seconds}s` : ""}`;
  return text === "" ? "0s" : text;
}
