import { displayTarget, type RunOptions } from "../config/options.js";
import { defaultThresholds, mergeThresholds, type Threshold } from "../config/thresholds.js";
import {
  evaluateThresholds,
  histogramView,
  thresholdChecks,
  thresholdsLevel,
  type ThresholdResult,
} from "../evaluate/thresholds.js";
import { GENERATOR_LAG_BOUND_MS } from "../evaluate/methodology.js";
import { evaluateRun, type MeasuredRun } from "../evaluate/verdict.js";
import { summarizeMs } from "../metrics/histogram.js";
import type { OutcomeTally, Recorder } from "../metrics/recorder.js";
import { resultHistograms } from "../metrics/result-histograms.js";
import {
  RESULTS_SCHEMA_VERSION,
  type MetricsSnapshot,
  type RunResult,
  type StageResult,
  type Verdict,
} from "../metrics/result.js";
import { stageWindows, type Plan } from "../plan/index.js";
import { requestTargets } from "../scenarios/request-targets.js";
import type { FleetState, LoadDriver } from "./driver.js";
import { DEFAULT_PACING } from "./scheduler.js";
import type { ShardEnd } from "./shard.js";

/** Below this many sends the own send lag's p99 is its maximum, too noisy to judge the generator. */
const MIN_SENDS_FOR_LAG_P99 = 300;

/** The moments of a run the controller (run.ts) records and the results are computed from. */
export interface RunTimes {
  startedAt: Date;
  /** Clock ms of the measured schedule's start. */
  t0Ms: number;
  interrupted: boolean;
  /** Clock ms when the run was over (answers drained); undefined while it runs. */
  endedAtMs?: number;
  /** Clock ms when sending stopped early (an interrupt or an abort). */
  scheduleEndMs?: number;
  end?: ShardEnd;
  /** Why a threshold or --abort-on-critical stopped the run early. */
  abortedReason?: string;
  /** How late (ms) the schedule started after `--start-at`, when it could not start on time. */
  lateStartMs?: number;
}

/** What a run's requests are, as the results need it: built once per run (shard.ts `scenarioFor`). */
export interface ScenarioShape {
  categories: readonly string[];
  expectsBlocks: boolean;
}

/**
 * Turns the driver's recorder and the run's times into a RunResult: the same function serves
 * live progress (every second), live exporters (`snapshot()`) and the final result.
 */
export class ResultBuilder {
  /** With thresholds (--threshold, a profile), they decide the level, layered over the methodology's table. */
  readonly thresholds: Threshold[] | undefined;
  private lastThresholdResults: ThresholdResult[] = [];

  constructor(
    private readonly options: RunOptions,
    private readonly plan: Plan,
    private readonly scenario: ScenarioShape,
    private readonly driver: LoadDriver,
    private readonly times: RunTimes,
  ) {
    this.thresholds = options.thresholds
      ? mergeThresholds(
          options.defaultThresholds === false
            ? []
            : defaultThresholds({
                categories: scenario.categories,
                expectsBlocks: scenario.expectsBlocks,
                closedLoop: options.closedLoop === true,
              }),
          options.thresholds,
        )
      : undefined;
  }

  /** The threshold results of the last build (for k6's abortOnFail). */
  get thresholdResults(): readonly ThresholdResult[] {
    return this.lastThresholdResults;
  }

