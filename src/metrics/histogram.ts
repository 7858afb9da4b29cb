import * as hdr from "hdr-histogram-js";
import type { LatencyBucket, LatencySummaryMs } from "./result.js";

/** One hour in µs: anything slower is clamped (and the run's timeout is far below it). */
const HIGHEST_TRACKABLE_US = 3_600_000_000;

/** Every latency histogram keeps 3 significant digits: each value within 0.1% (docs/ARCHITECTURE.md "HDR histograms"). */
export const LATENCY_SIGNIFICANT_DIGITS = 3;

/**
 * A latency histogram in µs with 3 significant digits (HDR, never sorted samples: docs/ARCHITECTURE.md):
 * its memory is fixed by the range, not by the number of requests.
 */
export function createLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: LATENCY_SIGNIFICANT_DIGITS,
    bitBucketSize: 32,
    autoResize: false,
    useWebAssembly: false,
  });
}

export function recordMs(histogram: hdr.Histogram, valueMs: number): void {
  const rounded = Math.round(valueMs * 1000);
  const valueUs = rounded < 0 ? 0 : rounded > HIGHEST_TRACKABLE_US ? HIGHEST_TRACKABLE_US : rounded;
  if (
    histogram instanceof hdr.JsHistogram &&
    histogram.unitMagnitude === 0 &&
    histogram.subBucketHalfCountMagnitude === SUB_BUCKET_HALF_COUNT_MAGNITUDE
  ) {
    // The library's recordSingleValue, with the index from countsIndexOfUs.
    histogram.incrementCountAtIndex(countsIndexOfUs(valueUs));
    histogram.updateMinAndMax(valueUs);
    histogram.incrementTotalCount();
  } else {
    histogram.recordValue(valueUs);
  }
}

/** 3 significant digits need 2,000 sub-buckets, rounded up to 2^11; half of them is 2^10. */
const SUB_BUCKET_HALF_COUNT_MAGNITUDE = 10;

/**
 * Where hdr-histogram-js counts a value of a `createLatencyHistogram` layout (unit 1 µs, 3
 * digits), with integer operations. The library finds it with Math.log2, Math.floor and two
 * Math.pow per value (its countsArrayIndex); those calls were 2.5% of the generator's CPU at
 * saturation, for the 6 values recorded per request. Every value here is an integer below
 * 2^32 (HIGHEST_TRACKABLE_US), so floor(log2(v)) = 31 − clz32(v) and floor(v / 2^b) = v >>> b.
 * histogram.test.ts checks it against the library's countsArrayIndex, bucket edges included.
 */
