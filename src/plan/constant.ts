/**
 * A plan is the pure schedule of a run: when request i should leave, relative to the start.
 * No clock here (a pure plan); the scheduler turns it into sends.
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
  /**
   * No schedule (`--rps max`): every request is due from the start, and leaves when the
   * in-flight cap lets it; its intended send time is its actual one (closedLoopPlan).
   */
  readonly closedLoop?: boolean;
}

/**
 * Constant arrival rate: request i is due at i / rate (the methodology's "ticker": evenly spaced,
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

/**
 * A closed loop for `durationMs` (`--rps max`): requests without end, all due at t0, so the
 * in-flight cap alone paces them: each answer releases the next request. The run's end timer
 * stops it. Nothing is late in a closed loop, so the scheduler takes each request's send time as
 * its intended time, and latency is service time, as autocannon and wrk report it.
 */
export function closedLoopPlan(durationMs: number): Plan {
  if (!(durationMs > 0) || !Number.isFinite(durationMs)) throw new RangeError("duration must be > 0");
  return new ClosedLoopPlan(durationMs);
}

class ClosedLoopPlan implements Plan {
  readonly count = Number.MAX_SAFE_INTEGER;
  readonly closedLoop = true;

  constructor(readonly durationMs: number) {}

  intendedAtMs(): number {
    return 0;
  }

  rateAtPerSec(): number {
    return 0;
  }
}
