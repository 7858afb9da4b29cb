import { sleepUnlessAborted } from "./sleep.js";
import type { RunOptions } from "../config/options.js";
import { formatThreshold } from "../config/thresholds.js";
import { EARLY_ABORT, isPolicyFailure } from "../evaluate/methodology.js";
import { thresholdsToAbort } from "../evaluate/thresholds.js";
import type { LatencyIntervalSink } from "../metrics/recorder.js";
import type { MetricsSnapshot, Progress, RunResult } from "../metrics/result.js";
import { planFor, type Plan } from "../plan/index.js";
import type { Scenario } from "../scenarios/scenario.js";
import type { ProbeResult } from "../transport/http.js";
import { systemClock, type Clock } from "./clock.js";
import { composeStripe } from "../distributed/flags.js";
import { localDriver, type LoadDriver } from "./driver.js";
import { ResultBuilder, type RunTimes } from "./result-builder.js";
import { scenarioFor, Shard } from "./shard.js";
import { ThreadedDriver } from "./threads.js";

export type { Progress } from "../metrics/result.js";

export interface RunHooks {
  /** Called about once a second while requests are being sent. */
  onProgress?: (progress: Progress) => void;
  /** Aborting stops sending at once (Ctrl-C); the result is marked interrupted. */
  signal?: AbortSignal;
  clock?: Clock;
  /** How long an interrupted run waits for requests in flight before abandoning them (ms). */
  interruptGraceMs?: number;
  /** The worker-thread script (`--threads`); default dist/engine/thread-worker.js beside this module. */
  threadEntry?: URL;
  /** Receives each second's latency histogram as the second closes (`--hdr-log`). */
  intervals?: LatencyIntervalSink;
  /**
   * Another sender than this process's threads: `load-test coordinate` drives shard processes
   * (distributed/remote-driver.ts) through the same LoadDriver interface.
   */
  driver?: (options: RunOptions, categories: readonly string[], signal?: AbortSignal) => LoadDriver;
}

export interface RunHandle {
  /** Resolves with the final result; never rejects for target failures (they are measured). */
  result: Promise<RunResult>;
  /** Results so far with cumulative latency buckets, for live exporters. */
  snapshot(): MetricsSnapshot;
}

export interface PreparedRun {
  /** Starts the run (warm-up first, if any); resolves with the final result. Call once. */
  start(): Promise<RunResult>;
  /** One preflight connection (docs/TRANSPORT.md "Preflight"); call before start(). */
  probe(): Promise<ProbeResult>;
  /** Results so far (empty before the measured run starts), for live exporters. */
  snapshot(): MetricsSnapshot;
}

/**
 * One run: plan -> scheduler -> transport -> classification -> recorder -> verdict
 * (docs/ARCHITECTURE.md). Returns at once; `result` settles when the run is over.
 */
export function startRun(options: RunOptions, hooks: RunHooks = {}): RunHandle {
  const prepared = prepareRun(options, hooks);
  return { result: prepared.start(), snapshot: prepared.snapshot };
}

/**
 * The run's sender: this thread (`threads` 1, or a test clock), or worker threads pacing
 * stripes of the schedule (`--threads N`, threads.ts), merged into one recorder.
 */
function driverFor(
  options: RunOptions,
  clock: Clock,
  hooks: RunHooks,
  built: { plan: Plan; scenario: Scenario },
): LoadDriver {
  if (hooks.driver) return hooks.driver(options, built.scenario.categories, hooks.signal);
  const threads = options.threads ?? 1;
  if (threads <= 1)
    return localDriver(
      new Shard(options, composeStripe(options.shard, { index: 0, count: 1 }), clock, "direct", built),
    );
  if (hooks.clock && hooks.clock !== systemClock)
    throw new RangeError("worker threads keep real time: a test clock needs threads: 1");
  // Each worker thread builds its own stripe's plan and scenario (objects do not cross threads).
  return new ThreadedDriver(options, threads, clock, hooks.threadEntry, built.scenario.categories);
}

