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
  return {
    count: plan.count > stripe ? Math.ceil((plan.count - stripe) / stripes) : 0,
    durationMs: plan.durationMs,
    intendedAtMs: (j) => plan.intendedAtMs(stripe + j * stripes),
    rateAtPerSec: (tMs) => plan.rateAtPerSec(tMs) / stripes,
  };
}

/** The global index of a stripe's j-th request. */
export function globalIndex(j: number, stripe: number, stripes: number): number {
  return stripe + j * stripes;
}

/** Stripe k's share of `total` (connections, in-flight slots): the shares differ by at most one and sum to `total`. */
export function shareOf(total: number, stripe: number, stripes: number): number {
  return Math.floor(total / stripes) + (stripe < total % stripes ? 1 : 0);
}
