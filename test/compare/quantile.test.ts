import { describe, expect, it } from "vitest";
import { binomialQuantile, quantileEstimate, quantileRankBounds } from "../../src/compare/quantile.js";
import { proportionChange, wilsonInterval } from "../../src/compare/proportion.js";
import { createLatencyHistogram, recordMs, summarizeMs } from "../../src/metrics/histogram.js";

/** Exact binomial quantile by brute force in log space (slow, for checking only). */
function exactBinomialQuantile(n: number, p: number, target: number): number {
  const logFactorial = [0];
  for (let k = 1; k <= n; k++) logFactorial.push((logFactorial[k - 1] as number) + Math.log(k));
  let cdf = 0;
  for (let k = 0; k <= n; k++) {
    const logPmf =
      (logFactorial[n] as number) -
      (logFactorial[k] as number) -
      (logFactorial[n - k] as number) +
      k * Math.log(p) +
      (n - k) * Math.log1p(-p);
    cdf += Math.exp(logPmf);
    if (cdf >= target) return k;
  }
  return n;
}

/** A small seeded generator (mulberry32), so the coverage check is repeatable. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("binomialQuantile", () => {
  it("matches the exact binomial quantile (exact sums in the tails, the normal approximation within one rank)", () => {
    for (const n of [20, 100, 600, 3000]) {
      for (const p of [0.5, 0.95, 0.99, 0.999]) {
        for (const target of [0.025, 0.975]) {
          const exact = exactBinomialQuantile(n, p, target);
          const got = binomialQuantile(n, p, target);
          const exactRegion = n * p * (1 - p) <= 50;
          if (exactRegion) expect(got, `n=${n} p=${p} target=${target}`).toBe(exact);
          else expect(Math.abs(got - exact), `n=${n} p=${p} target=${target}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });
});

describe("quantileEstimate", () => {
  it("reads the percentile as the results summaries do", () => {
    const next = random(7);
    const histogram = createLatencyHistogram();
    for (let i = 0; i < 5000; i++) recordMs(histogram, -Math.log(1 - next()) * 2);
    const summary = summarizeMs(histogram);
    expect(quantileEstimate(histogram, 50).valueMs).toBe(summary.p50);
    expect(quantileEstimate(histogram, 95).valueMs).toBe(summary.p95);
    expect(quantileEstimate(histogram, 99).valueMs).toBe(summary.p99);
    expect(quantileEstimate(histogram, 99.9).valueMs).toBe(summary.p999);
  });

  it("covers the true quantile about 95% of the time (exponential samples, known quantiles)", () => {
    const next = random(42);
    const meanMs = 2;
    const trials = 300;
    for (const percentile of [50, 95, 99]) {
      const trueMs = -Math.log(1 - percentile / 100) * meanMs;
      let covered = 0;
      for (let trial = 0; trial < trials; trial++) {
        const histogram = createLatencyHistogram();
        for (let i = 0; i < 1000; i++) recordMs(histogram, -Math.log(1 - next()) * meanMs);
        const estimate = quantileEstimate(histogram, percentile);
        // Bucket edges are within 0.1% (3 significant digits): allow that much.
        if (estimate.lowMs <= trueMs * 1.001 && estimate.highMs >= trueMs * 0.999) covered++;
      }
      // 95% nominal; the order-statistic interval is conservative (discrete ranks), never below.
      expect(covered / trials, `P${percentile}`).toBeGreaterThanOrEqual(0.92);
      expect(covered / trials, `P${percentile}`).toBeLessThan(1);
    }
  });

  it("has no upper bound when the rank lies beyond the last request (a tail of a short run)", () => {
    const histogram = createLatencyHistogram();
    for (let i = 1; i <= 100; i++) recordMs(histogram, i / 10);
    const estimate = quantileEstimate(histogram, 99.9);
    expect(estimate.highMs).toBe(Infinity);
    expect(estimate.valueMs).toBe(10);
    expect(quantileRankBounds(100, 0.999).upper).toBeGreaterThan(100);
    // The median of 100 requests is bounded on both sides, around ranks 40..61.
    const median = quantileEstimate(histogram, 50);
    expect(median.lowMs).toBeGreaterThan(3.5);
    expect(median.highMs).toBeLessThan(6.5);
  });

  it("is empty for an empty histogram", () => {
    expect(quantileEstimate(createLatencyHistogram(), 50)).toEqual({
      count: 0,
      valueMs: 0,
      lowMs: 0,
      highMs: Infinity,
    });
  });
});

describe("proportions", () => {
  it("tells a change beyond sampling noise from one within it", () => {
    expect(proportionChange(200, 1000, 210, 1000).significant).toBe(false);
    expect(proportionChange(200, 1000, 100, 1000).significant).toBe(true);
    expect(proportionChange(0, 1000, 0, 1000)).toEqual({ z: 0, significant: false });
    const { low, high } = wilsonInterval(0, 100);
    expect(low).toBe(0);
    expect(high).toBeGreaterThan(0.03);
    expect(high).toBeLessThan(0.04);
  });
});