/** Builds everything a run needs without sending anything, so exporters can start first. */
export function prepareRun(runOptions: RunOptions, hooks: RunHooks = {}): PreparedRun {
  // The interval log has a line per category and second: the recorders keep those seconds too.
  const options: RunOptions = hooks.intervals ? { ...runOptions, secondsByCategory: true } : runOptions;
  const clock = hooks.clock ?? systemClock;
  // The plan and the scenario are built once here and shared with the shard that sends them.
  const plan: Plan = planFor(options);
  const scenario = scenarioFor(options);
  const { categories } = scenario;
  const driver = driverFor(options, clock, hooks, { plan, scenario });
  const times: RunTimes = { startedAt: new Date(), t0Ms: clock.nowMs(), interrupted: false };
  const results = new ResultBuilder(options, plan, scenario, driver, times);
  const { thresholds } = results;

  const start = async (): Promise<RunResult> => {
    if (options.warmupMs > 0 && !hooks.signal?.aborted) {
      await driver.warmUp(hooks.signal);
    }
    if (hooks.signal?.aborted) {
      // Interrupted before the measured run (during the warm-up or the preflight): it never
      // starts, and the result says so with no measured request.
      times.interrupted = true;
      times.t0Ms = times.scheduleEndMs = clock.nowMs();
      times.end = await driver.close();
      times.endedAtMs = clock.nowMs();
      return results.build(times.endedAtMs);
    }
    let stopResolve: (() => void) | undefined;
    const stoppedPromise = new Promise<void>((resolve) => (stopResolve = resolve));
    let stopped = false;
    const stopNow = (): void => {
      stopped = true;
      times.scheduleEndMs ??= clock.nowMs();
      driver.stop();
      stopResolve?.();
    };
    const onAbort = (): void => {
      times.interrupted = true;
      stopNow();
    };
    let abortTimer: NodeJS.Timeout | undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    try {
      const sharedStartMs = await untilStartAt(options, clock, times, hooks.signal, driver.startLeadMs);
      times.t0Ms = await driver.start(sharedStartMs);
      if (sharedStartMs !== undefined && times.t0Ms - sharedStartMs >= 1) {
        // The senders could not take the shared instant (it came before they could be told).
        times.lateStartMs = times.t0Ms - sharedStartMs;
        times.startedAt = new Date(times.startedAt.getTime() + times.lateStartMs);
      }
      const { t0Ms } = times;
      // The results' start is t0 itself, not the moment the run was prepared: threads, the
      // preflight and the warm-up come before it, and endedAt and the interval log count from it.
      // A shared --start-at instant is t0 already, exactly (untilStartAt).
      if (sharedStartMs === undefined) times.startedAt = new Date(Date.now() - (clock.nowMs() - t0Ms));
      if (hooks.intervals) {
        const sink = hooks.intervals;
        sink.runStarted(times.startedAt.getTime(), categories);
        driver
          .recorder()
          .onSecondClosed((second, latency, byCategory) => sink.interval(second, latency, byCategory));
      }
      // k6's abortOnFail and --abort-on-critical: judged once a second on the live results.
      abortTimer =
        thresholds && (options.abortOnCritical || thresholds.some((threshold) => threshold.abortOnFail))
          ? setInterval(() => {
              if (stopped) return;
              const nowMs = clock.nowMs();
              const elapsedMs = nowMs - t0Ms;
              const live = results.build(nowMs);
              const failing = thresholdsToAbort(results.thresholdResults, elapsedMs);
              if (failing.length > 0) {
                times.abortedReason = `threshold ${failing.map((result) => formatThreshold(result.threshold)).join(", ")} failed (abortOnFail)`;
              } else if (
                options.abortOnCritical &&
                live.verdict.level === "critical" &&
                clearlyFailed(live, elapsedMs)
              ) {
                const failed = live.verdict.checks
                  .filter((check) => check.level === "critical")
                  .map((check) => check.message);
                times.abortedReason = `critical after ${Math.round(elapsedMs / 1000)}s: ${failed.join("; ")}`;
              }
              if (times.abortedReason) stopNow();
            }, 1000)
          : undefined;
      if (hooks.signal?.aborted) onAbort();
      hooks.signal?.addEventListener("abort", onAbort, { once: true });
      progressTimer = hooks.onProgress
        ? setInterval(
            () =>
              hooks.onProgress?.(progressOf(results.build(clock.nowMs()), driver, plan, options.timeoutMs)),
            1000,
          )
        : undefined;
      // Each shard ends its schedule at t0 + duration; requests in flight then get up to --timeout.
      if (!stopped) await Promise.race([driver.whenIdle(), stoppedPromise]);
      if (stopped) {
        const graceMs = hooks.interruptGraceMs ?? Math.min(2000, options.timeoutMs);
        await Promise.race([driver.whenIdle(), sleep(graceMs)]);
      }
    } finally {
      if (progressTimer) clearInterval(progressTimer);
      if (abortTimer) clearInterval(abortTimer);
      hooks.signal?.removeEventListener("abort", onAbort);
      times.end = await driver.close();
      times.endedAtMs = clock.nowMs();
      times.scheduleEndMs ??= times.endedAtMs;
    }
    const rec = driver.recorder();
    rec.closeSecondsBefore(Infinity);
    const result = results.build(times.endedAtMs, true);
    rec.onSecondClosed(undefined);
    hooks.intervals?.runEnded(result.timeline.length - 1);
    return result;
  };

  return {
    start,
    snapshot: () => results.snapshot(times.endedAtMs ?? clock.nowMs()),
    probe: () => driver.probe(),
  };
}

