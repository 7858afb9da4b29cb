import { describe, expect, it } from "vitest";
import { InputError } from "../../src/config/options.js";
import { constantRatePlan } from "../../src/plan/constant.js";
import { formatStages, parseStages, stagesPlan, type Stage } from "../../src/plan/ramping.js";

/**
 * Exact oracle: rates and durations as BigInt rationals, N(t) computed without rounding, and
 * every float the plan returns converted to the exact rational it represents. The plan is
 * right for request i when N(t) ≤ i just before its time and N(t) > i just after it
 * (tᵢ = inf { t : N(t) > i }, see src/plan/ramping.ts).
 */
interface Q {
  n: bigint;
  d: bigint;
}
const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
};
const q = (n: bigint, d = 1n): Q => {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
};
const add = (x: Q, y: Q): Q => q(x.n * y.d + y.n * x.d, x.d * y.d);
const sub = (x: Q, y: Q): Q => q(x.n * y.d - y.n * x.d, x.d * y.d);
const mul = (x: Q, y: Q): Q => q(x.n * y.n, x.d * y.d);
const div = (x: Q, y: Q): Q => q(x.n * y.d, x.d * y.n);
const cmp = (x: Q, y: Q): number => {
  const left = x.n * y.d;
  const right = y.n * x.d;
  return left < right ? -1 : left > right ? 1 : 0;
};
/** A decimal literal as an exact rational ("0.01" -> 1/100). */
const dec = (text: string): Q => {
  const [whole = "0", fraction = ""] = text.split(".");
  return q(BigInt(whole + fraction), 10n ** BigInt(fraction.length));
};
/** The exact rational value of a finite double. */
const ofDouble = (x: number): Q => {
  let scale = 0;
  while (!Number.isInteger(x * 2 ** scale)) scale++;
  return q(BigInt(x * 2 ** scale), 2n ** BigInt(scale));
};

interface ExactStage {
  durationMs: Q;
  fromPerSec: Q;
  toPerSec: Q;
  startMs: Q;
}

/** Builds the exact model from the same decimal strings the float plan gets. */
function exactModel(stages: Array<[string, string]>, start: string) {
  const model: ExactStage[] = [];
  let from = dec(start);
  let startMs = q(0n);
  for (const [duration, target] of stages) {
    const stage = { durationMs: dec(duration), fromPerSec: from, toPerSec: dec(target), startMs };
    model.push(stage);
    startMs = add(startMs, stage.durationMs);
    from = stage.toPerSec;
  }
  /** N(t) for t in ms: the exact area under the piecewise-linear rate. */
  const countAt = (tMs: Q): Q => {
    let total = q(0n);
    for (const stage of model) {
      if (cmp(tMs, stage.startMs) <= 0) break;
      if (stage.durationMs.n === 0n) continue; // a step: no area
      const endMs = add(stage.startMs, stage.durationMs);
      const spanMs = cmp(tMs, endMs) < 0 ? sub(tMs, stage.startMs) : stage.durationMs;
      const tau = div(spanMs, q(1000n)); // seconds
      const dSec = div(stage.durationMs, q(1000n));
      const slope = div(sub(stage.toPerSec, stage.fromPerSec), dSec);
      total = add(total, add(mul(stage.fromPerSec, tau), div(mul(slope, mul(tau, tau)), q(2n))));
    }
    return total;
  };
  return { countAt, endMs: startMs };
}

const toStages = (stages: Array<[string, string]>): Stage[] =>
  stages.map(([durationMs, target]) => ({ durationMs: Number(durationMs), targetPerSec: Number(target) }));

/** Checks every request of the plan (or a sample) against the exact model. */
function checkAgainstOracle(stages: Array<[string, string]>, start: string, sample?: number[]): void {
  const plan = stagesPlan(toStages(stages), Number(start));
  const exact = exactModel(stages, start);
  const epsMs = q(1n, 1_000_000n); // 1e-6 ms
  const exactTotal = exact.countAt(exact.endMs);
  // count = ceil(N(end)) (within the documented 1e-9 guard).
  const ceilTotal = (exactTotal.n + exactTotal.d - 1n) / exactTotal.d;
  expect(BigInt(plan.count)).toBe(ceilTotal);
  const indices = sample ?? Array.from({ length: plan.count }, (_, i) => i);
  let previous = -Infinity;
  for (const i of indices) {
    const atMs = plan.intendedAtMs(i);
    expect(atMs).toBeGreaterThanOrEqual(0);
    expect(atMs).toBeLessThan(plan.durationMs);
    const t = ofDouble(atMs);
    const before = exact.countAt(sub(t, epsMs));
    const after = exact.countAt(add(t, epsMs));
    const iq = q(BigInt(i));
    if (cmp(before, iq) > 0 || cmp(after, iq) <= 0) {
      throw new Error(
        `request ${i} at ${atMs} ms: N(t-ε)=${Number(before.n) / Number(before.d)}, N(t+ε)=${Number(after.n) / Number(after.d)}`,
      );
    }
    if (sample === undefined) {
      expect(atMs).toBeGreaterThanOrEqual(previous);
      previous = atMs;
    }
  }
}

