import { displayTarget, type RunOptions } from "../config/options.js";
import { defaultThresholds, formatThreshold, mergeThresholds } from "../config/thresholds.js";
import {
  evaluateThresholds,
  histogramView,
  thresholdChecks,
  thresholdsLevel,
  thresholdsToAbort,
  type ThresholdResult,
} from "../evaluate/thresholds.js";
import { evaluateRun, GENERATOR_LAG_BOUND_MS, type MeasuredRun } from "../evaluate/verdict.js";
import { summarizeMs } from "../metrics/histogram.js";
import { OutcomeTally, Recorder, type LatencyIntervalSink } from "../metrics/recorder.js";
import { resultHistograms } from "../metrics/result-histograms.js";
import {
  RESULTS_SCHEMA_VERSION,
  type MetricsSnapshot,
  type RunResult,
  type StageResult,
  type Verdict,
} from "../metrics/result.js";
import { planFor, stageWindows, type Plan } from "../plan/index.js";
import { requestTargets } from "../scenarios/request-targets.js";
import type { ProbeResult } from "../transport/http.js";
import { systemClock, type Clock } from "./clock.js";
import { localDriver, type LoadDriver } from "./driver.js";
import { scenarioFor, Shard, type ShardEnd } from "./shard.js";
import { ThreadedDriver } from "./threads.js";
import { DEFAULT_PACING } from "./scheduler.js";

/** Live figures for progress lines (DESIGN.md reporters), computed once a second. */
export interface Progress {
  elapsedSec: number;
  totalSec: number;
  sent: number;
  inFlight: number;
  completed: number;
  success: number;
  blocked: number;
  error: number;
  achievedPerSec: number;
  correctness: number | null;
  latencyMs: { p50: number; p95: number; p99: number };
  /** `--timeout` (s): after the schedule, requests in flight get up to this long from their send. */
  timeoutSec: number;
}

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

const MIN_SENDS_FOR_LAG_P99 = 300;

/**
 * One run: plan -> scheduler -> transport -> classification -> recorder -> verdict
 * (DESIGN.md "What a run is"). Returns at once; `result` settles when the run is over.
 */
export function startRun(options: RunOptions, hooks: RunHooks = {}): RunHandle {
  const prepared = prepareRun(options, hooks);
  return { result: prepared.start(), snapshot: prepared.snapshot };
}

/**
 * The run's sender: this thread (`threads` 1, or a test clock), or worker threads pacing
 * stripes of the schedule (`--threads N`, threads.ts), merged into one recorder.
 */
function driverFor(options: RunOptions, clock: Clock, hooks: RunHooks): LoadDriver {
  const threads = options.threads ?? 1;
  if (threads <= 1) return localDriver(new Shard(options, { index: 0, count: 1 }, clock));
  if (hooks.clock && hooks.clock !== systemClock)
    throw new RangeError("worker threads keep real time: a test clock needs threads: 1");
  return new ThreadedDriver(options, threads, clock, hooks.threadEntry);
}