  /** `final`: the result the run resolves with, with its histograms (encoding them each second would cost the loop ms). */
  build(nowMs: number, final = false): RunResult {
    const { options, plan, driver, times } = this;
    const rec = driver.recorder();
    const stats = driver.stats();
    // The schedule's own length: the plan's duration, unless an interrupt cut it short. (A plan
    // can end before its duration, e.g. a ramp down to 0, and must still count its full length.)
    const scheduleElapsedMs = Math.max(
      1,
      times.interrupted || times.abortedReason
        ? Math.min(times.scheduleEndMs ?? nowMs, times.t0Ms + plan.durationMs) - times.t0Ms
        : times.endedAtMs !== undefined
          ? plan.durationMs // a finished run covered its whole schedule, even if the last answer came early
          : Math.min(nowMs - times.t0Ms, plan.durationMs),
    );
    const elapsedMs = Math.max(1, nowMs - times.t0Ms);
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
      completed / (Math.max(scheduleElapsedMs, times.endedAtMs !== undefined ? elapsedMs : 0) / 1000);
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
        dropped: times.end ? times.end.dueUnsent + times.end.abandoned : 0,
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
      interrupted: times.interrupted,
    };
    const { startedAt, abortedReason } = times;
    const fleet = driver.fleetState?.();
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      target: displayTarget(options.targetUrl),
      ...requestTargets(options),
      ...(options.runId ? { runId: options.runId } : {}),
      ...(options.shard ? { shard: { ...options.shard } } : {}),
      ...(fleet
        ? {
            merged: {
              shards: fleet.shards,
              count: fleet.count,
              partial: fleet.lost.length > 0,
              ...(fleet.lost.length > 0 ? { lost: fleet.lost } : {}),
            },
          }
        : {}),
      ...(options.startAtEpochMs !== undefined
        ? {
            startAt: {
              at: new Date(options.startAtEpochMs).toISOString(),
              lateMs: Math.round(times.lateStartMs ?? 0),
            },
          }
        : {}),
      startedAt: startedAt.toISOString(),
      endedAt: new Date(startedAt.getTime() + elapsedMs).toISOString(),
      durationSec: elapsedMs / 1000,
      // Past the schedule, the run waits for answers in flight, each up to --timeout from its send.
      drainSec: Math.max(0, elapsedMs - scheduleElapsedMs) / 1000,
      correctness: completed === 0 ? null : counts.matched / completed,
      ...measured,
      verdict: withFleet(this.judge(measured, rec, completed), fleet),
      ...(abortedReason ? { aborted: { reason: abortedReason } } : {}),
      ...(options.stages ? { stages: this.stageResults(rec) } : {}),
      ...(options.coldstartWindow > 0
        ? { coldStart: { window: options.coldstartWindow, ...rec.coldStart.result() } }
        : {}),
      ...(final
        ? { histograms: resultHistograms(rec, this.scenario.categories, driver.connectionTimes()) }
        : {}),
    };
  }

  /** Results so far with cumulative latency buckets, for live exporters. */
  snapshot(nowMs: number): MetricsSnapshot {
    const result = this.build(nowMs);
    const rec = this.driver.recorder();
    return {
      result,
      latencyBucketsMs: rec.latencyBuckets.cumulative(),
      categoryLatencyBucketsMs: rec.categoryBuckets(),
    };
  }

  /** The methodology's verdict; with thresholds, they decide the level and checks (the warning signs stay). */
  private judge(measured: MeasuredRun, rec: Recorder, completed: number): Verdict {
    const judged = evaluateRun(measured, this.scenario.expectsBlocks);
    const verdict = { ...judged, warnings: withLateStart(judged.warnings, this.times.lateStartMs) };
    const { thresholds, options } = this;
    if (!thresholds) return verdict;
    this.lastThresholdResults = evaluateThresholds(thresholds, {
      latencyMs: histogramView(rec.latency),
      serviceTimeMs: histogramView(rec.serviceTime),
      sendLagMs: histogramView(rec.sendLag),
      requests: measured.requests,
      correctness: completed === 0 ? null : rec.counts.matched / completed,
      achievedPerSec: measured.rate.achievedPerSec,
      nodes: options.nodes ?? 1,
      targetPerSec: measured.rate.targetPerSec,
      categories: Object.fromEntries(
        this.scenario.categories.map((name, k) => {
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
      level: this.times.abortedReason ? "critical" : thresholdsLevel(this.lastThresholdResults),
      checks: thresholdChecks(this.lastThresholdResults),
      warnings: verdict.warnings,
    };
  }

  private stageResults(rec: Recorder): StageResult[] {
    return stageWindows(this.options.stages ?? [], this.options.startPerSec).map((window, index) => {
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
  }
}

/**
 * A coordinated run (docs/DISTRIBUTED.md "The coordinator"): a lost shard makes the result
 * partial and the verdict critical (its figures are not those of the run asked for), named with
 * the second it was lost; a shard that started late says how late.
 */
function withFleet(verdict: Verdict, fleet: FleetState | undefined): Verdict {
  if (!fleet) return verdict;
  const warnings = [
    ...verdict.warnings,
    ...fleet.late.map(
      ({ index, lateMs }) =>
        `Shard ${index}/${fleet.count} started ${Math.round(lateMs)} ms after the shared start: its schedule is shifted against the others`,
    ),
  ];
  if (fleet.lost.length === 0) return { ...verdict, warnings };
  const named = fleet.lost.map(
    ({ index, second, reason }) =>
      `shard ${index}/${fleet.count} lost ${second === null ? "before the measured run" : `at second ${second}`} (${reason})`,
  );
  const message = `Partial: ${named.join("; ")}; ${fleet.count - fleet.lost.length} of ${fleet.count} shards reported to the end`;
  return {
    level: "critical",
    checks: [
      ...verdict.checks,
      {
        name: "shards",
        level: "critical",
        value: fleet.count - fleet.lost.length,
        expected: `all ${fleet.count} shards report to the end`,
        message: `Shards: ${fleet.count - fleet.lost.length} of ${fleet.count} reported to the end (${named.join("; ")})`,
      },
    ],
    warnings: [...warnings, message],
  };
}

/** A shard that missed `--start-at` says so in its summary and results (docs/DISTRIBUTED.md "Clocks"). */
function withLateStart(warnings: string[], lateStartMs: number | undefined): string[] {
  if (lateStartMs === undefined || lateStartMs <= 0) return warnings;
  return [
    ...warnings,
    `Started ${Math.round(lateStartMs)} ms after --start-at: this shard's schedule is shifted against the others`,
  ];
}
