import { describe, expect, it } from "vitest";
import { Recorder, type RecorderLayout } from "../../src/metrics/recorder.js";
import { summarizeMs } from "../../src/metrics/histogram.js";
import type { Outcome } from "../../src/metrics/result.js";

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Event =
  | { atMs: number; kind: "send"; index: number; intendedAtMs: number }
  | {
      atMs: number;
      kind: "end";
      index: number;
      category: number;
      outcome: Outcome;
      errorKind: string | undefined;
      matched: boolean;
      intendedAtMs: number;
      sentAtMs: number;
    };

/** A run's events in time order: 3,000 requests over 5 s, latencies from 0.2 ms to ~2 s. */
function events(t0Ms: number, seed: number): Event[] {
  const next = random(seed);
  const list: Event[] = [];
  for (let index = 0; index < 3000; index++) {
    const intendedAtMs = t0Ms + (index * 5000) / 3000;
    const sentAtMs = intendedAtMs + next() * 3;
    const tail = next() < 0.01 ? next() * 2000 : 0;
    const endAtMs = sentAtMs + 0.2 + next() * 20 + tail;
    const roll = next();
    const outcome: Outcome = roll < 0.7 ? "success" : roll < 0.95 ? "blocked" : "error";
    list.push({ atMs: sentAtMs, kind: "send", index, intendedAtMs });
    list.push({
      atMs: endAtMs,
      kind: "end",
      index,
      category: index % 3,
      outcome,
      errorKind: outcome === "error" ? (next() < 0.5 ? "timeout" : "http_500") : undefined,
      matched: next() < 0.9,
      intendedAtMs,
      sentAtMs,
    });
  }
  return list.sort((a, b) => a.atMs - b.atMs);
}

function apply(recorder: Recorder, event: Event): void {
  if (event.kind === "send") recorder.recordSend(event.intendedAtMs, event.atMs);
  else {
    recorder.recordCompletion(
      event.index,
      event.category,
      event.outcome,
      event.errorKind,
      event.matched,
      event.intendedAtMs,
      event.sentAtMs,
      event.atMs,
    );
    if (event.errorKind) recorder.noteErrorExample(event.errorKind, `example of ${event.errorKind}`);
  }
}

/** Everything a RunResult takes from a Recorder. */
function view(recorder: Recorder, untilMs: number) {
  return {
    counts: { ...recorder.counts },
    errors: { ...recorder.errors },
    errorExamples: { ...recorder.errorExamples },
    latency: summarizeMs(recorder.latency),
    serviceTime: summarizeMs(recorder.serviceTime),
    sendLag: summarizeMs(recorder.sendLag),
    latencyBuckets: recorder.latencyBuckets.cumulative(),
    categories: recorder.categoryResults(),
    categoryBuckets: recorder.categoryBuckets(),
    segments: recorder.segments.map((tally) => tally.result()),
    coldStart: recorder.coldStart.result(),
    timeline: recorder.timelineUntil(untilMs),
  };
}

/**
 * Equal, numbers within HDR precision: the merged buckets are exact, but a histogram rebuilt
 * from an encoding knows its maximum only as its bucket's top (3 significant digits: < 0.1%),
 * and percentiles are clamped to that maximum.
 */
