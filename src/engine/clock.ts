import { performance } from "node:perf_hooks";

/**
 * The scheduler's only view of time, injectable so timing tests are deterministic
 * (DESIGN.md: "an injectable clock for the scheduler").
 */
export interface Clock {
  /** Monotonic milliseconds with sub-millisecond resolution. */
  nowMs(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * `performance.now()` counts from a time origin of its own, and worker threads (`--threads`)
 * pace stripes of one schedule from one shared t0: every thread therefore reads the same
 * process-wide monotonic clock (hrtime, CLOCK_MONOTONIC), measured once against `performance.now()`,
 * which stays the cheap read on the hot path.
 */
const MONOTONIC_OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/**
 * Real time from `performance.now()` (hrtime-based). Timers come from libuv, whose clock has
 * millisecond granularity and may fire early: the scheduler therefore never trusts a timer's
 * firing time, it re-reads `nowMs()` and sends what is actually due.
 */
export const systemClock: Clock = {
  nowMs: () => performance.now() + MONOTONIC_OFFSET_MS,
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
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
