import type { Pacing } from "../config/options.js";
import type { Plan } from "../plan/constant.js";
import type { Clock } from "./clock.js";

export interface SchedulerOptions {
  /** Cap on requests in flight (`--workers`). */
  maxInFlight: number;
  /**
   * Longest sleep between two scheduler wake-ups, ms (default 50). One loop with a short tick
   * that sends every overdue request keeps send lag near 1.5 ms on this class of machine, where
   * one timer per request fires up to 2 ms early and chained timers cap out near 900 req/s.
   */
  maxSleepMs?: number;
  /**
   * "precise" (the default): each wake-up is at the next request's due time, to within a fraction
   * of a millisecond, on a clock that can (`Clock.setPreciseTimer`). "tick": a 1 ms tick sends
   * what is due, for the least CPU; libuv's millisecond timers then make requests leave 0–2 ms
   * late (docs/PACING.md).
   */
  pacing?: Pacing;
}

/** `--pacing` when none is given (docs/PACING.md). */
export const DEFAULT_PACING: Pacing = "precise";

const HOT_WINDOW_MS = 10;
type PreciseTimerFn = NonNullable<Clock["setPreciseTimer"]>;
/** How overdue a request may get, waiting for the next tick, before an answer's completion sends it. */
const LATE_RELEASE_MS = 1;
/**
 * Most requests one wake-up sends. Between two batches the event loop runs (I/O, answers, and
 * signal handlers: Ctrl-C must always be acted on), so no wake-up holds the thread for long,
 * whatever `--workers` allows (docs/PACING.md, "Work per wake-up").
 */
export const MAX_SENDS_PER_WAKEUP = 4096;

/**
 * Called for each request the scheduler releases; the caller must call `complete()` once it ends.
 * `heldBack`: it left when an answer freed a slot, after waiting behind the in-flight cap, so its
 * send lag is the target's slowness as much as the generator's.
 */
export type SendFn = (index: number, intendedAtMs: number, sentAtMs: number, heldBack: boolean) => void;

/**
 * Open-loop scheduler (docs/ARCHITECTURE.md "Measurement rules"): request i is due at t0 + plan.intendedAtMs(i)
 * whatever the target does. When `maxInFlight` requests are outstanding, due requests wait in
 * order and leave as soon as a slot frees, keeping their intended time so their wait counts in
 * their latency (no coordinated omission).
 */
export class Scheduler {
  private t0Ms = 0;
  private started = false;
  private nextIndex = 0;
  private inFlight = 0;
  private peakInFlight = 0;
  private timer: unknown = undefined;
  private stopped = false;
  private readonly maxSleepMs: number;
  /** The clock's precise timer when pacing is "precise" and the clock has one. */
  private readonly preciseTimer: PreciseTimerFn | undefined;
  private readonly idleResolvers: Array<() => void> = [];
  /** The last release stopped at the in-flight cap with requests due: completions must release them. */
  private heldBack = false;

  constructor(
    private readonly plan: Plan,
    private readonly clock: Clock,
    private readonly options: SchedulerOptions,
    private readonly send: SendFn,
  ) {
    if (!(options.maxInFlight >= 1)) throw new RangeError("maxInFlight must be >= 1");
    this.maxSleepMs = options.maxSleepMs ?? 50;
    this.preciseTimer =
      (options.pacing ?? DEFAULT_PACING) === "precise" ? clock.setPreciseTimer?.bind(clock) : undefined;
  }

  /**
   * Starts the schedule at `t0Ms` (clock ms; default now); returns t0. Threads pacing stripes of
   * one plan start from one shared t0, a moment ahead, so their stripes interleave evenly.
   */
  start(t0Ms: number = this.clock.nowMs()): number {
    this.t0Ms = t0Ms;
    this.started = true;
    this.tick();
    return this.t0Ms;
  }

  get startedAtMs(): number {
    return this.t0Ms;
  }

