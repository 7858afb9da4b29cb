/**
 * A plan is the pure schedule of a run: when request i should leave, relative to the start.
 * No clock here (DESIGN.md "pure plan"); the scheduler turns it into sends.
 */
export interface Plan {
  /** Number of requests the plan contains. */
  readonly count: number;
  /** Length of the run in ms; every intended send time is < durationMs. */
  readonly durationMs: number;
  /** Intended send time of request i, ms after t0. Non-decreasing in i. */
  intendedAtMs(i: number): number;
  /** The asked rate at time tMs (req/s), for reports. */
  rateAtPerSec(tMs: number): number;
}

/**
 * Constant arrival rate: request i is due at i / rate (the spec's "ticker": evenly spaced,
 * never per-second bursts). The run holds every i with i / rate < duration, so it sends
 * ceil(rate × duration) requests.
 */
export function constantRatePlan(ratePerSec: number, durationMs: number): Plan {
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError("rate must be > 0");
  if (!(durationMs > 0) || !Number.isFinite(durationMs)) throw new RangeError("duration must be > 0");
  // Rounding guard: 0.1 × 3 in floating point is 0.30000000000000004, so take the product
  // with a tolerance of one part in 1e9 before the ceiling.
  const exact = (ratePerSec * durationMs) / 1000;
  const count = Math.max(1, Math.ceil(exact - 1e-9 * Math.max(1, exact)));
  return new ConstantRatePlan(count, durationMs, ratePerSec);
}

/**
 * A class rather than an object of closures: every plan of a run (the warm-up's, the measured
 * run's) then shares one `intendedAtMs` function, and the scheduler's optimized code, which
 * inlines it, stays valid when the measured run starts (with a closure per plan V8 dropped that
 * code there: "wrong call target").
 */
class ConstantRatePlan implements Plan {
  constructor(
    readonly count: number,
    readonly durationMs: number,
    private readonly ratePerSec: number,
  ) {}

  intendedAtMs(i: number): number {
    // Multiply rather than accumulate so error does not grow with i.
    return (i * 1000) / this.ratePerSec;
  }

  rateAtPerSec(): number {
    return this.ratePerSec;
  }
}
