import { monitorEventLoopDelay } from "node:perf_hooks";
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
import { OutcomeTally, Recorder } from "../metrics/recorder.js";
import {
  RESULTS_SCHEMA_VERSION,
  type MetricsSnapshot,
  type RunResult,
  type StageResult,
  type Verdict,
} from "../metrics/result.js";
import { constantRatePlan } from "../plan/constant.js";
import { planFor, stageStartsMs, stageWindows, type Plan } from "../plan/index.js";
import { weightsFor } from "../scenarios/mix.js";
import { builtInScenario, customScenario, type Scenario } from "../scenarios/scenario.js";
import { TransportErrorTally } from "../transport/errors.js";
import { HttpTransport, type ProbeResult } from "../transport/http.js";
import { systemClock, type Clock } from "./clock.js";
import { Scheduler } from "./scheduler.js";

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
}

export interface RunHooks {
  /** Called about once a second while requests are being sent. */
  onProgress?: (progress: Progress) => void;
  /** Aborting stops sending at once (Ctrl-C); the result is marked interrupted. */
  signal?: AbortSignal;
  clock?: Clock;
  /** How long an interrupted run waits for requests in flight before abandoning them (ms). */
  interruptGraceMs?: number;
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

const EVENT_LOOP_RESOLUTION_MS = 10;
const MIN_SENDS_FOR_LAG_P99 = 300;

/** The run's scenario: a profile's custom cases, or the built-in corpora of its category mix. */
function scenarioFor(options: RunOptions): Scenario {
  const headers: Array<[string, string]> = [];
  if (options.apiKey) headers.push(["authorization", `Bearer ${options.apiKey}`]);
  headers.push(...options.headers);
  const base = { basePath: options.targetUrl.pathname.replace(/\/$/, ""), path: options.path, headers };
  if (options.customCases)
    return customScenario(options.customCases.corpus, options.customCases.weights, base);
  return builtInScenario(options.weights ?? weightsFor(options.category), base);
}

/**
 * One run: plan -> scheduler -> transport -> classification -> recorder -> verdict
 * (DESIGN.md "What a run is"). Returns at once; `result` settles when the run is over.
 */
export function startRun(options: RunOptions, hooks: RunHooks = {}): RunHandle {
  const prepared = prepareRun(options, hooks);
  return { result: prepared.start(), snapshot: prepared.snapshot };
}

/** Builds everything a run needs without sending anything, so exporters can start first. */
export function prepareRun(options: RunOptions, hooks: RunHooks = {}): PreparedRun {
  const clock = hooks.clock ?? systemClock;
  const plan: Plan = planFor(options.ratePerSec, options.durationMs, options.stages, options.startPerSec);
  const scenario = scenarioFor(options);
  const categories = scenario.categories;
  const expectsBlocks = scenario.expectsBlocks;

  let startedAt = new Date();
  const loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  loopDelay.enable();
  const transport = new HttpTransport(
    {
      origin: options.targetUrl.origin,
      connections: options.workers,
      maxInFlight: options.workers,
      timeoutMs: options.timeoutMs,
      ...(options.transport ? { flags: options.transport } : {}),
    },
    () => clock.nowMs(),
  );
  // Transport failures by kind.detail with a reason each; warm-up requests never reach it.
  const transportErrors = new TransportErrorTally();

  const recorderLayout = {
    categoryNames: categories,
    segmentStartsMs: stageStartsMs(options.stages),
    coldstartWindow: options.coldstartWindow,
  };
  // Replaced by the measured run's own recorder once it starts (after any warm-up).
  let recorder = new Recorder(recorderLayout, clock.nowMs());
  let interrupted = false;
  let endedAtMs: number | undefined;
  let scheduleEndMs: number | undefined;
  let abandoned = 0;
  let abortedReason: string | undefined;

  const scheduler = new Scheduler(
    plan,
    clock,
    { maxInFlight: options.workers },
    (index, intendedAtMs, sentAtMs) => {
      const rec = recorder;
      rec.recordSend(intendedAtMs, sentAtMs);
      const categoryIndex = scenario.categoryIndexOf(index);
      const caseIndex = scenario.caseIndexOf(index);
      transport.send(scenario.request(categoryIndex, caseIndex), (error, statusCode, body) => {
        const endAtMs = clock.nowMs();
        if (abandoned > 0 && endedAtMs !== undefined) return; // counted as dropped when the interrupted run ended
        if (error) {
          const failure = transportErrors.record(error);
          rec.recordCompletion(
            index,
            categoryIndex,
            "error",
            failure.kind,
            false,
            intendedAtMs,
            sentAtMs,
            endAtMs,
          );
          rec.noteErrorExample(failure.kind, failure.reason);
        } else {
          const { outcome, errorKind, matched } = scenario.judge(categoryIndex, caseIndex, statusCode, body);
          rec.recordCompletion(
            index,
            categoryIndex,
            outcome,
            errorKind,
            matched,
            intendedAtMs,
            sentAtMs,
            endAtMs,
          );
        }
        scheduler.complete();
      });
    },
  );

  const buildResult = (nowMs: number): RunResult => {
    const rec = recorder;
    const t0Ms = scheduler.startedAtMs;
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
    const dueUnsent = endedAtMs !== undefined ? scheduler.dueUnsent(scheduleEndMs ?? nowMs) : 0;
    const loopSummary = {
      p50: lagMs(loopDelay.percentile(50)),
      p99: lagMs(loopDelay.percentile(99)),
      max: lagMs(loopDelay.max),
    };
    const sendLagMs = summarizeMs(rec.sendLag);
    // Send lag is the generator's own only when the in-flight cap never held a request back, and
    // its p99 means something only with enough sends: below MIN_SENDS_FOR_LAG_P99 it is the
    // maximum, and one timer hiccup would condemn a 20 req/s run.
    const capReached = scheduler.maxInFlightSeen >= options.workers;
    const lagJudged = !capReached && rec.sendLag.totalCount >= MIN_SENDS_FOR_LAG_P99;
    const trustworthy =
      loopSummary.p99 <= GENERATOR_LAG_BOUND_MS && (!lagJudged || sendLagMs.p99 <= GENERATOR_LAG_BOUND_MS);
    const measured = {
      latencyMs: summarizeMs(rec.latency),
      serviceTimeMs: summarizeMs(rec.serviceTime),
      sendLagMs,
      rate: {
        targetPerSec: options.ratePerSec,
        // Completed responses per second of schedule (or of wall time, when responses trail it).
        achievedPerSec:
          completed / (Math.max(scheduleElapsedMs, endedAtMs !== undefined ? elapsedMs : 0) / 1000),
        sentPerSec: scheduler.sent / (scheduleElapsedMs / 1000),
      },
      requests: {
        sent: scheduler.sent,
        total: completed,
        success: counts.success,
        blocked: counts.blocked,
        error: counts.error,
        dropped: dueUnsent + abandoned,
        unexpected: completed - counts.matched,
      },
      categories: rec.categoryResults(),
      timeline: rec.timelineUntil(nowMs),
      generator: {
        eventLoopDelayMs: loopSummary,
        maxInFlight: scheduler.maxInFlightSeen,
        workers: options.workers,
        trustworthy,
      },
      interrupted,
    };
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      target: displayTarget(options.targetUrl),
      path: options.path,
      category: options.category,
      startedAt: startedAt.toISOString(),
      endedAt: new Date(startedAt.getTime() + elapsedMs).toISOString(),
      durationSec: elapsedMs / 1000,
      correctness: completed === 0 ? null : counts.matched / completed,
      errors: { ...rec.errors },
      transport: { ...transport.transportSummary(), errors: transportErrors.toJSON() },
      ...measured,
      verdict: judge(measured, rec, completed),
      ...(abortedReason ? { aborted: { reason: abortedReason } } : {}),
      ...(options.stages ? { stages: stageResults(rec) } : {}),
      ...(options.coldstartWindow > 0
        ? { coldStart: { window: options.coldstartWindow, ...rec.coldStart.result() } }
        : {}),
    };
  };

