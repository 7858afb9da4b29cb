import { describe, expect, it } from "vitest";
import { constantRatePlan } from "../../src/plan/constant.js";
import { stagesPlan } from "../../src/plan/ramping.js";
import { globalIndex, shareOf, stripePlan } from "../../src/plan/stripe.js";
import type { Plan } from "../../src/plan/constant.js";

/** Every stripe's (global index, intended time), merged: must be the plan itself. */
function union(plan: Plan, stripes: number): Array<[number, number]> {
  const all: Array<[number, number]> = [];
  for (let k = 0; k < stripes; k++) {
    const stripe = stripePlan(plan, k, stripes);
    for (let j = 0; j < stripe.count; j++) all.push([globalIndex(j, k, stripes), stripe.intendedAtMs(j)]);
  }
  return all.sort((a, b) => a[0] - b[0]);
}

describe("stripePlan (--threads)", () => {
  const plans: Array<[string, Plan]> = [
    ["constant 1000/s × 3 s", constantRatePlan(1000, 3000)],
    ["constant 7/s × 1 s (count not divisible)", constantRatePlan(7, 1000)],
    [
      "k6 stages",
      stagesPlan(
        [
          { durationMs: 2000, targetPerSec: 50 },
          { durationMs: 1000, targetPerSec: 50 },
          { durationMs: 1000, targetPerSec: 0 },
        ],
        0,
      ),
    ],
  ];
  for (const [name, plan] of plans) {
    for (const stripes of [1, 2, 3, 8]) {
      it(`${name}, ${stripes} stripes: the union is the plan, each request once, at its own time`, () => {
        const merged = union(plan, stripes);
        expect(merged).toHaveLength(plan.count);
        merged.forEach(([index, atMs], position) => {
          expect(index).toBe(position);
          expect(atMs).toBe(plan.intendedAtMs(index));
        });
        const counts = Array.from({ length: stripes }, (_, k) => stripePlan(plan, k, stripes).count);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      });
    }
  }

  it("each stripe is itself evenly spaced at rate / stripes", () => {
    const stripe = stripePlan(constantRatePlan(1000, 1000), 1, 4);
    expect(stripe.count).toBe(250);
    expect(stripe.intendedAtMs(0)).toBe(1);
    expect(stripe.intendedAtMs(1) - stripe.intendedAtMs(0)).toBe(4);
    expect(stripe.rateAtPerSec(0)).toBe(250);
  });

  it("a stripe beyond the plan's requests is empty", () => {
    expect(stripePlan(constantRatePlan(1, 1000), 1, 2).count).toBe(0);
  });

  it("rejects stripes out of range", () => {
    const plan = constantRatePlan(10, 1000);
    expect(() => stripePlan(plan, 2, 2)).toThrow(RangeError);
    expect(() => stripePlan(plan, 0, 0)).toThrow(RangeError);
  });

  it("shareOf splits slots so the shares differ by at most one and sum to the total", () => {
    for (const total of [1, 2, 7, 64, 65]) {
      for (const stripes of [1, 2, 3, 8]) {
        if (stripes > total) continue;
        const shares = Array.from({ length: stripes }, (_, k) => shareOf(total, k, stripes));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
        expect(Math.min(...shares)).toBeGreaterThanOrEqual(1);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe("plans share their functions", () => {
  // The scheduler's optimized code inlines intendedAtMs; a function per plan object made V8 drop
  // that code when the measured run's plan replaced the warm-up's (docs/BENCHMARKS.md, "The
  // first measured second").
  it("every constant plan, and every stripe of one, calls the same intendedAtMs", () => {
    const warmUp = constantRatePlan(20_000, 2000);
    const measured = constantRatePlan(20_000, 10_000);
    expect(measured.intendedAtMs).toBe(warmUp.intendedAtMs);
    expect(stripePlan(measured, 1, 2).intendedAtMs).toBe(stripePlan(warmUp, 0, 2).intendedAtMs);
    expect(measured.intendedAtMs(3)).toBe(0.15);
    expect(stripePlan(measured, 1, 2).intendedAtMs(1)).toBe(0.15);
  });
});