function expectWithinPrecision(actual: unknown, expected: unknown, path = "$"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    const tolerance = Math.abs(expected) * 1e-3 + 1e-3;
    if (Math.abs(actual - expected) > tolerance) expect.fail(`${path}: ${actual} vs ${expected}`);
    return;
  }
  if (expected !== null && typeof expected === "object") {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected))
      expectWithinPrecision((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}

describe("Recorder drain/absorb (--threads merge)", () => {
  const layout: RecorderLayout = {
    categoryNames: ["normal", "security", "policy"],
    segmentStartsMs: [2000],
    coldstartWindow: 50,
  };

  for (const threads of [2, 3]) {
    it(`${threads} shards drained about every 700 ms merge into exactly the single-thread results`, () => {
      const t0Ms = 10_000;
      const all = events(t0Ms, 42 + threads);
      const single = new Recorder(layout, t0Ms);
      const shards = Array.from({ length: threads }, () => new Recorder(layout, t0Ms, "shard"));
      const merged = new Recorder(layout, t0Ms, "merge");
      const shardSeconds = new Array<number>(threads).fill(0);
      const drain = (k: number): void => {
        const delta = (shards[k] as Recorder).drain();
        // Deltas cross postMessage: they must survive a structured clone unchanged.
        merged.absorb(structuredClone(delta));
        shardSeconds[k] = delta.currentSecond;
        merged.closeSecondsBefore(Math.min(...shardSeconds));
      };
      // Each shard drains on its own cadence (offset per shard), as threads do.
      const nextDrainMs = shards.map((_, k) => t0Ms + 700 + k * 130);
      let lastMs = t0Ms;
      for (const event of all) {
        apply(single, event);
        const k = event.index % threads;
        apply(shards[k] as Recorder, event);
        lastMs = event.atMs;
        for (let s = 0; s < threads; s++) {
          if (event.atMs >= (nextDrainMs[s] as number)) {
            drain(s);
            nextDrainMs[s] = (nextDrainMs[s] as number) + 700;
          }
        }
      }
      for (let s = 0; s < threads; s++) drain(s);
      merged.closeSecondsBefore(Infinity);

      const expected = view(single, lastMs);
      const actual = view(merged, lastMs);
      expect(actual.counts.completed).toBe(3000);
      expect(actual.timeline.reduce((sum, entry) => sum + entry.completed, 0)).toBe(3000);
      // Counts are exact; latencies agree to the histogram's precision.
      expect(actual.counts).toEqual(expected.counts);
      expect(actual.errors).toEqual(expected.errors);
      expect(actual.latencyBuckets).toEqual(expected.latencyBuckets);
      expect(actual.categoryBuckets).toEqual(expected.categoryBuckets);
      expect(actual.timeline.map(({ latencyMs: _latency, ...counts }) => counts)).toEqual(
        expected.timeline.map(({ latencyMs: _latency, ...counts }) => counts),
      );
      expect(actual.latency.p50).toBe(expected.latency.p50);
      expect(actual.latency.p99).toBe(expected.latency.p99);
      expectWithinPrecision(actual, expected);
    });
  }

  it("a drain with nothing new is empty and changes nothing when absorbed", () => {
    const shard = new Recorder(layout, 0, "shard");
    shard.recordSend(0, 1);
    shard.recordCompletion(0, 1, "blocked", undefined, true, 0, 1, 5);
    const merged = new Recorder(layout, 0, "merge");
    merged.absorb(shard.drain());
    const before = view(merged, 10);
    const empty = shard.drain();
    expect(empty.latency).toBe("");
    expect(empty.counts.completed).toBe(0);
    merged.absorb(empty);
    expect(view(merged, 10)).toEqual(before);
    expect(before.categories.security?.blocked).toBe(1);
  });
});

describe("timeline send lag", () => {
  it("keeps each second's largest send lag, by send time, in µs", () => {
    const t0Ms = 1000;
    const recorder = new Recorder({ categoryNames: ["normal"] }, t0Ms);
    recorder.recordSend(t0Ms + 10, t0Ms + 10.25);
    recorder.recordSend(t0Ms + 500, t0Ms + 503.1234);
    recorder.recordSend(t0Ms + 990, t0Ms + 1001.5); // sent in second 1
    recorder.recordSend(t0Ms + 1500, t0Ms + 1500.1);
    const timeline = recorder.timelineUntil(t0Ms + 2500);
    expect(timeline.map((entry) => entry.sendLagMaxMs)).toEqual([3.123, 11.5, 0]);
  });
});
