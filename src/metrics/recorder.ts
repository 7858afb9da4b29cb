import type { Histogram } from "hdr-histogram-js";
import {
  addEncoded,
  BucketCounter,
  createLatencyHistogram,
  drainEncoded,
  recordMs,
  summarizeMs,
} from "./histogram.js";
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

  /** What was recorded since the last drain, serializable (HDR encoded); the tally restarts from zero. */
  drain(): TallyDelta {
    const delta: TallyDelta = {
      requests: this.requests,
      success: this.success,
      blocked: this.blocked,
      error: this.error,
      matched: this.matched,
      latency: drainEncoded(this.latency),
    };
    this.requests = this.success = this.blocked = this.error = this.matched = 0;
    return delta;
  }

  /** Adds another tally's drained delta: exact, the HDR counts are summed bucket by bucket. */
  absorb(delta: TallyDelta): void {
    this.requests += delta.requests;
    this.success += delta.success;
    this.blocked += delta.blocked;
    this.error += delta.error;
    this.matched += delta.matched;
    addEncoded(this.latency, delta.latency);
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

/** An OutcomeTally's counts since its last drain, with its latency histogram encoded ("" when empty). */
export interface TallyDelta {
  requests: number;
  success: number;
  blocked: number;
  error: number;
  matched: number;
  latency: string;
}

/** One timeline second's counts since the last drain, with its latency histogram encoded. */
export interface SecondDelta extends Omit<TimelineEntry, "latencyMs"> {
  latency: string;
  /** With `secondsByCategory`: the second's latency per category (layout order), "" when empty. */
  categories?: string[];
}

/**
 * Everything a shard's Recorder measured since its last drain (`--threads`: sent by each worker
 * thread once a second). Plain data, so it crosses `postMessage`; HDR histograms travel in their
 * compressed encoding and are merged exactly by `Recorder.absorb`.
 */
export interface RecorderDelta {
  latency: string;
  serviceTime: string;
  queueTime: string;
  sendLag: string;
  ownSendLag: string;
  latencyBuckets: number[];
  counts: Counts;
  errors: Record<string, number>;
  errorExamples: Record<string, string>;
  categories: TallyDelta[];
  categoryBuckets: number[][];
  segments: TallyDelta[];
  coldStart: TallyDelta;
  seconds: SecondDelta[];
  /** The shard's current second: it records nothing earlier from now on. */
  currentSecond: number;
}

/**
 * Receives a closed timeline second's latency histogram and, with `secondsByCategory`, its
 * latency per category in layout order (all valid only during the call).
 */
export type SecondListener = (
  second: number,
  latency: Histogram,
  latencyByCategory: readonly Histogram[] | undefined,
) => void;

/**
 * Where a run's per-second latency histograms go as their seconds close (engine/run.ts feeds
 * it; report/hdr-log.ts writes `--hdr-log`). One sink may take several runs in a row (ladder
 * steps, profile phases).
 */
export interface LatencyIntervalSink {
  /**
   * A measured run starts: `t0EpochMs` is its t0 (second 0 of its timeline) in epoch ms, and
   * `categoryNames` the categories of its mix.
   */
  runStarted(t0EpochMs: number, categoryNames: readonly string[]): void;
  /**
   * Responses completed in second [t, t+1) of the current run, seconds ascending, overall and
   * per category (in `categoryNames` order); the histograms are only valid during the call.
   */
  interval(second: number, latency: Histogram, latencyByCategory: readonly Histogram[] | undefined): void;
  /** The run is over; its timeline ends with second `lastSecond`. */
  runEnded(lastSecond: number): void;
}

/**
 * How a Recorder closes timeline seconds (their percentiles): `direct` when the next second
 * starts (one thread records everything); `shard` never (a worker thread's drains carry the
 * seconds' histograms to the main thread); `merge` when told, once every shard has moved past.
 */
export type RecorderMode = "direct" | "shard" | "merge";

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
  /** Keep each timeline second's latency per category too (`--hdr-log`'s tagged lines). */
  secondsByCategory?: boolean;
}

