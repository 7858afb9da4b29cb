import { performance } from "node:perf_hooks";

/**
 * The scheduler's only view of time, injectable so timing tests are deterministic.
 */
export interface Clock {
  /** Monotonic milliseconds with sub-millisecond resolution. */
  nowMs(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  /**
   * Calls back at `atMs` (clock ms), to within a fraction of a millisecond; `clearTimer` cancels
   * it. Optional: on a clock without it the scheduler ticks every millisecond (`--pacing tick`).
   */
  setPreciseTimer?(callback: () => void, atMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * `performance.now()` counts from a time origin of its own, and worker threads (`--threads`)
 * pace stripes of one schedule from one shared t0: every thread therefore reads the same
 * process-wide monotonic clock (hrtime, CLOCK_MONOTONIC), measured once against `performance.now()`,
 * which stays the cheap read on the hot path.
 */
const MONOTONIC_OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - performance.now();

const monotonicNowMs = (): number => performance.now() + MONOTONIC_OFFSET_MS;

/**
 * The last COARSE_MARGIN_MS of a precise wait are spent polling, not in a libuv timer: libuv
 * counts whole milliseconds (its loop time and epoll's timeout), so a timer fires up to ~1.5 ms
 * early or 1 ms late before the loop is even busy.
 */
const COARSE_MARGIN_MS = 2;
/**
 * Longest nap between two polls of the event loop, in the final stretch of a precise wait. A nap
 * blocks the thread, so an answer that arrives during one is read up to this much later; it keeps
 * an otherwise idle wait at ~0.1–0.15 of a core here, where polling without naps takes the whole
 * core (docs/BENCHMARKS.md, "Sub-millisecond pacing").
 */
const NAP_MS = 0.1;
/** Nothing ever notifies this cell: `Atomics.wait` on it is a sleep whose timeout is in ns (a futex). */
const NAP_CELL = new Int32Array(new SharedArrayBuffer(4));

/**
 * A wake-up at an exact time. Node has no timer finer than libuv's millisecond, so the bulk of the
 * wait is a libuv timer and the rest polls: `setImmediate` makes libuv poll I/O without blocking,
 * then a nap of at most NAP_MS, until the time has come. Written by hand because no library offers
 * sub-millisecond timers to an event loop.
 */
class PreciseTimer {
  private timeout: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly callback: () => void,
    private readonly atMs: number,
  ) {
    this.arm(atMs - monotonicNowMs());
  }

  cancel(): void {
    if (this.timeout !== undefined) clearTimeout(this.timeout);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timeout = this.immediate = undefined;
  }

  private arm(remainingMs: number): void {
    if (remainingMs > COARSE_MARGIN_MS + 1)
      this.timeout = setTimeout(this.check, Math.floor(remainingMs - COARSE_MARGIN_MS));
    else this.immediate = setImmediate(this.check);
  }

  private readonly check = (): void => {
    this.timeout = this.immediate = undefined;
    let remainingMs = this.atMs - monotonicNowMs();
    if (remainingMs > 0 && remainingMs <= COARSE_MARGIN_MS + 1) {
      Atomics.wait(NAP_CELL, 0, 0, Math.min(remainingMs, NAP_MS));
      remainingMs = this.atMs - monotonicNowMs();
    }
    if (remainingMs <= 0) this.callback();
    else this.arm(remainingMs);
  };
}

/**
 * Real time from `performance.now()` (hrtime-based). Timers come from libuv, whose clock has
 * millisecond granularity and may fire early: the scheduler therefore never trusts a timer's
 * firing time, it re-reads `nowMs()` and sends what is actually due.
 */
export const systemClock: Clock = {
  nowMs: monotonicNowMs,
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  setPreciseTimer: (callback, atMs) => new PreciseTimer(callback, atMs),
  clearTimer: (handle) => {
    if (handle instanceof PreciseTimer) handle.cancel();
    else clearTimeout(handle as NodeJS.Timeout);
  },
};

/** A manual clock for tests: time moves only when `advance` is called, firing due timers in order. */
export class ManualClock implements Clock {
  private currentMs = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { atMs: number; callback: () => void }>();

  nowMs(): number {
    return this.currentMs;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.currentMs + Math.max(0, delayMs), callback });
    return id;
  }

  setPreciseTimer(callback: () => void, atMs: number): unknown {
    return this.setTimer(callback, atMs - this.currentMs);
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward by `deltaMs`, firing every timer that falls due on the way, in time order. */
  advance(deltaMs: number): void {
    const endMs = this.currentMs + deltaMs;
    for (;;) {
      let dueId = -1;
      let dueAtMs = Infinity;
      for (const [id, timer] of this.timers) {
        if (timer.atMs <= endMs && timer.atMs < dueAtMs) {
          dueId = id;
          dueAtMs = timer.atMs;
        }
      }
      if (dueId < 0) break;
      const timer = this.timers.get(dueId) as { atMs: number; callback: () => void };
      this.timers.delete(dueId);
      this.currentMs = Math.max(this.currentMs, timer.atMs);
      timer.callback();
    }
    this.currentMs = endMs;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}
