import * as hdr from "hdr-histogram-js";
import { createLatencyHistogram } from "../metrics/histogram.js";

/**
 * A percentile of an HDR histogram and its own uncertainty, from the bucket counts alone
 * (docs/COMPARE.md "How noise is judged"). The true p-quantile lies between the order statistics
 * of ranks `lower` and `upper` with at least the asked confidence, whatever the distribution:
 * the number of samples at or below the true quantile is Binomial(n, p), so the ranks are that
 * binomial's quantiles. The histogram then gives the value of each rank (to its bucket, 0.1%).
 */

export interface QuantileEstimate {
  /** Requests counted. */
  count: number;
  /** The percentile (ms), as the results summaries report it: its bucket's top, at most the maximum. */
  valueMs: number;
  /** Lower confidence bound (ms); 0 when the rank falls below the first sample. */
  lowMs: number;
  /** Upper confidence bound (ms); Infinity when the rank lies beyond the last sample (too few requests). */
  highMs: number;
}

/** Two-sided 95%: each tail 2.5%. */
export const CONFIDENCE = 0.95;

/** Standard normal quantile by Acklam's rational approximation (relative error < 1.2e-9). */
function normalQuantile(probability: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  const poly = (k: number[], x: number): number => k.reduce((sum, coefficient) => sum * x + coefficient, 0);
  if (probability < low) {
    const q = Math.sqrt(-2 * Math.log(probability));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (probability > 1 - low) return -normalQuantile(1 - probability);
  const q = probability - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/**
 * The smallest k with P(Binomial(n, p) <= k) >= target. Exact summation where the binomial is
 * skewed or small (the tails: p99.9 of a short run), the normal approximation with continuity
 * correction where it is wide (n·p·(1−p) above 50, where the two agree within one rank).
 */
export function binomialQuantile(n: number, p: number, target: number): number {
  if (n <= 0) return 0;
  const variance = n * p * (1 - p);
  if (variance > 50) {
    const k = Math.ceil(n * p + normalQuantile(target) * Math.sqrt(variance) - 0.5);
    return Math.min(n, Math.max(0, k));
  }
  // Sum from the side with the small probability so the first term does not underflow.
  if (p > 0.5) return n - 1 - binomialQuantileBelow(n, 1 - p, 1 - target);
  return binomialQuantileAtLeast(n, p, target);
}

/** Smallest k with CDF(k) >= target, summing the pmf from 0 (p <= 0.5, n·p small enough). */
function binomialQuantileAtLeast(n: number, p: number, target: number): number {
  let pmf = Math.exp(n * Math.log1p(-p));
  let cdf = pmf;
  let k = 0;
  while (cdf < target && k < n) {
    pmf *= ((n - k) / (k + 1)) * (p / (1 - p));
    k++;
    cdf += pmf;
  }
  return k;
}

/** Largest k with CDF(k) < target (p <= 0.5), or -1 when CDF(0) already reaches it. */
function binomialQuantileBelow(n: number, p: number, target: number): number {
  let pmf = Math.exp(n * Math.log1p(-p));
  let cdf = pmf;
  let k = 0;
  if (cdf >= target) return -1;
  while (k < n) {
    pmf *= ((n - k) / (k + 1)) * (p / (1 - p));
    if (cdf + pmf >= target) return k;
    k++;
    cdf += pmf;
  }
  return n;
}

/** Ranks (1-based) of the order statistics bounding the p-quantile of n samples at CONFIDENCE. */
export function quantileRankBounds(
  n: number,
  p: number,
  confidence = CONFIDENCE,
): { lower: number; upper: number } {
  const tail = (1 - confidence) / 2;
  // X_(l) <= q_p with probability P(B >= l), X_(u) >= q_p with probability P(B <= u-1), B ~ Bin(n, p).
  const lower = binomialQuantile(n, p, tail);
  const upper = binomialQuantile(n, p, 1 - tail) + 1;
  return { lower, upper };
}

const usToMs = (valueUs: number): number => Math.round(valueUs) / 1000;

/**
 * Values at several ranks (1-based, ascending) in one pass over the buckets: each rank's bucket,
 * read low (`lowestEquivalentValue`) or high (`highestEquivalentValue`).
 */
function valuesAtRanks(
  histogram: hdr.Histogram,
  ranks: ReadonlyArray<{ rank: number; edge: "low" | "high" }>,
): number[] {
  const values = ranks.map(() => Number.NaN);
  const total = histogram.totalCount;
  let next = 0;
  ranks.forEach(({ rank }, index) => {
    if (rank < 1) values[index] = 0;
    else if (rank > total) values[index] = Infinity;
  });
  const wanted = ranks
    .map((entry, index) => ({ ...entry, index }))
    .filter(({ rank }) => rank >= 1 && rank <= total)
    .sort((x, y) => x.rank - y.rank);
  if (wanted.length === 0) return values;
  const js = histogram as hdr.JsHistogram;
  const last = Math.min(js.countsArrayIndex(histogram.maxValue), js.countsArrayLength - 1);
  let cumulative = 0;
  for (let index = 0; index <= last && next < wanted.length; index++) {
    const count = js.getCountAtIndex(index);
    if (count === 0) continue;
    cumulative += count;
    const valueUs = js.valueFromIndex(index);
    while (next < wanted.length && cumulative >= (wanted[next] as { rank: number }).rank) {
      const entry = wanted[next++] as { edge: "low" | "high"; index: number };
      values[entry.index] =
        entry.edge === "low"
          ? js.lowestEquivalentValue(valueUs)
          : Math.min(js.highestEquivalentValue(valueUs), histogram.maxValue);
    }
  }
  while (next < wanted.length) values[(wanted[next++] as { index: number }).index] = histogram.maxValue;
  return values;
}

/**
 * The percentile `percentile` (0..100) of a µs histogram with its confidence interval, in ms.
 * The point value is the rank ⌈p·n⌉ read as its bucket's top, which is how the results file's
 * summaries read it (metrics/histogram.ts summarizeMs), so the figures agree.
 */
export function quantileEstimate(histogram: hdr.Histogram, percentile: number): QuantileEstimate {
  const n = histogram.totalCount;
  if (n === 0) return { count: 0, valueMs: 0, lowMs: 0, highMs: Infinity };
  const p = percentile / 100;
  const pointRank = Math.max(1, Math.ceil(p * n - 1e-9));
  const { lower, upper } = quantileRankBounds(n, p);
  const [valueUs, lowUs, highUs] = valuesAtRanks(histogram, [
    { rank: pointRank, edge: "high" },
    { rank: lower, edge: "low" },
    { rank: upper, edge: "high" },
  ]) as [number, number, number];
  return {
    count: n,
    valueMs: usToMs(valueUs),
    lowMs: usToMs(lowUs),
    highMs: highUs === Infinity ? Infinity : usToMs(highUs),
  };
}

/** Histograms added bucket by bucket (exact): several baseline runs as one sample. */
export function pooled(histograms: readonly hdr.Histogram[]): hdr.Histogram {
  const sum = createLatencyHistogram();
  for (const histogram of histograms) sum.add(histogram);
  return sum;
}