export function countsIndexOfUs(valueUs: number): number {
  const bucketIndex = Math.max(31 - Math.clz32(valueUs) - SUB_BUCKET_HALF_COUNT_MAGNITUDE, 0);
  return (
    ((bucketIndex + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) +
    (valueUs >>> bucketIndex) -
    (1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE)
  );
}

/** Rounds to µs so reports do not print float noise like 2.4000000000000004. */
const usToMs = (valueUs: number): number => Math.round(valueUs) / 1000;

const SUMMARY_PERCENTILES = [50, 90, 95, 99, 99.9] as const;

export function summarizeMs(histogram: hdr.Histogram): LatencySummaryMs {
  if (histogram.totalCount === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  // HDR reports a percentile as the highest value equivalent to its bucket, which can exceed the
  // exact maximum by up to 0.1%; clamp so reports never show p99 > max.
  const maxUs = histogram.maxValue;
  const [p50, p90, p95, p99, p999, meanUs] =
    histogram instanceof hdr.JsHistogram
      ? onePassSummary(histogram)
      : [
          ...SUMMARY_PERCENTILES.map((percentile) => histogram.getValueAtPercentile(percentile)),
          histogram.mean,
        ];
  const at = (valueUs: number | undefined): number => usToMs(Math.min(valueUs ?? 0, maxUs));
  return {
    min: usToMs(histogram.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : histogram.minNonZeroValue),
    mean: usToMs(meanUs ?? 0),
    p50: at(p50),
    p90: at(p90),
    p95: at(p95),
    p99: at(p99),
    p999: at(p999),
    max: usToMs(maxUs),
  };
}

/**
 * The five percentiles and the mean in one pass over the buckets up to the maximum, with the
 * library's own arithmetic, so the figures are identical to `getValueAtPercentile` and `mean`
 * (test/metrics/histogram.test.ts compares them). Those scan up to all ~45k buckets once per
 * figure, through an iterator for the mean: about 3 ms per summary when compiled and over 10 ms
 * cold, on the event loop, once a second for the timeline and again for every progress line.
 * At 10k req/s that stall alone put over 1% of sends more than 10 ms late.
 */
function onePassSummary(histogram: hdr.JsHistogram): Float64Array {
  const total = histogram.totalCount;
  // Typed arrays: with plain arrays, a summary whose values were all small integers and one that
  // held a fraction had different elements kinds, and V8 dropped and recompiled this function
  // about once a second (its `--trace-deopt`: "wrong map"), each time on the generator's core.
  const wanted = new Float64Array(SUMMARY_PERCENTILES.length);
  for (let k = 0; k < SUMMARY_PERCENTILES.length; k++) {
    const fpCount = ((SUMMARY_PERCENTILES[k] as number) / 100) * total;
    // hdr-histogram-js rounds up after subtracting one ulp (its `ulp` helper), so do the same.
    wanted[k] = Math.max(Math.ceil(fpCount - 2 ** (Math.floor(Math.log2(fpCount)) - 52)), 1);
  }
  const values = new Float64Array(SUMMARY_PERCENTILES.length + 1);
  let found = 0;
  const lastIndex = Math.min(histogram.countsArrayIndex(histogram.maxValue), histogram.countsArrayLength - 1);
  let cumulative = 0;
  let sum = 0;
  for (let index = 0; index <= lastIndex; index++) {
    const count = histogram.getCountAtIndex(index);
    if (count === 0) continue;
    cumulative += count;
    const valueUs = histogram.valueFromIndex(index);
    sum += histogram.medianEquivalentValue(valueUs) * count;
    while (found < wanted.length && cumulative >= (wanted[found] as number)) {
      values[found++] = histogram.highestEquivalentValue(valueUs);
    }
  }
  while (found < wanted.length) values[found++] = histogram.maxValue;
  values[found] = sum / total;
  return values;
}

/**
 * Encoded, mergeable form (HdrHistogram's compressed base64 log format) for threads, shards and
 * machines; "" when empty (most per-second drains leave some categories untouched).
 */
export function encodeHistogram(histogram: hdr.Histogram): string {
  return histogram.totalCount === 0 ? "" : hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** A shard's histogram since its last drain, encoded, then emptied. About 0.3-0.6 ms for a second of 10k latencies here. */
export function drainEncoded(histogram: hdr.Histogram): string {
  const encoded = encodeHistogram(histogram);
  histogram.reset();
  return encoded;
}

/** Adds an encoded histogram (from `drainEncoded`) into `histogram`: exact, bucket by bucket. */
export function addEncoded(histogram: hdr.Histogram, encoded: string): void {
  if (encoded !== "") histogram.add(decodeHistogram(encoded));
}

/**
 * Fixed Prometheus-style buckets counted beside the HDR histogram: hdr-histogram-js exports no
 * public iterator, and exact counts per `le` bound are what PromQL's histogram_quantile needs.
 */
export class BucketCounter {
  private readonly counts: Float64Array;

  constructor(private readonly boundsMs: readonly number[]) {
    this.counts = new Float64Array(boundsMs.length + 1);
  }

  record(valueMs: number): void {
    const bounds = this.boundsMs;
    let low = 0;
    let high = bounds.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((bounds[mid] as number) < valueMs) low = mid + 1;
      else high = mid;
    }
    (this.counts[low] as number) += 1;
  }

  /** Counts per bucket (not cumulative) since the last drain; the counter restarts from zero. */
  drain(): number[] {
    const counts = Array.from(this.counts);
    this.counts.fill(0);
    return counts;
  }

  absorb(counts: readonly number[]): void {
    counts.forEach((count, i) => ((this.counts[i] as number) += count));
  }

  /** Cumulative counts per bound, ending with `+Inf` (leMs = Infinity). */
  cumulative(): LatencyBucket[] {
    const buckets: LatencyBucket[] = [];
    let running = 0;
    for (let i = 0; i <= this.boundsMs.length; i++) {
      running += this.counts[i] as number;
      buckets.push({
        leMs: i < this.boundsMs.length ? (this.boundsMs[i] as number) : Infinity,
        cumulativeCount: running,
      });
    }
    return buckets;
  }
}