  // With thresholds (--threshold, a profile), they decide the level and checks, layered over the
  // spec's table; the spec's warning signs always come from evaluateRun.
  const thresholds = options.thresholds
    ? mergeThresholds(
        options.defaultThresholds === false ? [] : defaultThresholds({ categories, expectsBlocks }),
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
    const rec = recorder;
    return {
      result,
      latencyBucketsMs: rec.latencyBuckets.cumulative(),
      categoryLatencyBucketsMs: rec.categoryBuckets(),
    };
  };

  /**
   * Warm-up: the same schedule and mix, on the same connections, for `warmupMs`, recorded
   * nowhere. A cold client and a cold target (JIT, connection set-up) otherwise put their
   * start-up cost in the first second's tail (a cold client at 5k/s built a 500 ms queue here).
   */
  const warmUp = async (): Promise<void> => {
    const warmScheduler: Scheduler = new Scheduler(
      constantRatePlan(options.ratePerSec, options.warmupMs),
      clock,
      { maxInFlight: options.workers },
      (index) => {
        const categoryIndex = scenario.categoryIndexOf(index);
        const request = scenario.request(categoryIndex, scenario.caseIndexOf(index));
        transport.send(request, () => warmScheduler.complete());
      },
    );
    const stopWarmUp = (): void => warmScheduler.stop();
    hooks.signal?.addEventListener("abort", stopWarmUp, { once: true });
    const timer = clock.setTimer(() => warmScheduler.finish(), options.warmupMs);
    warmScheduler.start();
    await warmScheduler.whenIdle();
    clock.clearTimer(timer);
    hooks.signal?.removeEventListener("abort", stopWarmUp);
  };

