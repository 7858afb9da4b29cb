import type { Histogram } from "hdr-histogram-js";
import { BucketCounter, createLatencyHistogram, recordMs, summarizeMs } from "./histogram.js";
import {
  LATENCY_BUCKET_BOUNDS_MS,
  type CategoryResult,
  type LatencyBucket,
  type Outcome,
  type TimelineEntry,
} from "./result.js";

interface CategoryTally {
  requests: number;
  success: number;
  blocked: number;
  error: number;
  matched: number;
  latency: Histogram;
  buckets: BucketCounter;
}

export interface Counts {
  success: number;
  blocked: number;
  error: number;
  matched: number;
  completed: number;
}

/**
 * Everything measured during a run, in fixed memory: HDR histograms (overall, per category,
 * and one for the current second), counters, and a per-second timeline whose length grows
 * with the run's duration, never with its request count.
 */
export class Recorder {
  readonly latency = createLatencyHistogram();
  readonly serviceTime = createLatencyHistogram();
  readonly sendLag = createLatencyHistogram();
  readonly latencyBuckets = new BucketCounter(LATENCY_BUCKET_BOUNDS_MS);
  readonly counts: Counts = { success: 0, blocked: 0, error: 0, matched: 0, completed: 0 };
  readonly errors: Record<string, number> = {};
  /** First description seen per error kind, for the summary ("connect ECONNREFUSED 127.0.0.1:1"). */
  readonly errorExamples: Record<string, string> = {};
  private readonly tallies: CategoryTally[];
  private readonly timeline: TimelineEntry[] = [];
  private readonly secondLatency = createLatencyHistogram();
  private currentSecond = 0;

  constructor(
    private readonly categoryNames: readonly string[],
    /** Clock ms of the run's t0, to place events in the timeline. */
    private readonly t0Ms: number,
  ) {
    this.tallies = categoryNames.map(() => ({
      requests: 0,
      success: 0,
      blocked: 0,
      error: 0,
      matched: 0,
      latency: createLatencyHistogram(),
      buckets: new BucketCounter(LATENCY_BUCKET_BOUNDS_MS),
    }));
  }

  recordSend(intendedAtMs: number, sentAtMs: number): void {
    recordMs(this.sendLag, sentAtMs - intendedAtMs);
    this.entryAt(sentAtMs).sent++;
  }

  recordCompletion(
    categoryIndex: number,
    outcome: Outcome,
    errorKind: string | undefined,
    matched: boolean,
    intendedAtMs: number,
    sentAtMs: number,
    endAtMs: number,
  ): void {
    const entry = this.entryAt(endAtMs);
    // Latency from the intended send time: a request that waited behind a stalled target carries its wait.
    const latencyMs = endAtMs - intendedAtMs;
    recordMs(this.latency, latencyMs);
    recordMs(this.serviceTime, endAtMs - sentAtMs);
    recordMs(this.secondLatency, latencyMs);
    this.latencyBuckets.record(latencyMs);
    const tally = this.tallies[categoryIndex] as CategoryTally;
    tally.requests++;
    tally[outcome]++;
    recordMs(tally.latency, latencyMs);
    tally.buckets.record(latencyMs);
    this.counts[outcome]++;
    this.counts.completed++;
    entry.completed++;
    entry[outcome]++;
    if (matched) {
      tally.matched++;
      this.counts.matched++;
    }
    if (errorKind !== undefined) this.errors[errorKind] = (this.errors[errorKind] ?? 0) + 1;
  }

  noteErrorExample(kind: string, description: string): void {
    if (!(kind in this.errorExamples)) this.errorExamples[kind] = description;
  }

  categoryResults(): Record<string, CategoryResult> {
    const results: Record<string, CategoryResult> = {};
    this.categoryNames.forEach((name, k) => {
      const tally = this.tallies[k] as CategoryTally;
      results[name] = {
        requests: tally.requests,
        success: tally.success,
        blocked: tally.blocked,
        error: tally.error,
        correctness: tally.requests === 0 ? null : tally.matched / tally.requests,
        latencyMs: summarizeMs(tally.latency),
      };
    });
    return results;
  }

  categoryBuckets(): Record<string, LatencyBucket[]> {
    const buckets: Record<string, LatencyBucket[]> = {};
    this.categoryNames.forEach(
      (name, k) => (buckets[name] = (this.tallies[k] as CategoryTally).buckets.cumulative()),
    );
    return buckets;
  }

  /** Completed seconds plus the current partial one, up to `untilMs` (clock ms). */
  timelineUntil(untilMs: number): TimelineEntry[] {
    this.entryAt(untilMs);
    const current = this.timeline[this.currentSecond];
    if (current) current.latencyMs = this.secondSummary();
    return this.timeline.map((entry) => ({ ...entry, latencyMs: { ...entry.latencyMs } }));
  }

  private secondSummary(): TimelineEntry["latencyMs"] {
    const summary = summarizeMs(this.secondLatency);
    return { p50: summary.p50, p95: summary.p95, p99: summary.p99 };
  }

  /** The timeline entry of the second holding `atMs`, closing earlier seconds on the way. */
  private entryAt(atMs: number): TimelineEntry {
    const second = Math.max(0, Math.floor((atMs - this.t0Ms) / 1000));
    if (second > this.currentSecond) {
      const closing = this.timeline[this.currentSecond];
      if (closing) closing.latencyMs = this.secondSummary();
      this.secondLatency.reset();
      this.currentSecond = second;
    }
    // Events arrive in time order; an event of an already-closed second (rare: a send stamped a
    // moment before a completion that rolled the second) is counted in the current one.
    const target = Math.max(second, this.currentSecond);
    while (this.timeline.length <= target) {
      this.timeline.push({
        t: this.timeline.length,
        sent: 0,
        completed: 0,
        success: 0,
        blocked: 0,
        error: 0,
        latencyMs: { p50: 0, p95: 0, p99: 0 },
      });
    }
    return this.timeline[target] as TimelineEntry;
  }
}