/**
 * Everything measured during a run, in fixed memory: HDR histograms (overall, per category,
 * per segment, and one for the current second), counters, and a per-second timeline whose length
 * grows with the run's duration, never with its request count.
 */
export class Recorder {
  readonly latency = createLatencyHistogram();
  /** From the write on a connection to the end; only requests that were written. */
  readonly serviceTime = createLatencyHistogram();
  /** From the send to the write: waiting for a connection or an HTTP/2 stream slot. */
  readonly queueTime = createLatencyHistogram();
  readonly sendLag = createLatencyHistogram();
  /** Send lag of the requests the in-flight cap did not hold back: the generator's own lateness. */
  readonly ownSendLag = createLatencyHistogram();
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
  /**
   * Starts with second 0 (every run has one): an empty array literal has another elements kind
   * than a filled one, and V8 dropped the optimized recording code when the measured run's fresh
   * recorder replaced the warm-up's ("wrong map" on this array).
   */
  private readonly timeline: TimelineEntry[] = [emptySecond(0)];
  /** Latencies of the timeline seconds not closed yet, by second; closed ones give theirs back to `spareHistograms`. */
  private readonly openSeconds = new Map<number, Histogram>();
  /** With `secondsByCategory`: the open seconds' latency per category, in layout order. */
  private readonly openCategorySeconds = new Map<number, Histogram[]>();
  private readonly secondsByCategory: boolean;
  private readonly spareHistograms: Histogram[] = [];
  private currentSecond = 0;
  /** Shard mode: the first timeline second not drained yet. */
  private undrainedFromSecond = 0;
  private secondListener: SecondListener | undefined;

  constructor(
    private readonly layout: RecorderLayout,
    /** Clock ms of the run's t0, to place events in the timeline and segments. */
    private readonly t0Ms: number,
    private readonly mode: RecorderMode = "direct",
  ) {
    this.categories = layout.categoryNames.map(() => new OutcomeTally());
    this.categoryBucketCounters = layout.categoryNames.map(() => new BucketCounter(LATENCY_BUCKET_BOUNDS_MS));
    this.segmentStartsMs = layout.segmentStartsMs ?? [];
    this.segments = [0, ...this.segmentStartsMs].map(() => new OutcomeTally());
    this.coldstartWindow = layout.coldstartWindow ?? 0;
    this.secondsByCategory = layout.secondsByCategory === true;
  }

  recordSend(intendedAtMs: number, sentAtMs: number, heldBack = false): void {
    recordMs(this.sendLag, sentAtMs - intendedAtMs);
    if (!heldBack) recordMs(this.ownSendLag, sentAtMs - intendedAtMs);
    const entry = this.entryAt(sentAtMs);
    entry.sent++;
    // µs like the histograms; compared before rounding, so most sends cost one comparison.
    if (sentAtMs - intendedAtMs > (entry.sendLagMaxMs as number))
      entry.sendLagMaxMs = Math.round((sentAtMs - intendedAtMs) * 1000) / 1000;
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
    /** When the transport wrote it; NaN when it never did (all its time was queue time). */
    writtenAtMs: number = sentAtMs,
  ): void {
    const entry = this.entryAt(endAtMs);
    // Latency from the intended send time: a request that waited behind a stalled target carries its wait.
    const latencyMs = endAtMs - intendedAtMs;
    recordMs(this.latency, latencyMs);
    if (Number.isNaN(writtenAtMs)) {
      recordMs(this.queueTime, endAtMs - sentAtMs);
    } else {
      recordMs(this.serviceTime, endAtMs - writtenAtMs);
      recordMs(this.queueTime, writtenAtMs - sentAtMs);
    }
    recordMs(this.secondHistogram(entry.t), latencyMs);
    if (this.secondsByCategory)
      recordMs(this.categorySecondHistograms(entry.t)[categoryIndex] as Histogram, latencyMs);
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
    for (const [second, histogram] of this.openSeconds) {
      const entry = this.timeline[second];
      if (entry) entry.latencyMs = secondSummary(histogram);
    }
    return this.timeline.map((entry) => ({ ...entry, latencyMs: { ...entry.latencyMs } }));
  }