/** Convenience for library users and tests: run to the end and return the result. */
export function run(options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  return startRun(options, hooks).result;
}

/** "Clearly failed" for --abort-on-critical (evaluate/methodology.ts `EARLY_ABORT`). */
function clearlyFailed(result: RunResult, elapsedMs: number): boolean {
  const policyMiss = result.verdict.checks.some(isPolicyFailure);
  return (
    policyMiss || (elapsedMs >= EARLY_ABORT.afterMs && result.requests.total >= EARLY_ABORT.completedAtLeast)
  );
}

/**
 * `--start-at` (docs/DISTRIBUTED.md "Clocks"): waits until shortly before the shared instant and
 * returns it as clock ms, so every shard's schedule starts at one wall-clock moment. A shard
 * past the instant (a long warm-up, a late pod) starts now and records how late it was.
 */
async function untilStartAt(
  options: RunOptions,
  clock: Clock,
  times: RunTimes,
  signal: AbortSignal | undefined,
  leadMs = 0,
): Promise<number | undefined> {
  const atEpochMs = options.startAtEpochMs;
  if (atEpochMs === undefined) return undefined;
  const waitMs = atEpochMs - Date.now();
  if (waitMs <= 0) {
    times.lateStartMs = -waitMs;
    times.startedAt = new Date();
    return undefined;
  }
  // Wake a little early: the scheduler then waits out the rest at its own precision (and a
  // coordinator's shards get the instant in time, the driver's lead).
  const earlyMs = Math.max(30, leadMs);
  if (waitMs > earlyMs) await sleepUnlessAborted(waitMs - earlyMs, signal);
  times.startedAt = new Date(atEpochMs);
  return clock.nowMs() + (atEpochMs - Date.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function progressOf(result: RunResult, driver: LoadDriver, plan: Plan, timeoutMs: number): Progress {
  const fleet = driver.fleetState?.();
  return {
    elapsedSec: result.durationSec,
    totalSec: plan.durationMs / 1000,
    sent: result.requests.sent,
    inFlight: driver.stats().inFlight,
    completed: result.requests.total,
    success: result.requests.success,
    blocked: result.requests.blocked,
    error: result.requests.error,
    achievedPerSec: result.rate.achievedPerSec,
    correctness: result.correctness,
    latencyMs: { p50: result.latencyMs.p50, p95: result.latencyMs.p95, p99: result.latencyMs.p99 },
    timeoutSec: timeoutMs / 1000,
    ...(fleet ? { shards: { live: fleet.live, count: fleet.count } } : {}),
  };
}
