import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import type { Pacing } from "../../src/config/options.js";
import { ManualClock, systemClock } from "../../src/engine/clock.js";
import { MAX_SENDS_PER_WAKEUP, Scheduler } from "../../src/engine/scheduler.js";
import { constantRatePlan } from "../../src/plan/constant.js";

interface Sent {
  index: number;
  intendedAtMs: number;
  sentAtMs: number;
  heldBack: boolean;
}

function setup(ratePerSec: number, durationMs: number, maxInFlight: number, pacing: Pacing = "precise") {
  const clock = new ManualClock();
  const sent: Sent[] = [];
  const scheduler = new Scheduler(
    constantRatePlan(ratePerSec, durationMs),
    clock,
    { maxInFlight, pacing },
    (index, intendedAtMs, sentAtMs, heldBack) => sent.push({ index, intendedAtMs, sentAtMs, heldBack }),
  );
  return { clock, sent, scheduler };
}

describe("Scheduler with an injected clock", () => {
  it("releases each request when it is due, in order, with no lag on a perfect clock", () => {
    const { clock, sent, scheduler } = setup(100, 1000, 1000);
    scheduler.start();
    for (let step = 0; step < 1000; step++) {
      clock.advance(1);
      // Nothing is ever released before it is due.
      for (const request of sent)
        expect(request.sentAtMs).toBeGreaterThanOrEqual(request.intendedAtMs - 1e-9);
    }
    expect(sent.map((request) => request.index)).toEqual([...Array(100).keys()]);
    for (const request of sent) expect(request.sentAtMs - request.intendedAtMs).toBeLessThanOrEqual(1);
    expect(scheduler.finishedSending).toBe(true);
  });

  it("keeps the schedule when the target does not answer (open loop)", () => {
    const { clock, sent, scheduler } = setup(1000, 100, 10_000);
    scheduler.start();
    clock.advance(100);
    // No completions at all, yet every request left on time.
    expect(sent).toHaveLength(100);
    expect(scheduler.inFlightCount).toBe(100);
  });

  it("queues due requests behind the in-flight cap and sends them as slots free, keeping their intended time", () => {
    const { clock, sent, scheduler } = setup(100, 1000, 2);
    scheduler.start();
    clock.advance(50); // requests 0..5 are due; only 2 slots
    expect(sent.map((r) => r.index)).toEqual([0, 1]);
    expect(scheduler.dueUnsent()).toBe(4);
    scheduler.complete();
    expect(sent.map((r) => r.index)).toEqual([0, 1, 2]);
    const third = sent[2] as Sent;
    expect(third.intendedAtMs).toBe(20);
    expect(third.sentAtMs).toBe(50); // waited 30 ms in the queue: that wait belongs to its latency
    // The cap held it back: its send lag is not the generator's own lateness.
    expect(sent.map((r) => r.heldBack)).toEqual([false, false, true]);
  });

  it("precise pacing: every request leaves at its own due time, also at 20k req/s", () => {
    for (const ratePerSec of [300, 20_000]) {
      const { clock, sent, scheduler } = setup(ratePerSec, 100, 100_000, "precise");
      scheduler.start();
      // Advance in steps finer than any gap; each wake-up is at a due time, so nothing waits.
      for (let step = 0; step < 10_000; step++) clock.advance(0.01);
      expect(sent).toHaveLength(constantRatePlan(ratePerSec, 100).count);
      for (const request of sent) expect(request.sentAtMs - request.intendedAtMs).toBeLessThan(1e-9);
      expect(clock.pendingTimers()).toBe(0);
    }
  });

  it("tick pacing: requests due between two ticks wait for the next one (up to 1 ms)", () => {
    const { clock, sent, scheduler } = setup(300, 100, 100_000, "tick");
    scheduler.start();
    for (let step = 0; step < 10_000; step++) clock.advance(0.01);
    const lagsMs = sent.map((request) => request.sentAtMs - request.intendedAtMs);
    expect(Math.max(...lagsMs)).toBeGreaterThan(0.3);
    for (const lagMs of lagsMs) expect(lagMs).toBeLessThanOrEqual(1 + 1e-9);
  });

  it("behind the in-flight cap, precise pacing does not poll: answers release the queue", () => {
    const { clock, sent, scheduler } = setup(10_000, 100, 2, "precise");
    scheduler.start();
    clock.advance(0.5); // 6 due, 2 slots
    expect(sent).toHaveLength(2);
    // One timer, a 1 ms tick, not a wake-up at a due time that has passed (a spin).
    expect(clock.pendingTimers()).toBe(1);
    scheduler.complete();
    expect(sent).toHaveLength(3);
  });

  it("below the cap, a completion sends nothing: due requests leave together at the next tick", () => {
    const { clock, sent, scheduler } = setup(10_000, 100, 100, "tick"); // one request due every 0.1 ms
    scheduler.start();
    expect(sent.map((r) => r.index)).toEqual([0]);
    clock.advance(0.55);
    scheduler.complete(); // requests 1..5 are due, but one by one as answers come in is what costs CPU
    expect(sent).toHaveLength(1);
    clock.advance(0.45); // the 1 ms tick
    expect(sent.map((r) => r.index)).toEqual([...Array(11).keys()]);
    for (const request of sent) expect(request.sentAtMs - request.intendedAtMs).toBeLessThanOrEqual(1);
  });

  it("counts what was due but never sent when the run stops", () => {
    const { clock, scheduler } = setup(100, 1000, 1);
    scheduler.start();
    clock.advance(500);
    scheduler.finish();
    expect(scheduler.sent).toBe(1);
    expect(scheduler.dueUnsent(clock.nowMs())).toBe(50);
  });

  it("becomes idle only after the last release completes", async () => {
    const { clock, scheduler } = setup(10, 200, 10);
    scheduler.start();
    clock.advance(200);
    let idle = false;
    void scheduler.whenIdle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    scheduler.complete();
    scheduler.complete();
    await Promise.resolve();
    expect(idle).toBe(true);
  });

  it("wakes at most once per millisecond at high rates and sleeps until the next due request at low ones", () => {
    const high = setup(20_000, 100, 100_000, "tick");
    high.scheduler.start();
    high.clock.advance(100);
    expect(high.sent).toHaveLength(2000);
    const low = setup(1, 10_000, 10, "tick");
    low.scheduler.start();
    low.clock.advance(999);
    expect(low.sent).toHaveLength(1);
    low.clock.advance(1);
    expect(low.sent).toHaveLength(2);
    expect(low.clock.pendingTimers()).toBe(1);
  });

  it("a late tick does not hold due requests back: the first completion ≥ 1 ms after one was due sends what is due", () => {
    // A clock whose timers fire only when told to: the event loop's 1 ms timer running late.
    let nowMs = 0;
    let pendingTick: (() => void) | undefined;
    const clock = {
      nowMs: () => nowMs,
      setTimer: (callback: () => void) => {
        pendingTick = callback;
        return 1;
      },
      clearTimer: () => undefined,
    };
    const sent: number[] = [];
    const scheduler = new Scheduler(constantRatePlan(20_000, 100), clock, { maxInFlight: 1000 }, (index) =>
      sent.push(index),
    );
    scheduler.start(0);
    expect(sent).toEqual([0]); // due at 0; the next every 0.05 ms
    nowMs = 0.9;
    scheduler.complete();
    // Below the cap and less than 1 ms late: they wait for the tick (sent together, one wake-up).
    expect(sent).toHaveLength(1);
    nowMs = 2.5; // the 1 ms tick has not come
    scheduler.complete();
    // Request 1 was due at 0.05 ms, 2.45 ms ago: everything due by now leaves (0 … 2.5 ms).
    expect(sent).toHaveLength(51);
    expect(sent).toEqual([...Array(51).keys()]);
    pendingTick?.();
    expect(sent).toHaveLength(51); // the late tick finds nothing more due
  });
});

