import { describe, expect, it } from "vitest";
import { CLOSED_LOOP_WORKERS, InputError, parseRunOptions } from "../../src/config/options.js";
import { ManualClock } from "../../src/engine/clock.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import { planFor } from "../../src/plan/index.js";
import { stripePlan } from "../../src/plan/stripe.js";
import { formatSummary } from "../../src/report/terminal.js";
import { makeRunResult } from "../helpers/pushgateway.js";

const base = { target: "http://127.0.0.1:9", duration: "2s" };

describe("--rps max: options", () => {
  it("is a closed loop with no asked rate and 64 workers unless --workers says otherwise", () => {
    for (const rps of ["max", "MAX", " Max "]) {
      const options = parseRunOptions({ ...base, rps });
      expect([options.closedLoop, options.ratePerSec, options.workers]).toEqual([
        true,
        0,
        CLOSED_LOOP_WORKERS,
      ]);
    }
    expect(parseRunOptions({ ...base, rps: "max", workers: "7" }).workers).toBe(7);
    expect(parseRunOptions({ ...base, rps: "100" }).closedLoop).toBeUndefined();
  });

  it("needs --duration, excludes --stages, and names both accepted forms on a bad rate", () => {
    const problem = (raw: Parameters<typeof parseRunOptions>[0]): string => {
      try {
        parseRunOptions(raw);
      } catch (error) {
        return (error as InputError).message;
      }
      return "accepted";
    };
    expect(problem({ target: base.target, rps: "max" })).toMatch(/^--duration: /);
    expect(problem({ target: base.target, rps: "max", stages: "1s:10" })).toMatch(/^--stages: .*--rps/);
    expect(problem({ ...base, rps: "maximum" })).toBe('--rps: must be a number > 0 or "max", got "maximum"');
  });
});

describe("--rps max: the closed-loop plan and scheduler", () => {
  const closedLoopOf1s = () =>
    planFor({ ratePerSec: 0, durationMs: 1000, stages: undefined, startPerSec: 0, closedLoop: true });

  function setup(workers: number) {
    const clock = new ManualClock();
    const sent: Array<{ index: number; intendedAtMs: number; sentAtMs: number }> = [];
    const plan = closedLoopOf1s();
    const scheduler = new Scheduler(plan, clock, { maxInFlight: workers }, (index, intendedAtMs, sentAtMs) =>
      sent.push({ index, intendedAtMs, sentAtMs }),
    );
    return { clock, sent, scheduler };
  }

  it("keeps exactly --workers in flight: each answer releases one request at once, never late", () => {
    const { clock, sent, scheduler } = setup(3);
    scheduler.start();
    expect(sent.map((r) => r.index)).toEqual([0, 1, 2]);
    clock.advance(5);
    expect(sent).toHaveLength(3); // no answers, nothing more leaves (ticks release nothing)
    for (let answer = 0; answer < 100; answer++) {
      clock.advance(0.25);
      scheduler.complete();
      expect(scheduler.inFlightCount).toBe(3);
    }
    expect(sent.map((r) => r.index)).toEqual([...Array(103).keys()]);
    // Intended = sent: a closed loop has no schedule to be late against.
    for (const request of sent) expect(request.sentAtMs).toBe(request.intendedAtMs);
    expect(sent[50]!.sentAtMs).toBe(5 + 48 * 0.25);
    expect(scheduler.dueUnsent()).toBe(0);
  });

  it("stops releasing at finish(); what is in flight still completes and then the scheduler is idle", async () => {
    const { clock, sent, scheduler } = setup(2);
    scheduler.start();
    clock.advance(10);
    scheduler.complete();
    scheduler.finish();
    expect(sent).toHaveLength(3);
    scheduler.complete();
    scheduler.complete();
    expect(sent).toHaveLength(3);
    expect(scheduler.finishedSending).toBe(true);
    await expect(scheduler.whenIdle()).resolves.toBeUndefined();
  });

  it("stripes for --threads stay closed loops", () => {
    const plan = closedLoopOf1s();
    const stripe = stripePlan(plan, 1, 2);
    expect([stripe.closedLoop, stripe.intendedAtMs(12345), stripe.durationMs]).toEqual([true, 0, 1000]);
  });
});

describe("--rps max: the summary", () => {
  it("names the closed loop where an open loop names its rate, and says why a lagging loop is untrustworthy", () => {
    const open = makeRunResult();
    const base = makeRunResult();
    const closed = makeRunResult({
      rate: { targetPerSec: 0, achievedPerSec: 41_000, sentPerSec: 41_010, closedLoop: true },
      generator: { ...base.generator, workers: 50, trustworthy: false },
    });
    const openText = formatSummary(open);
    const closedText = formatSummary(closed);
    expect(openText).toMatch(/ 100 req\/s for /);
    expect(openText).toMatch(/req\/s achieved of 100 asked/);
    expect(closedText).toContain("max rate (closed loop, 50 in flight)");
    expect(closedText).toContain("41000 req/s achieved, closed loop (sent 41010 req/s)");
    expect(closedText).toContain(
      "each request left when an answer freed its slot, so latency is service time",
    );
    expect(closedText).toMatch(/Generator +closed loop, /);
    expect(closedText).toContain("NOT TRUSTWORTHY: the generator's event loop lagged");
    expect(closedText).not.toContain("asked");
  });
});
