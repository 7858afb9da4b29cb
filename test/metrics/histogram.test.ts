import type { JsHistogram } from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import {
  BucketCounter,
  countsIndexOfUs,
  createLatencyHistogram,
  decodeHistogram,
  encodeHistogram,
  recordMs,
  summarizeMs,
} from "../../src/metrics/histogram.js";

describe("latency histograms (HDR, µs, 3 significant digits)", () => {
  it("percentiles stay within 0.1% of the exact value and never exceed the maximum", () => {
    const histogram = createLatencyHistogram();
    const valuesMs = Array.from({ length: 10_000 }, (_, i) => 0.05 + ((i * 7919) % 10_000) / 100); // 0.05..100 ms
    for (const value of valuesMs) recordMs(histogram, value);
    const sorted = [...valuesMs].sort((a, b) => a - b);
    const exact = (p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
    const summary = summarizeMs(histogram);
    for (const [key, p] of [
      ["p50", 50],
      ["p90", 90],
      ["p99", 99],
      ["p999", 99.9],
    ] as const) {
      expect(Math.abs(summary[key] - exact(p)) / exact(p)).toBeLessThan(0.0011);
      expect(summary[key]).toBeLessThanOrEqual(summary.max);
    }
    expect(summary.max).toBeCloseTo(100.04, 1);
    expect(summary.min).toBeCloseTo(0.05, 2);
  });

  it("records a value where the library would: the same index at every bucket edge, the same counts, min, max and total", () => {
    const histogram = createLatencyHistogram() as JsHistogram;
    const values = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 3_599_999_999, 3_600_000_000];
    for (let power = 1; power < 32; power++) {
      for (const delta of [-2, -1, 0, 1, 2]) values.push(2 ** power + delta);
      for (let i = 0; i < 50; i++) values.push(Math.floor(2 ** power + ((i * 7919) % 97) * 2 ** (power - 7)));
    }
    const inRange = values.filter((value) => value >= 0 && value <= 3_600_000_000);
    for (const valueUs of inRange)
      expect([valueUs, countsIndexOfUs(valueUs)]).toEqual([valueUs, histogram.countsArrayIndex(valueUs)]);

    const ours = createLatencyHistogram() as JsHistogram;
    const library = createLatencyHistogram() as JsHistogram;
    for (const valueUs of inRange) {
      recordMs(ours, valueUs / 1000);
      library.recordValue(valueUs);
    }
    expect(ours.totalCount).toBe(library.totalCount);
    expect([ours.minNonZeroValue, ours.maxValue]).toEqual([library.minNonZeroValue, library.maxValue]);
    for (let index = 0; index < library.countsArrayLength; index++) {
      if (ours.getCountAtIndex(index) !== library.getCountAtIndex(index)) {
        expect({ index, count: ours.getCountAtIndex(index) }).toEqual({
          index,
          count: library.getCountAtIndex(index),
        });
      }
    }
    // Clamped, as before: negative to 0, beyond an hour to an hour.
    recordMs(ours, -5);
    recordMs(ours, 5_000_000);
    expect(ours.getCountAtIndex(0)).toBe(library.getCountAtIndex(0) + 1);
    expect(ours.maxValue).toBe(3_600_000_000);
  });

  it("summarizes with exactly the library's own percentiles and mean (one pass instead of six)", () => {
    const usToMs = (valueUs: number) => Math.round(valueUs) / 1000;
    const shapes: Array<(i: number) => number> = [
      (i) => 0.2 + ((i * 7919) % 1000) / 1000, // 0.2..1.2 ms
      (i) => (i % 100 === 0 ? 250 + i / 100 : 0.05 + (i % 37) / 10), // a fast body and a slow tail
      (i) => 10 ** ((i % 700) / 100), // 1 ms .. 10 s, log-spread
      () => 3.3, // one value
    ];
    for (const [shapeIndex, shape] of shapes.entries()) {
      for (const count of [1, 2, 99, 1000, 12_345]) {
        const histogram = createLatencyHistogram();
        for (let i = 0; i < count; i++) recordMs(histogram, shape(i));
        const summary = summarizeMs(histogram);
        const maxUs = histogram.maxValue;
        const library = (percentile: number) =>
          usToMs(Math.min(histogram.getValueAtPercentile(percentile), maxUs));
        const label = `shape ${shapeIndex}, ${count} values`;
        expect({ label, ...summary }).toEqual({
          label,
          min: usToMs(histogram.minNonZeroValue),
          mean: usToMs(histogram.mean),
          p50: library(50),
          p90: library(90),
          p95: library(95),
          p99: library(99),
          p999: library(99.9),
          max: usToMs(maxUs),
        });
      }
    }
  });

  it("has fixed memory: recording a million values does not grow it", () => {
    const histogram = createLatencyHistogram();
    const before = histogram.estimatedFootprintInBytes;
    for (let i = 0; i < 1_000_000; i++) recordMs(histogram, (i % 5000) / 10);
    expect(histogram.estimatedFootprintInBytes).toBe(before);
    expect(histogram.totalCount).toBe(1_000_000);
  });

  it("clamps out-of-range values instead of throwing", () => {
    const histogram = createLatencyHistogram();
    recordMs(histogram, -3);
    recordMs(histogram, 10 * 3_600_000);
    expect(histogram.totalCount).toBe(2);
  });

  it("round-trips through the compressed encoding, for merging snapshots", () => {
    const histogram = createLatencyHistogram();
    for (let i = 1; i <= 1000; i++) recordMs(histogram, i / 10);
    const decoded = decodeHistogram(encodeHistogram(histogram));
    const original = summarizeMs(histogram);
    const roundTripped = summarizeMs(decoded);
    expect(decoded.totalCount).toBe(1000);
    // The encoding keeps bucket counts, not the exact extremes: equal within histogram precision.
    for (const key of Object.keys(original) as Array<keyof typeof original>) {
      expect(Math.abs(roundTripped[key] - original[key])).toBeLessThanOrEqual(original[key] * 0.001 + 0.001);
    }
  });

  it("an empty histogram summarizes to zeros", () => {
    expect(summarizeMs(createLatencyHistogram())).toEqual({
      min: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p95: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });
});

describe("BucketCounter (Prometheus le buckets)", () => {
  it("counts cumulatively with le semantics and a +Inf bucket", () => {
    const counter = new BucketCounter([1, 5, 10]);
    for (const value of [0.5, 1, 1.0001, 5, 7, 10, 11, 1000]) counter.record(value);
    expect(counter.cumulative()).toEqual([
      { leMs: 1, cumulativeCount: 2 },
      { leMs: 5, cumulativeCount: 4 },
      { leMs: 10, cumulativeCount: 6 },
      { leMs: Infinity, cumulativeCount: 8 },
    ]);
  });
});