  /** Requests released so far. */
  get sent(): number {
    return this.nextIndex;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  get maxInFlightSeen(): number {
    return this.peakInFlight;
  }

  /** True once every planned request was released (or the scheduler was stopped). */
  get finishedSending(): boolean {
    return this.stopped || this.nextIndex >= this.plan.count;
  }

  /** Requests already due at `nowMs` (clock ms) that have not left yet: the queue behind the in-flight cap. */
  dueUnsent(nowMs: number = this.clock.nowMs()): number {
    // A closed loop owes nothing: its requests are due only as slots free. Nor does a schedule
    // that never started (a run interrupted during its warm-up).
    if (this.plan.closedLoop || !this.started) return 0;
    return this.firstNotDueAt(nowMs - this.t0Ms) - this.nextIndex;
  }

  /**
   * The first request not yet due `elapsedMs` after t0: a binary search over the plan's
   * non-decreasing intended times, from the next unsent one. Counting them one by one took
   * minutes (a stalled target, or an absurd rate such as 1e12 req/s) with signals unanswered.
   */
  private firstNotDueAt(elapsedMs: number): number {
    const plan = this.plan;
    let low = this.nextIndex;
    let high = plan.count;
    while (low < high) {
      const mid = low + Math.floor((high - low) / 2);
      if (plan.intendedAtMs(mid) <= elapsedMs) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** One request ended: frees its slot and, if requests wait behind the cap, releases the next. */
  complete(): void {
    this.inFlight--;
    // Below the cap, due requests wait for the next tick (at most 1 ms) instead of leaving one by
    // one as answers come in: a tick's sends then go out together, and their answers arrive
    // together, so the event loop wakes once per batch rather than once per request. That took
    // about a quarter off the generator's CPU per request at 10k req/s open loop (docs/BENCHMARKS.md).
    // Behind the cap the freed slot is used at once: those requests are already late.
    if (!this.stopped) {
      if (this.heldBack) {
        this.release(this.clock.nowMs(), true);
      } else if (this.nextIndex < this.plan.count) {
        // Unless the tick is late: a timer of 1 ms fires 1–3 ms after it was set on a busy loop,
        // and at high rates answers come every few µs, so the first one after a request is
        // LATE_RELEASE_MS overdue sends what is due, and the tick's batch stays the common case.
        const nowMs = this.clock.nowMs();
        if (this.t0Ms + this.plan.intendedAtMs(this.nextIndex) + LATE_RELEASE_MS <= nowMs)
          this.release(nowMs);
      }
    }
    if (this.inFlight === 0 && this.finishedSending) this.notifyIdle();
  }

  /** End of the schedule: releases what is due now (within the cap), then stops. */
  finish(): void {
    if (!this.stopped) this.release(this.clock.nowMs());
    this.stop();
  }

  /** Stops releasing requests (end of run or interrupt). In-flight requests still complete. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.inFlight === 0) this.notifyIdle();
  }

  /** Resolves when everything released has completed and nothing more will be released. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0 && this.finishedSending) return Promise.resolve();
    return new Promise((resolve) => this.idleResolvers.push(resolve));
  }

  private notifyIdle(): void {
    // Emptied in place: storing a new empty array changed the field's type as V8 tracks it and
    // threw away the optimized `complete` when the warm-up's schedule ended.
    const resolvers = this.idleResolvers.splice(0);
    for (const resolve of resolvers) resolve();
  }

  /** Sends what is due (at most MAX_SENDS_PER_WAKEUP); true when due requests are left with free slots. */
  private release(nowMs: number, heldBack = false): boolean {
    const elapsedMs = nowMs - this.t0Ms;
    const plan = this.plan;
    this.heldBack = false;
    let budget = MAX_SENDS_PER_WAKEUP;
    while (this.nextIndex < plan.count) {
      const intendedMs = plan.intendedAtMs(this.nextIndex);
      if (intendedMs > elapsedMs) break;
      if (this.inFlight >= this.options.maxInFlight) {
        this.heldBack = true;
        break;
      }
      if (budget-- === 0) return true;
      const index = this.nextIndex++;
      this.inFlight++;
      if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
      // A closed loop's request is due when its slot frees, i.e. now: it is never late.
      this.send(index, plan.closedLoop ? nowMs : this.t0Ms + intendedMs, nowMs, heldBack);
    }
    return false;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.stopped) return;
    const nowMs = this.clock.nowMs();
    if (this.release(nowMs)) {
      // A full batch with more due: the next one after the event loop has had its turn.
      this.timer = this.clock.setTimer(this.tick, 0);
      return;
    }
    if (this.nextIndex >= this.plan.count) {
      if (this.inFlight === 0) this.notifyIdle();
      return;
    }
    // Within HOT_WINDOW_MS of the next due request: wake at its due time (precise), or tick every
    // 1 ms, which measured here holds send lateness p99 near 1.1 ms on an idle loop, while one long
    // libuv sleep up to the due time wakes up to 3.5 ms late (p99). Far-off requests (low rates)
    // get a long sleep that ends HOT_WINDOW_MS early, so slow schedules do not pay for either.
    const dueAtMs = this.t0Ms + this.plan.intendedAtMs(this.nextIndex);
    const dueInMs = dueAtMs - nowMs;
    if (dueInMs > 2 * HOT_WINDOW_MS)
      this.timer = this.clock.setTimer(
        this.tick,
        Math.min(this.maxSleepMs, Math.floor(dueInMs - HOT_WINDOW_MS)),
      );
    // Behind the in-flight cap, answers release requests (complete()); polling would only spin.
    else if (this.preciseTimer && !this.heldBack) this.timer = this.preciseTimer(this.tick, dueAtMs);
    else this.timer = this.clock.setTimer(this.tick, 1);
  };
}