  /**
   * Shard mode: everything recorded since the last drain, as plain data; the histograms,
   * counters and drained timeline seconds restart from zero, so each event travels once.
   */
  drain(): RecorderDelta {
    const seconds: SecondDelta[] = [];
    for (let t = this.undrainedFromSecond; t < this.timeline.length; t++) {
      const entry = this.timeline[t] as TimelineEntry;
      const histogram = this.openSeconds.get(t);
      const byCategory = this.openCategorySeconds.get(t);
      seconds.push({
        t,
        sent: entry.sent,
        completed: entry.completed,
        success: entry.success,
        blocked: entry.blocked,
        error: entry.error,
        sendLagMaxMs: entry.sendLagMaxMs,
        latency: histogram ? drainEncoded(histogram) : "",
        ...(byCategory ? { categories: byCategory.map(drainEncoded) } : {}),
      });
      entry.sent = entry.completed = entry.success = entry.blocked = entry.error = 0;
      entry.sendLagMaxMs = 0;
      if (histogram && t < this.currentSecond) this.releaseSecond(t, histogram);
    }
    this.undrainedFromSecond = this.currentSecond;
    const counts = { ...this.counts };
    this.counts.success = this.counts.blocked = this.counts.error = this.counts.matched = 0;
    this.counts.completed = 0;
    const errors = { ...this.errors };
    for (const kind of Object.keys(this.errors)) delete this.errors[kind];
    return {
      latency: drainEncoded(this.latency),
      serviceTime: drainEncoded(this.serviceTime),
      queueTime: drainEncoded(this.queueTime),
      sendLag: drainEncoded(this.sendLag),
      ownSendLag: drainEncoded(this.ownSendLag),
      latencyBuckets: this.latencyBuckets.drain(),
      counts,
      errors,
      // Examples are few (one per error kind) and only the first of each counts: sent whole.
      errorExamples: { ...this.errorExamples },
      categories: this.categories.map((tally) => tally.drain()),
      categoryBuckets: this.categoryBucketCounters.map((counter) => counter.drain()),
      segments: this.segments.map((tally) => tally.drain()),
      coldStart: this.coldStart.drain(),
      seconds,
      currentSecond: this.currentSecond,
    };
  }

  /** Merge mode: adds a shard's drained delta (same layout and t0); exact to the HDR bucket. */
  absorb(delta: RecorderDelta): void {
    addEncoded(this.latency, delta.latency);
    addEncoded(this.serviceTime, delta.serviceTime);
    addEncoded(this.queueTime, delta.queueTime);
    addEncoded(this.sendLag, delta.sendLag);
    addEncoded(this.ownSendLag, delta.ownSendLag);
    this.latencyBuckets.absorb(delta.latencyBuckets);
    for (const key of ["success", "blocked", "error", "matched", "completed"] as const)
      this.counts[key] += delta.counts[key];
    for (const [kind, count] of Object.entries(delta.errors))
      this.errors[kind] = (this.errors[kind] ?? 0) + count;
    for (const [kind, example] of Object.entries(delta.errorExamples)) this.noteErrorExample(kind, example);
    delta.categories.forEach((tally, k) => this.categories[k]?.absorb(tally));
    delta.categoryBuckets.forEach((counts, k) => this.categoryBucketCounters[k]?.absorb(counts));
    delta.segments.forEach((tally, k) => this.segments[k]?.absorb(tally));
    this.coldStart.absorb(delta.coldStart);
    for (const second of delta.seconds) {
      const entry = this.entryAt(this.t0Ms + second.t * 1000);
      entry.sent += second.sent;
      entry.completed += second.completed;
      entry.success += second.success;
      entry.blocked += second.blocked;
      entry.error += second.error;
      entry.sendLagMaxMs = Math.max(entry.sendLagMaxMs as number, second.sendLagMaxMs ?? 0);
      if (second.latency !== "") addEncoded(this.secondHistogram(entry.t), second.latency);
      if (this.secondsByCategory && second.categories) {
        const byCategory = this.categorySecondHistograms(entry.t);
        second.categories.forEach((encoded, k) => {
          const histogram = byCategory[k];
          if (histogram) addEncoded(histogram, encoded);
        });
      }
    }
  }

