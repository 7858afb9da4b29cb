import type { Histogram } from "hdr-histogram-js";
import { BucketCounter, createLatencyHistogram, recordMs, summarizeMs } from "./histogram.js";
import {
  LATENCY_BUCKET_BOUNDS_MS,
  type CategoryResult,
  type LatencyBucket,
  type Outcome,
  type TimelineEntry,
} from "./result.js";

/** Outcomes, expectation matches and an HDR latency histogram for one slice of a run. */
export class OutcomeTally {
  requests = 0;
  success = 0;
  blocked = 0;
  error = 0;
  matched = 0;
  readonly latency: Histogram = createLatencyHistogram();

  record(outcome: Outcome, latencyMs: number, matched: boolean): void {
    this.requests++;
    this[outcome]++;
    if (matched) this.matched++;
    recordMs(this.latency, latencyMs);
  }

  result(): CategoryResult {
    return {
      requests: this.requests,
      success: this.success,
      blocked: this.blocked,
      error: this.error,
      correctness: this.requests === 0 ? null : this.matched / this.requests,
      latencyMs: summarizeMs(this.latency),
    };
  }
}

export interface Counts {
  success: number;
  blocked: number;
  error: number;
  matched: number;
  completed: number;
}

export interface RecorderLayout {
  categoryNames: readonly string[];
  /** Start (ms after t0, by intended send time) of each segment after the first, e.g. stage boundaries. */
  segmentStartsMs?: readonly number[];
  /** The first N requests (by index) are also tallied on their own: the cold start. */
  coldstartWindow?: number;
}

/**
 * Everything measured during a run, in fixed memory: HDR histograms (overall, per category,
 * per segment, and one for the current second), counters, and a per-second timeline whose length
 * grows with the run's duration, never with its request count.
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
  readonly categories: OutcomeTally[];
  readonly segments: OutcomeTally[];
  readonly coldStart = new OutcomeTally();
  private readonly categoryBucketCounters: BucketCounter[];
  private readonly segmentStartsMs: readonly number[];
  private readonly coldstartWindow: number;
  private readonly timeline: TimelineEntry[] = [];
  private readonly secondLatency = createLatencyHistogram();
  private currentSecond = 0;

  constructor(
    private readonly layout: RecorderLayout,
    /** Clock ms of the run's t0, to place events in the timeline and segments. */
    private readonly t0Ms: number,
  ) {
    this.categories = layout.categoryNames.map(() => new OutcomeTally());
    this.categoryBucketCounters = layout.categoryNames.map(() => new BucketCounter(LATENCY_BUCKET_BOUNDS_MS));
    this.segmentStartsMs = layout.segmentStartsMs ?? [];
    this.segments = [0, ...this.segmentStartsMs].map(() => new OutcomeTally());
    this.coldstartWindow = layout.coldstartWindow ?? 0;
  }

  recordSend(intendedAtMs: number, sentAtMs: number): void {
    recordMs(this.sendLag, sentAtMs - intendedAtMs);
    this.entryAt(sentAtMs).sent++;
  }

  recordCompletion(
    index: number,
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
    (this.categories[categoryIndex] as OutcomeTally).record(outcome, latencyMs, matched);
    (this.categoryBucketCounters[categoryIndex] as BucketCounter).record(latencyMs);
    if (this.segments.length > 1) {
      (this.segments[this.segmentOf(intendedAtMs - this.t0Ms)] as OutcomeTally).record(
        outcome,
        latencyMs,
        matched,
      );
    }
    if (index < this.coldstartWindow) this.coldStart.record(outcome, latencyMs, matched);
    this.counts[outcome]++;
    this.counts.completed++;
    entry.completed++;
    entry[outcome]++;
    if (matched) this.counts.matched++;
    if (errorKind !== undefined) this.errors[errorKind] = (this.errors[errorKind] ?? 0) + 1;
  }

  noteErrorExample(kind: string, description: string): void {
    if (!(kind in this.errorExamples)) this.errorExamples[kind] = description;
  }

  categoryResults(): Record<string, CategoryResult> {
    const results: Record<string, CategoryResult> = {};
    this.layout.categoryNames.forEach(
      (name, k) => (results[name] = (this.categories[k] as OutcomeTally).result()),
    );
    return results;
  }

  categoryBuckets(): Record<string, LatencyBucket[]> {
    const buckets: Record<string, LatencyBucket[]> = {};
    this.layout.categoryNames.forEach(
      (name, k) => (buckets[name] = (this.categoryBucketCounters[k] as BucketCounter).cumulative()),
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

  private segmentOf(offsetMs: number): number {
    const starts = this.segmentStartsMs;
    let segment = 0;
    while (segment < starts.length && offsetMs >= (starts[segment] as number)) segment++;
    return segment;
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
