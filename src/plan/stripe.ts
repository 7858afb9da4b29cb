import type { Plan } from "./constant.js";

/**
 * Stripe `stripe` of `stripes` (`--threads`): requests i ≡ stripe (mod stripes) of `plan`, in
 * order. Each worker thread paces one stripe from the shared t0, so the union of the stripes is
 * the plan itself, still evenly spaced, whatever thread sends it.
 */
export function stripePlan(plan: Plan, stripe: number, stripes: number): Plan {
  if (!Number.isInteger(stripes) || stripes < 1) throw new RangeError("stripes must be an integer >= 1");
  if (!Number.isInteger(stripe) || stripe < 0 || stripe >= stripes)
    throw new RangeError("stripe out of range");
  if (stripes === 1) return plan;
  return new StripePlan(plan, stripe, stripes);
}

/** A class for the reason ConstantRatePlan is one: one `intendedAtMs` for every plan of a run. */
class StripePlan implements Plan {
  readonly count: number;
  readonly durationMs: number;
  readonly closedLoop: boolean | undefined;

  constructor(
    private readonly plan: Plan,
    private readonly stripe: number,
    private readonly stripes: number,
  ) {
    this.count = plan.count > stripe ? Math.ceil((plan.count - stripe) / stripes) : 0;
    this.durationMs = plan.durationMs;
    this.closedLoop = plan.closedLoop;
  }

  intendedAtMs(j: number): number {
    return this.plan.intendedAtMs(this.stripe + j * this.stripes);
  }

  rateAtPerSec(tMs: number): number {
    return this.plan.rateAtPerSec(tMs) / this.stripes;
  }
}

export function globalIndex(j: number, stripe: number, stripes: number): number {
  return stripe + j * stripes;
}

/** Stripe k's share of `total` (connections, in-flight slots): the shares differ by at most one and sum to `total`. */
export function shareOf(total: number, stripe: number, stripes: number): number {
  return Math.floor(total / stripes) + (stripe < total % stripes ? 1 : 0);
}