  const start = async (): Promise<RunResult> => {
    if (options.warmupMs > 0 && !hooks.signal?.aborted) {
      await warmUp();
      loopDelay.reset();
      startedAt = new Date();
    }
    recorder = new Recorder(recorderLayout, clock.nowMs());
    let stopResolve: (() => void) | undefined;
    const stoppedPromise = new Promise<void>((resolve) => (stopResolve = resolve));
    let stopped = false;
    const stopNow = (): void => {
      stopped = true;
      scheduleEndMs ??= clock.nowMs();
      scheduler.stop();
      stopResolve?.();
    };
    const onAbort = (): void => {
      interrupted = true;
      stopNow();
    };
    // k6's abortOnFail and --abort-on-critical: judged once a second on the live results.
    const abortTimer =
      thresholds && (options.abortOnCritical || thresholds.some((threshold) => threshold.abortOnFail))
        ? setInterval(() => {
            if (stopped) return;
            const nowMs = clock.nowMs();
            const elapsedMs = nowMs - scheduler.startedAtMs;
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

    const progressTimer = hooks.onProgress
      ? setInterval(() => hooks.onProgress?.(progressOf(buildResult(clock.nowMs()), scheduler, plan)), 1000)
      : undefined;
    // The schedule ends at t0 + duration; then requests in flight get up to --timeout to finish.
    // libuv timers may fire a little early, so the end timer re-arms until the clock agrees.
    const endAtMs = scheduler.start() + plan.durationMs;
    let scheduleTimer: unknown;
    const endSchedule = (): void => {
      const nowMs = clock.nowMs();
      if (nowMs < endAtMs) {
        scheduleTimer = clock.setTimer(endSchedule, Math.max(1, Math.ceil(endAtMs - nowMs)));
        return;
      }
      scheduleEndMs ??= nowMs;
      scheduler.finish();
    };
    scheduleTimer = clock.setTimer(endSchedule, plan.durationMs);
    try {
      if (!stopped) await Promise.race([scheduler.whenIdle(), stoppedPromise]);
      if (stopped) {
        const graceMs = hooks.interruptGraceMs ?? Math.min(2000, options.timeoutMs);
        await Promise.race([scheduler.whenIdle(), sleep(graceMs)]);
        abandoned = scheduler.inFlightCount;
      }
    } finally {
      clock.clearTimer(scheduleTimer);
      if (progressTimer) clearInterval(progressTimer);
      if (abortTimer) clearInterval(abortTimer);
      hooks.signal?.removeEventListener("abort", onAbort);
      endedAtMs = clock.nowMs();
      scheduleEndMs ??= endedAtMs;
      loopDelay.disable();
      transport.abortAll();
      await transport.close();
    }
    return buildResult(endedAtMs);
  };

  return { start, snapshot, probe: () => transport.probe() };
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

function lagMs(valueNs: number): number {
  return Number.isFinite(valueNs)
    ? Math.max(0, Math.round(valueNs / 1000 - EVENT_LOOP_RESOLUTION_MS * 1000) / 1000)
    : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function progressOf(result: RunResult, scheduler: Scheduler, plan: Plan): Progress {
  return {
    elapsedSec: result.durationSec,
    totalSec: plan.durationMs / 1000,
    sent: scheduler.sent,
    inFlight: scheduler.inFlightCount,
    completed: result.requests.total,
    success: result.requests.success,
    blocked: result.requests.blocked,
    error: result.requests.error,
    achievedPerSec: result.rate.achievedPerSec,
    correctness: result.correctness,
    latencyMs: { p50: result.latencyMs.p50, p95: result.latencyMs.p95, p99: result.latencyMs.p99 },
  };
}