describe("Scheduler work per wake-up is bounded (signals are handled between wake-ups)", () => {
  it("sends at most MAX_SENDS_PER_WAKEUP per wake-up, and the rest after the event loop had a turn", () => {
    // A manual clock that measures each wake-up's batch (its timers fire one callback at a time).
    const batches: number[] = [];
    let sentCount = 0;
    class CountingClock extends ManualClock {
      override setTimer(callback: () => void, delayMs: number): unknown {
        return super.setTimer(() => {
          const before = sentCount;
          callback();
          batches.push(sentCount - before);
        }, delayMs);
      }
    }
    const clock = new CountingClock();
    // 1e9 req/s with room for 100k in flight: 100k requests are due after 0.1 ms.
    const scheduler = new Scheduler(constantRatePlan(1e9, 1000), clock, { maxInFlight: 100_000 }, (index) => {
      expect(index).toBe(sentCount);
      sentCount++;
    });
    scheduler.start();
    clock.advance(0.1);
    expect(sentCount).toBe(100_000);
    expect(batches.length).toBeGreaterThanOrEqual(100_000 / MAX_SENDS_PER_WAKEUP);
    expect(Math.max(...batches)).toBeLessThanOrEqual(MAX_SENDS_PER_WAKEUP);
    scheduler.stop();
  });

  it("counts what is due but unsent without walking it one by one", () => {
    // 1e8 requests due behind a cap of 1: counted one by one that took ~0.5 s of blocked thread.
    const { clock, scheduler } = setup(1e8, 1000, 1);
    scheduler.start();
    clock.advance(1000);
    const startMs = performance.now();
    expect(scheduler.dueUnsent()).toBe(1e8 - 1);
    expect(scheduler.dueUnsent(0.5)).toBe(50_000);
    expect(performance.now() - startMs).toBeLessThan(20);
  });
});

describe("systemClock.setPreciseTimer (real time)", () => {
  const setPrecise = systemClock.setPreciseTimer as NonNullable<typeof systemClock.setPreciseTimer>;
  const firedAt = (atMs: number): Promise<number> =>
    new Promise((resolve) => setPrecise(() => resolve(systemClock.nowMs()), atMs));

  it("never fires early, and usually within a fraction of a millisecond (libuv's timers: 0-2 ms)", async () => {
    const latenessMs: number[] = [];
    for (let i = 0; i < 200; i++) {
      // Due times off the millisecond grid, some beyond libuv's coarse part of the wait.
      const atMs = systemClock.nowMs() + (i % 2 === 0 ? 0.35 : 4.6);
      latenessMs.push((await firedAt(atMs)) - atMs);
    }
    latenessMs.sort((a, b) => a - b);
    expect(latenessMs[0]).toBeGreaterThanOrEqual(0);
    // Typically ~0.05 ms here; the bound leaves room for a busy 2-core CI machine.
    expect(latenessMs[100]).toBeLessThan(0.5);
  });

  it("clearTimer cancels it, in its coarse and in its polling part", async () => {
    let fired = 0;
    const far = setPrecise(() => fired++, systemClock.nowMs() + 20);
    const near = setPrecise(() => fired++, systemClock.nowMs() + 0.5);
    systemClock.clearTimer(far);
    systemClock.clearTimer(near);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(fired).toBe(0);
  });
});
