import { describe, expect, it } from "vitest";
import { constantRatePlan } from "../../src/plan/constant.js";

describe("constantRatePlan (pure schedule, no clock)", () => {
  it("spaces requests evenly at 1/rate, never in per-second bursts", () => {
    const plan = constantRatePlan(100, 10_000);
    expect(plan.count).toBe(1000);
    for (let i = 1; i < plan.count; i++) {
      expect(plan.intendedAtMs(i) - plan.intendedAtMs(i - 1)).toBeCloseTo(10, 9);
    }
    expect(plan.intendedAtMs(0)).toBe(0);
    expect(plan.intendedAtMs(999)).toBeCloseTo(9990, 9);
  });

  it.each([
    [1, 1000, 1],
    [3, 1000, 3],
    [0.5, 10_000, 5],
    [0.3, 10_000, 3],
    [7, 1500, 11], // 10.5 requests due before 1.5 s -> i = 0..10
    [20_000, 1000, 20_000],
    [1000, 1, 1],
  ])("rate %d/s for %d ms holds %d requests, all before the end", (rate, durationMs, expectedCount) => {
    const plan = constantRatePlan(rate, durationMs);
    expect(plan.count).toBe(expectedCount);
    expect(plan.intendedAtMs(plan.count - 1)).toBeLessThan(durationMs);
    // The next one would be at or past the end.
    expect(plan.intendedAtMs(plan.count)).toBeGreaterThanOrEqual(durationMs - 1e-6);
  });

  it("does not accumulate floating-point error over long runs", () => {
    const plan = constantRatePlan(3, 3_600_000);
    expect(plan.intendedAtMs(10_799)).toBeCloseTo(3_599_666.6666667, 5);
  });

  it("rejects non-positive rates and durations", () => {
    expect(() => constantRatePlan(0, 1000)).toThrow(RangeError);
    expect(() => constantRatePlan(10, 0)).toThrow(RangeError);
    expect(() => constantRatePlan(Number.NaN, 1000)).toThrow(RangeError);
  });
});