// The spec's example script: stages 30s->10, 1m->50, 2m->100, 30s->0 (k6 ramping arrival rate).
const SPEC_STAGES: Array<[string, string]> = [
  ["30000", "10"],
  ["60000", "50"],
  ["120000", "100"],
  ["30000", "0"],
];

describe("stagesPlan: k6 ramping arrival rate, exact integral of the ramp", () => {
  it("the spec's four stages ask for 150 + 1800 + 9000 + 1500 = 12,450 requests over 4 minutes", () => {
    const plan = stagesPlan(toStages(SPEC_STAGES));
    expect(plan.count).toBe(12_450);
    expect(plan.durationMs).toBe(240_000);
    expect(plan.peakPerSec).toBe(100);
    expect(plan.intendedAtMs(0)).toBe(0);
    // Request 1 is due when 10/30 · t²/2 = 1: t = √6 s.
    expect(plan.intendedAtMs(1)).toBeCloseTo(Math.sqrt(6) * 1000, 9);
    // Stage boundaries hold whole counts: 150 requests by 30 s, 1,950 by 90 s, 10,950 by 210 s.
    expect(plan.intendedAtMs(150)).toBeCloseTo(30_000, 6);
    expect(plan.intendedAtMs(1950)).toBeCloseTo(90_000, 6);
    expect(plan.intendedAtMs(10_950)).toBeCloseTo(210_000, 6);
    expect(plan.intendedAtMs(12_449)).toBeLessThan(240_000);
    // The ramp ends at 0 req/s: request 12,450 is never due.
    expect(plan.intendedAtMs(12_450)).toBeGreaterThanOrEqual(240_000);
  });

  it("every one of the spec example's 12,450 times matches the exact rational oracle within 1e-6 ms", () => {
    checkAgainstOracle(SPEC_STAGES, "0");
  });

  it.each<[string, Array<[string, string]>, string]>([
    ["ramp up from a start rate", [["10000", "30"]], "10"],
    ["ramp down to zero", [["20000", "0"]], "50"],
    [
      "steps (0 ms stages) and holds",
      [
        ["0", "20"],
        ["5000", "20"],
        ["0", "5"],
        ["5000", "5"],
      ],
      "0",
    ],
    [
      "a zero-rate gap in the middle",
      [
        ["5000", "10"],
        ["0", "0"],
        ["5000", "0"],
        ["0", "10"],
        ["5000", "10"],
      ],
      "10",
    ],
    [
      "a leading zero-rate stage, then a ramp from 0",
      [
        ["7000", "0"],
        ["9000", "12"],
      ],
      "0",
    ],
    [
      "down to 0 and back up (V shape)",
      [
        ["4000", "0"],
        ["4000", "40"],
      ],
      "40",
    ],
    [
      "very low rates (0.01 req/s)",
      [
        ["600000", "0.01"],
        ["3600000", "0.02"],
      ],
      "0.01",
    ],
    ["a ramp from 0 to 0.01 req/s over an hour", [["3600000", "0.01"]], "0"],
    [
      "fractional totals (not a whole number of requests)",
      [
        ["1500", "7"],
        ["333", "3.3"],
      ],
      "7",
    ],
    [
      "nearly flat ramps (slope ≈ 0)",
      [
        ["60000", "100.000001"],
        ["60000", "100"],
      ],
      "100",
    ],
    [
      "odd durations",
      [
        ["1234", "17.5"],
        ["987", "0.5"],
        ["4321", "33.3"],
      ],
      "2.5",
    ],
  ])("matches the exact oracle: %s", (_name, stages, start) => {
    checkAgainstOracle(stages, start);
  });

  it("stays exact far into long, fast runs (1 h at 20,000 req/s, sampled)", () => {
    const stages: Array<[string, string]> = [
      ["600000", "20000"],
      ["3000000", "20000"],
    ];
    const plan = stagesPlan(toStages(stages), 0);
    expect(plan.count).toBe(66_000_000);
    const sample = [0, 1, 2, 5_999_999, 6_000_000, 6_000_001, 33_333_333, 65_999_998, 65_999_999];
    checkAgainstOracle(stages, "0", sample);
  });

  it("sends nothing while the rate is zero; time passes", () => {
    const plan = stagesPlan(
      [
        { durationMs: 5000, targetPerSec: 10 },
        { durationMs: 0, targetPerSec: 0 },
        { durationMs: 5000, targetPerSec: 0 },
        { durationMs: 0, targetPerSec: 10 },
        { durationMs: 5000, targetPerSec: 10 },
      ],
      10,
    );
    expect(plan.count).toBe(100);
    expect(plan.intendedAtMs(49)).toBeCloseTo(4900, 9);
    // Request 50 is due when the rate resumes, not at the start of the gap.
    expect(plan.intendedAtMs(50)).toBe(10_000);
    expect(plan.intendedAtMs(99)).toBeCloseTo(14_900, 9);
    const times = Array.from({ length: plan.count }, (_, i) => plan.intendedAtMs(i));
    expect(times.filter((t) => t >= 5000 && t < 10_000)).toEqual([]);
  });

  it("a leading zero-rate stage delays request 0 to the start of the ramp", () => {
    const plan = stagesPlan(
      [
        { durationMs: 7000, targetPerSec: 0 },
        { durationMs: 2000, targetPerSec: 10 },
      ],
      0,
    );
    expect(plan.count).toBe(10);
    expect(plan.intendedAtMs(0)).toBe(7000);
    expect(plan.intendedAtMs(1)).toBeCloseTo(7000 + Math.sqrt(0.4) * 1000, 9);
  });

  it("counts: request i belongs to the run when its time is before the end", () => {
    // 0 -> 1 req/s over 3 s asks for 1.5 requests: i = 0 at 0 s and i = 1 at √6 s.
    const ramp = stagesPlan([{ durationMs: 3000, targetPerSec: 1 }]);
    expect(ramp.count).toBe(2);
    expect(ramp.intendedAtMs(1)).toBeCloseTo(Math.sqrt(6) * 1000, 9);
    // 0.01 req/s for 10 minutes: 6 requests, 100 s apart.
    const slow = stagesPlan([{ durationMs: 600_000, targetPerSec: 0.01 }], 0.01);
    expect(slow.count).toBe(6);
    expect(Array.from({ length: 6 }, (_, i) => slow.intendedAtMs(i))).toEqual([
      0, 100_000, 200_000, 300_000, 400_000, 500_000,
    ]);
    // Stages that ask for nothing are a valid (empty) plan; parseStages rejects them for users.
    expect(stagesPlan([{ durationMs: 1000, targetPerSec: 0 }]).count).toBe(0);
  });

  it.each([
    [1, 1000],
    [3, 1000],
    [0.5, 10_000],
    [0.3, 10_000],
    [7, 1500],
    [100, 10_000],
    [20_000, 1000],
    [1000, 1],
    [3, 3_600_000],
    [0.1, 30_000],
  ])("a single stage held at %d req/s for %d ms is constantRatePlan", (rate, durationMs) => {
    const ramping = stagesPlan([{ durationMs, targetPerSec: rate }], rate);
    const constant = constantRatePlan(rate, durationMs);
    expect(ramping.count).toBe(constant.count);
    expect(ramping.durationMs).toBe(constant.durationMs);
    for (let i = 0; i < constant.count; i += Math.max(1, Math.floor(constant.count / 2000))) {
      const expected = constant.intendedAtMs(i);
      expect(Math.abs(ramping.intendedAtMs(i) - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, expected));
    }
    expect(ramping.rateAtPerSec(durationMs / 2)).toBe(constant.rateAtPerSec(durationMs / 2));
  });

  it("is monotonic non-decreasing, and O(log #stages) per lookup holds for many stages", () => {
    const stages: Stage[] = Array.from({ length: 500 }, (_, k) => ({
      durationMs: 100 + (k % 7) * 50,
      targetPerSec: k % 5 === 0 ? 0 : 10 + ((k * 37) % 90),
    }));
    const plan = stagesPlan(stages, 3);
    let previous = -Infinity;
    for (let i = 0; i < plan.count; i++) {
      const t = plan.intendedAtMs(i);
      expect(t).toBeGreaterThanOrEqual(previous);
      previous = t;
    }
    expect(previous).toBeLessThan(plan.durationMs);
  });

  it("rateAtPerSec interpolates linearly within a stage and is continuous at boundaries", () => {
    const plan = stagesPlan(toStages(SPEC_STAGES));
    expect(plan.rateAtPerSec(0)).toBe(0);
    expect(plan.rateAtPerSec(15_000)).toBe(5);
    expect(plan.rateAtPerSec(30_000)).toBe(10);
    expect(plan.rateAtPerSec(60_000)).toBe(30);
    expect(plan.rateAtPerSec(90_000)).toBe(50);
    expect(plan.rateAtPerSec(150_000)).toBe(75);
    expect(plan.rateAtPerSec(225_000)).toBe(50);
    expect(plan.rateAtPerSec(239_999)).toBeCloseTo(0.00333, 4);
    expect(plan.rateAtPerSec(240_000)).toBe(0);
    expect(plan.rateAtPerSec(-5)).toBe(0);
    // A 0 ms stage is a step: the rate jumps at once.
    const steps = stagesPlan(
      [
        { durationMs: 1000, targetPerSec: 10 },
        { durationMs: 0, targetPerSec: 50 },
        { durationMs: 1000, targetPerSec: 50 },
      ],
      10,
    );
    expect(steps.rateAtPerSec(999)).toBe(10);
    expect(steps.rateAtPerSec(1000)).toBe(50);
    expect(steps.count).toBe(60);
    expect(steps.intendedAtMs(10)).toBe(1000);
    expect(steps.intendedAtMs(11)).toBeCloseTo(1020, 9);
  });

  it("expectedCountAtMs is N(t), the integral of the asked rate", () => {
    const plan = stagesPlan(toStages(SPEC_STAGES));
    expect(plan.expectedCountAtMs(0)).toBe(0);
    expect(plan.expectedCountAtMs(30_000)).toBeCloseTo(150, 9);
    expect(plan.expectedCountAtMs(15_000)).toBeCloseTo(37.5, 9);
    expect(plan.expectedCountAtMs(90_000)).toBeCloseTo(1950, 9);
    expect(plan.expectedCountAtMs(240_000)).toBe(12_450);
    expect(plan.expectedCountAtMs(1e9)).toBe(12_450);
  });

  it("rejects invalid stages with RangeError", () => {
    expect(() => stagesPlan([])).toThrow(RangeError);
    expect(() => stagesPlan([{ durationMs: -1, targetPerSec: 1 }])).toThrow(/stage 1: duration/);
    expect(() => stagesPlan([{ durationMs: 1000, targetPerSec: Number.NaN }])).toThrow(/stage 1: target/);
    expect(() => stagesPlan([{ durationMs: 0, targetPerSec: 5 }])).toThrow(/longer than 0 ms/);
    expect(() => stagesPlan([{ durationMs: 1000, targetPerSec: 5 }], -1)).toThrow(/start rate/);
  });
});