/** Builds everything a run needs without sending anything, so exporters can start first. */
export function prepareRun(runOptions: RunOptions, hooks: RunHooks = {}): PreparedRun {
  // The interval log has a line per category and second: the recorders keep those seconds too.
  const options: RunOptions = hooks.intervals ? { ...runOptions, secondsByCategory: true } : runOptions;
  const clock = hooks.clock ?? systemClock;
  const plan: Plan = planFor(options);
  const { categories, expectsBlocks } = scenarioFor(options);
  const driver = driverFor(options, clock, hooks);

  let startedAt = new Date();
  let t0Ms = clock.nowMs();
  let interrupted = false;
  let endedAtMs: number | undefined;
  let scheduleEndMs: number | undefined;
  let end: ShardEnd | undefined;
  let abortedReason: string | undefined;

  /** `final`: the result the run resolves with, with its histograms (encoding them each second would cost the loop ms). */
  const buildResult = (nowMs: number, final = false): RunResult => {
    const rec = driver.recorder();
    const stats = driver.stats();
    // The schedule's own length: the plan's duration, unless an interrupt cut it short. (A plan
    // can end before its duration, e.g. a ramp down to 0, and must still count its full length.)
    const scheduleElapsedMs = Math.max(
      1,
      interrupted || abortedReason
        ? Math.min(scheduleEndMs ?? nowMs, t0Ms + plan.durationMs) - t0Ms
        : endedAtMs !== undefined
          ? plan.durationMs // a finished run covered its whole schedule, even if the last answer came early
          : Math.min(nowMs - t0Ms, plan.durationMs),
    );
    const elapsedMs = Math.max(1, nowMs - t0Ms);
    const { counts } = rec;
    const completed = counts.completed;
    const loopSummary = driver.eventLoopDelayMs();
    const sendLagMs = summarizeMs(rec.sendLag);
    // Send lag is the generator's own for the requests the in-flight cap did not hold back (those
    // waited for the target), and its p99 means something only with enough sends: below
    // MIN_SENDS_FOR_LAG_P99 it is the maximum, and one timer hiccup would condemn a 20 req/s run.
    const ownLag = summarizeMs(rec.ownSendLag);
    const lagJudged = rec.ownSendLag.totalCount >= MIN_SENDS_FOR_LAG_P99;
    const trustworthy =
      loopSummary.p99 <= GENERATOR_LAG_BOUND_MS && (!lagJudged || ownLag.p99 <= GENERATOR_LAG_BOUND_MS);
    const transport = driver.transportResult();
    // Completed responses per second of schedule (or of wall time, when responses trail it).
    const achievedPerSec =
      completed / (Math.max(scheduleElapsedMs, endedAtMs !== undefined ? elapsedMs : 0) / 1000);
    const measured = {
      // First, where the results file has always had it (after `errors`).
      transport,
      latencyMs: summarizeMs(rec.latency),
      serviceTimeMs: summarizeMs(rec.serviceTime),
      queueTimeMs: summarizeMs(rec.queueTime),
      sendLagMs,
      rate: {
        targetPerSec: options.ratePerSec,
        achievedPerSec,
        sentPerSec: stats.sent / (scheduleElapsedMs / 1000),
        closedLoop: options.closedLoop === true,
        nodes: options.nodes ?? 1,
        achievedPerNodePerSec: achievedPerSec / (options.nodes ?? 1),
      },
      requests: {
        sent: stats.sent,
        total: completed,
        success: counts.success,
        blocked: counts.blocked,
        error: counts.error,
        dropped: end ? end.dueUnsent + end.abandoned : 0,
        unexpected: completed - counts.matched,
      },
      categories: rec.categoryResults(),
      errors: { ...rec.errors },
      timeline: rec.timelineUntil(nowMs),
      generator: {
        eventLoopDelayMs: loopSummary,
        ownSendLagMs: { p50: ownLag.p50, p99: ownLag.p99, max: ownLag.max },
        maxInFlight: stats.peakInFlight,
        workers: options.workers,
        threads: driver.threads,
        pacing: options.pacing ?? DEFAULT_PACING,
        trustworthy,
      },
      interrupted,
    };
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      target: displayTarget(options.targetUrl),
      ...requestTargets(options),
      startedAt: startedAt.toISOString(),
      endedAt: new Date(startedAt.getTime() + elapsedMs).toISOString(),
      durationSec: elapsedMs / 1000,
      // Past the schedule, the run waits for answers in flight, each up to --timeout from its send.
      drainSec: Math.max(0, elapsedMs - scheduleElapsedMs) / 1000,
      correctness: completed === 0 ? null : counts.matched / completed,
      ...measured,
      verdict: judge(measured, rec, completed),
      ...(abortedReason ? { aborted: { reason: abortedReason } } : {}),
      ...(options.stages ? { stages: stageResults(rec) } : {}),
      ...(options.coldstartWindow > 0
        ? { coldStart: { window: options.coldstartWindow, ...rec.coldStart.result() } }
        : {}),
      ...(final ? { histograms: resultHistograms(rec, categories) } : {}),
    };
  };

  // With thresholds (--threshold, a profile), they decide the level and checks, layered over the
  // spec's table; the spec's warning signs always come from evaluateRun.
  const thresholds = options.thresholds
    ? mergeThresholds(
        options.defaultThresholds === false
          ? []
          : defaultThresholds({ categories, expectsBlocks, closedLoop: options.closedLoop === true }),
        options.thresholds,
      )
    : undefined;
  let lastThresholdResults: ThresholdResult[] = [];

  const judge = (measured: MeasuredRun, rec: Recorder, completed: number): Verdict => {
    const verdict = evaluateRun(measured, expectsBlocks);
    if (!thresholds) return verdict;
    lastThresholdResults = evaluateThresholds(thresholds, {
      latencyMs: histogramView(rec.latency),
      serviceTimeMs: histogramView(rec.serviceTime),
      sendLagMs: histogramView(rec.sendLag),
      requests: measured.requests,
      correctness: completed === 0 ? null : rec.counts.matched / completed,
      achievedPerSec: measured.rate.achievedPerSec,
      nodes: options.nodes ?? 1,
      targetPerSec: measured.rate.targetPerSec,
      categories: Object.fromEntries(
        categories.map((name, k) => {
          const tally = rec.categories[k] as OutcomeTally;
          return [
            name,
            {
              latencyMs: histogramView(tally.latency),
              success: tally.success,
              blocked: tally.blocked,
              error: tally.error,
              correctness: tally.requests === 0 ? null : tally.matched / tally.requests,
            },
          ];
        }),
      ),
    });
    return {
      // A run stopped by a failed threshold (k6's abortOnFail) is critical whatever its level.
      level: abortedReason ? "critical" : thresholdsLevel(lastThresholdResults),
      checks: thresholdChecks(lastThresholdResults),
      warnings: verdict.warnings,
    };
  };

  const stageResults = (rec: Recorder): StageResult[] =>
    stageWindows(options.stages ?? [], options.startPerSec).map((window, index) => {
      const tally = (rec.segments[index] as OutcomeTally).result();
      const durationSec = (window.endMs - window.startMs) / 1000;
      return {
        index,
        startSec: window.startMs / 1000,
        endSec: window.endMs / 1000,
        fromPerSec: window.fromPerSec,
        toPerSec: window.toPerSec,
        askedPerSec: durationSec > 0 ? (window.fromPerSec + window.toPerSec) / 2 : 0,
        achievedPerSec: durationSec > 0 ? tally.requests / durationSec : 0,
        ...tally,
      };
    });

  const snapshot = (): MetricsSnapshot => {
    const result = buildResult(endedAtMs ?? clock.nowMs());
    const rec = driver.recorder();
    return {
      result,
      latencyBucketsMs: rec.latencyBuckets.cumulative(),
      categoryLatencyBucketsMs: rec.categoryBuckets(),
    };
  };

  const start = async (): Promise<RunResult> => {
    if (options.warmupMs > 0 && !hooks.signal?.aborted) {
      await driver.warmUp(hooks.signal);
      startedAt = new Date();
    }
    if (hooks.signal?.aborted) {
      // Interrupted before the measured run (during the warm-up or the preflight): it never
      // starts, and the result says so with no measured request.
      interrupted = true;
      t0Ms = scheduleEndMs = clock.nowMs();
      end = await driver.close();
      endedAtMs = clock.nowMs();
      return buildResult(endedAtMs);
    }
    let stopResolve: (() => void) | undefined;
    const stoppedPromise = new Promise<void>((resolve) => (stopResolve = resolve));
    let stopped = false;
    const stopNow = (): void => {
      stopped = true;
      scheduleEndMs ??= clock.nowMs();
      driver.stop();
      stopResolve?.();
    };
    const onAbort = (): void => {
      interrupted = true;
      stopNow();
    };
    let abortTimer: NodeJS.Timeout | undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    try {
      t0Ms = await driver.start();
      if (hooks.intervals) {
        const sink = hooks.intervals;
        sink.runStarted(Date.now() - (clock.nowMs() - t0Ms), categories);
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
              const live = buildResult(nowMs);
              const failing = thresholdsToAbort(lastThresholdResults, elapsedMs);
              if (failing.length > 0) {
                abortedReason = `threshold ${failing.map((result) => formatThreshold(result.threshold)).join(", ")} failed (abortOnFail)`;
              } else if (
                options.abortOnCritical &&
                live.verdict.level === "critical" &&
                clearlyFailed(live, elapsedMs)
              ) {
                const failed = live.verdict.checks
                  .filter((check) => check.level === "critical")
                  .map((check) => check.message);
                abortedReason = `critical after ${Math.round(elapsedMs / 1000)}s: ${failed.join("; ")}`;
              }
              if (abortedReason) stopNow();
            }, 1000)
          : undefined;
      if (hooks.signal?.aborted) onAbort();
      hooks.signal?.addEventListener("abort", onAbort, { once: true });
      progressTimer = hooks.onProgress
        ? setInterval(
            () => hooks.onProgress?.(progressOf(buildResult(clock.nowMs()), driver, plan, options.timeoutMs)),
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
      end = await driver.close();
      endedAtMs = clock.nowMs();
      scheduleEndMs ??= endedAtMs;
    }
    const rec = driver.recorder();
    rec.closeSecondsBefore(Infinity);
    const result = buildResult(endedAtMs, true);
    rec.onSecondClosed(undefined);
    hooks.intervals?.runEnded(result.timeline.length - 1);
    return result;
  };

  return { start, snapshot, probe: () => driver.probe() };
}

/** Convenience for library users and tests: run to the end and return the result. */
export function run(options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  return startRun(options, hooks).result;
}

/**
 * "Clearly failed" for --abort-on-critical: a critical correctness check on security or policy
 * cases is a policy failure at once; anything else waits for 5 s and 50 completed requests, so
 * a cold start's first outliers do not end a run.
 */
function clearlyFailed(result: RunResult, elapsedMs: number): boolean {
  const policyMiss = result.verdict.checks.some(
    (check) => check.level === "critical" && /correctness.*(security|policy)/.test(check.name),
  );
  return policyMiss || (elapsedMs >= 5000 && result.requests.total >= 50);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function progressOf(result: RunResult, driver: LoadDriver, plan: Plan, timeoutMs: number): Progress {
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
  };
}