  /**
   * Calls `listener` with each timeline second's latency histogram as the second closes, in
   * ascending order (`--hdr-log`). The histogram is reused once the call returns: encode it
   * then, keep nothing live. Seconds in which nothing completed have no histogram and no call.
   */
  onSecondClosed(listener: SecondListener | undefined): void {
    this.secondListener = listener;
  }

  /**
   * Closes the seconds before `second`: merge mode once every shard has moved past them, direct
   * mode as the next second starts, and any mode with Infinity once the run is over.
   */
  closeSecondsBefore(second: number): void {
    const closing: number[] = [];
    for (const t of this.openSeconds.keys()) if (t < second) closing.push(t);
    // Merged deltas can open a later second before an earlier one (another thread's).
    if (closing.length > 1) closing.sort((a, b) => a - b);
    for (const t of closing) {
      const histogram = this.openSeconds.get(t) as Histogram;
      const entry = this.timeline[t];
      if (entry) entry.latencyMs = secondSummary(histogram);
      this.secondListener?.(t, histogram, this.openCategorySeconds.get(t));
      this.releaseSecond(t, histogram);
    }
  }

  private segmentOf(offsetMs: number): number {
    const starts = this.segmentStartsMs;
    let segment = 0;
    while (segment < starts.length && offsetMs >= (starts[segment] as number)) segment++;
    return segment;
  }

  private secondHistogram(second: number): Histogram {
    let histogram = this.openSeconds.get(second);
    if (!histogram) {
      histogram = this.spareHistograms.pop() ?? createLatencyHistogram();
      this.openSeconds.set(second, histogram);
    }
    return histogram;
  }

  private categorySecondHistograms(second: number): Histogram[] {
    let histograms = this.openCategorySeconds.get(second);
    if (!histograms) {
      histograms = this.layout.categoryNames.map(
        () => this.spareHistograms.pop() ?? createLatencyHistogram(),
      );
      this.openCategorySeconds.set(second, histograms);
    }
    return histograms;
  }

  private releaseSecond(second: number, histogram: Histogram): void {
    this.openSeconds.delete(second);
    histogram.reset();
    this.spareHistograms.push(histogram);
    const byCategory = this.openCategorySeconds.get(second);
    if (byCategory) {
      this.openCategorySeconds.delete(second);
      for (const spare of byCategory) {
        spare.reset();
        this.spareHistograms.push(spare);
      }
    }
  }

  /** The timeline entry of the second holding `atMs`, closing earlier seconds on the way (direct mode). */
  private entryAt(atMs: number): TimelineEntry {
    const second = Math.max(0, Math.floor((atMs - this.t0Ms) / 1000));
    if (second > this.currentSecond) {
      this.currentSecond = second;
      if (this.mode === "direct") this.closeSecondsBefore(second);
    }
    // Events arrive in time order; an event of an already-closed second (rare: a send stamped a
    // moment before a completion that rolled the second) is counted in the current one. Merged
    // deltas name their own seconds, which stay open until every shard has moved past them.
    const target = this.mode === "merge" ? second : Math.max(second, this.currentSecond);
    while (this.timeline.length <= target) this.timeline.push(emptySecond(this.timeline.length));
    return this.timeline[target] as TimelineEntry;
  }
}

function emptySecond(t: number): TimelineEntry {
  return {
    t,
    sent: 0,
    completed: 0,
    success: 0,
    blocked: 0,
    error: 0,
    latencyMs: { p50: 0, p95: 0, p99: 0 },
    sendLagMaxMs: 0,
  };
}

function secondSummary(histogram: Histogram): TimelineEntry["latencyMs"] {
  const summary = summarizeMs(histogram);
  return { p50: summary.p50, p95: summary.p95, p99: summary.p99 };
}