describe("parseStages (--stages DURATION:TARGET,…)", () => {
  it("parses the spec's k6 stages", () => {
    expect(parseStages("30s:10,1m:50,2m:100,30s:0")).toEqual([
      { durationMs: 30_000, targetPerSec: 10 },
      { durationMs: 60_000, targetPerSec: 50 },
      { durationMs: 120_000, targetPerSec: 100 },
      { durationMs: 30_000, targetPerSec: 0 },
    ]);
  });

  it("accepts spaces, bare seconds, ms, fractional rates and 0 s steps", () => {
    expect(parseStages(" 1m30s : 0.5 , 500ms:2, 0s:100, 10:100 ")).toEqual([
      { durationMs: 90_000, targetPerSec: 0.5 },
      { durationMs: 500, targetPerSec: 2 },
      { durationMs: 0, targetPerSec: 100 },
      { durationMs: 10_000, targetPerSec: 100 },
    ]);
  });

  it.each([
    ["", 'item 1 "": empty'],
    ["30s:10,,1m:50", 'item 2 "": empty'],
    ["30s", 'item 1 "30s": no ":"'],
    ["30s:10,1x:50", 'item 2 "1x:50": "1x" is not a duration'],
    ["30s:ten", 'item 1 "30s:ten": target "ten" must be a rate ≥ 0'],
    ["30s:-5", 'item 1 "30s:-5": target "-5" must be a rate ≥ 0'],
    ["30s:", 'item 1 "30s:": target "" must be a rate ≥ 0'],
    ["0s:10", "the stages last 0 s in total"],
    ["30s:0,1m:0", "every target is 0"],
  ])("rejects %j naming --stages and the bad item", (text, message) => {
    let error: unknown;
    try {
      parseStages(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe("--stages");
    expect((error as InputError).message).toContain(message);
  });

  it("a ramp down from a start rate may have only zero targets", () => {
    expect(parseStages("30s:0", 50)).toEqual([{ durationMs: 30_000, targetPerSec: 0 }]);
  });

  it("formatStages writes the --stages form back", () => {
    expect(formatStages(parseStages("30s:10,1m:50,2m:100,30s:0,1m30s:5,250ms:1"))).toBe(
      "30s:10,1m:50,2m:100,30s:0,1m30s:5,250ms:1",
    );
  });
});
