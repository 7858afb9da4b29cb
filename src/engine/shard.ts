import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { RunOptions } from "../config/options.js";
import { Recorder, type RecorderMode } from "../metrics/recorder.js";
import type { LagSummaryMs, TransportResult } from "../metrics/result.js";
import { constantRatePlan } from "../plan/constant.js";
import { planFor, stageStartsMs, type Plan } from "../plan/index.js";
import { globalIndex, shareOf, stripePlan } from "../plan/stripe.js";
import { weightsFor } from "../scenarios/mix.js";
import { builtInScenario, customScenario, type Scenario } from "../scenarios/scenario.js";
import { TransportErrorTally } from "../transport/errors.js";
import {
  HttpTransport,
  type ConnectionState,
  type ConnectionTimes,
  type ProbeResult,
} from "../transport/http.js";
import type { Clock } from "./clock.js";
import { Scheduler, type SchedulerOptions, type SendFn } from "./scheduler.js";

/** Which part of the schedule a shard sends: requests i ≡ index (mod count). */
export interface Stripe {
  index: number;
  count: number;
}

/** A shard's live counters (the run sums them over threads). */
export interface ShardStats {
  sent: number;
  inFlight: number;
  /** Most requests this shard had in flight at once. */
  peakInFlight: number;
}

/** What only the end of a shard's run knows. */
export interface ShardEnd {
  /** Requests still in flight when an interrupted run gave up on them. */
  abandoned: number;
  /** Requests due before the schedule ended that never left (the in-flight cap was full). */
  dueUnsent: number;
}

const EVENT_LOOP_RESOLUTION_MS = 10;

/** The run's scenario: a profile's custom cases, or the built-in corpora of its category mix. */
export function scenarioFor(options: RunOptions): Scenario {
  const headers: Array<[string, string]> = [];
  if (options.apiKey) headers.push(["authorization", `Bearer ${options.apiKey}`]);
  headers.push(...options.headers);
  const base = { basePath: options.targetUrl.pathname.replace(/\/$/, ""), path: options.path, headers };
  if (options.customCases)
    return customScenario(options.customCases.corpus, options.customCases.weights, base);
  return builtInScenario(options.weights ?? weightsFor(options.category), base);
}

export function recorderLayoutFor(options: RunOptions, categoryNames: readonly string[]) {
  return {
    categoryNames,
    segmentStartsMs: stageStartsMs(options.stages),
    coldstartWindow: options.coldstartWindow,
    secondsByCategory: options.secondsByCategory === true,
  };
}

/** The transport of one stripe: its share of the in-flight slots and of `--connections`. */
export function transportFor(options: RunOptions, stripe: Stripe, clock: Clock): HttpTransport {
  const { index, count } = stripe;
  // At least one slot: a --shard of --threads may split a small --workers finer than one each.
  const workers = Math.max(1, shareOf(options.workers, index, count));
  const flags = options.transport;
  return new HttpTransport(
    {
      origin: options.targetUrl.origin,
      connections: workers,
      maxInFlight: workers,
      timeoutMs: options.timeoutMs,
      ...(flags
        ? {
            flags: {
              ...flags,
              connections:
                flags.connections === undefined
                  ? undefined
                  : Math.max(1, shareOf(flags.connections, index, count)),
            },
          }
        : {}),
    },
    () => clock.nowMs(),
  );
}

/**
 * One thread's share of a run (docs/ARCHITECTURE.md: plan -> scheduler -> transport ->
 * classification -> recorder): its stripe of the plan, its share of the in-flight slots and
 * connections, its own transport and recorder. A single-threaded run is one shard of one stripe;
 * with `--threads N` each worker thread runs one and ships its recorder's drains to the main thread.
 */
export class Shard {
  readonly plan: Plan;
  readonly scenario: Scenario;
  readonly workers: number;
  private readonly transport: HttpTransport;
  /** Transport failures by kind.detail with a reason each; warm-up requests never reach it. */
  private readonly transportErrors = new TransportErrorTally();
  private readonly loopDelay: IntervalHistogram;
  private readonly scheduler: Scheduler;
  private recorderNow: Recorder;
  /**
   * The scheduler sending now (a warm-up pass, then the measured run) and what it records into.
   * Every scheduler calls the one `sendDue`, which reads these: with a closure per scheduler V8
   * dropped the hot path's optimized code when the measured run began ("wrong call target").
   */
  private sendingScheduler!: Scheduler;
  private sendingRecorder!: Recorder;
  private sendingErrors!: TransportErrorTally;
  private closedAtMs: number | undefined;
  private endTimer: unknown;
  private scheduleEnd: number | undefined;
  private endOfSchedule!: () => void;
  /**
   * Settles at t0 + duration (or at an interrupt). A run lasts its duration even when its last
   * request left and was answered earlier (0.5 req/s for 6 s sends at 0, 2 and 4 s): its rate and
   * its reported duration are both over the whole schedule.
   */
  private readonly scheduleOver = new Promise<void>((resolve) => (this.endOfSchedule = resolve));

  constructor(
    private readonly options: RunOptions,
    private readonly stripe: Stripe,
    private readonly clock: Clock,
    private readonly recorderMode: RecorderMode = "direct",
    /** The run's plan and scenario when the coordinator already built them (run.ts). */
    built?: { plan: Plan; scenario: Scenario },
  ) {
    const { index, count } = stripe;
    this.plan = stripePlan(built?.plan ?? planFor(options), index, count);
    this.scenario = built?.scenario ?? scenarioFor(options);
    this.workers = Math.max(1, shareOf(options.workers, index, count));
    this.loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.loopDelay.enable();
    this.transport = transportFor(options, stripe, clock);
    // Replaced by the measured run's own recorder when it starts (after any warm-up).
    this.recorderNow = this.newRecorder(clock.nowMs());
    this.scheduler = new Scheduler(this.plan, clock, this.schedulerOptions(), this.sendDue);
    this.sendThrough(this.scheduler, this.recorderNow, this.transportErrors);
  }

  private readonly sendDue: SendFn = (j, intendedAtMs, sentAtMs, heldBack) =>
    this.send(
      this.sendingScheduler,
      this.sendingRecorder,
      this.sendingErrors,
      globalIndex(j, this.stripe.index, this.stripe.count),
      intendedAtMs,
      sentAtMs,
      heldBack,
    );

  private sendThrough(scheduler: Scheduler, recorder: Recorder, errors: TransportErrorTally): void {
    this.sendingScheduler = scheduler;
    this.sendingRecorder = recorder;
    this.sendingErrors = errors;
  }

  private schedulerOptions(): SchedulerOptions {
    return { maxInFlight: this.workers, pacing: this.options.pacing };
  }

  get recorder(): Recorder {
    return this.recorderNow;
  }

  get t0Ms(): number {
    return this.scheduler.startedAtMs;
  }

  /** When the schedule stopped (its end, or an interrupt); undefined while it runs. */
  get scheduleEndMs(): number | undefined {
    return this.scheduleEnd;
  }

  stats(): ShardStats {
    const scheduler = this.scheduler;
    return {
      sent: scheduler.sent,
      inFlight: scheduler.inFlightCount,
      peakInFlight: scheduler.maxInFlightSeen,
    };
  }

  eventLoopDelayMs(): LagSummaryMs {
    const loopDelay = this.loopDelay;
    return {
      p50: lagMs(loopDelay.percentile(50)),
      p99: lagMs(loopDelay.percentile(99)),
      max: lagMs(loopDelay.max),
    };
  }

  transportResult(): TransportResult {
    return { ...this.transport.transportSummary(), errors: this.transportErrors.toJSON() };
  }

  connectionState(): ConnectionState {
    return this.transport.connectionState();
  }

  connectionTimes(): ConnectionTimes {
    return this.transport.connectionTimes();
  }

  /** One preflight connection (docs/TRANSPORT.md "Preflight"); its connection serves the run. */
  probe(): Promise<ProbeResult> {
    return this.transport.probe();
  }

  /**
   * Warm-up: the same schedule and mix, on the same connections, for `warmupMs`, through the same
   * code as the measured run (judged and recorded, into a recorder that is then thrown away). A
   * cold client and a cold target (JIT, connection set-up) otherwise put their start-up cost in
   * the first second's tail (a cold client at 5k/s built a 500 ms queue here); a warm-up that
   * skipped judging and recording left those to be compiled in the first measured second
   * (its p99 at 10k req/s: 27-70 ms, against 17-31 ms through the same path).
   */
  async warmUp(signal?: AbortSignal, t0Ms: number = this.clock.nowMs()): Promise<void> {
    const warmupMs = this.options.warmupMs;
    if (warmupMs <= 0 || signal?.aborted) return;
    // Two passes, each with a schedule and a recorder of its own as the measured run will have:
    // the first such switch is when V8 drops and recompiles the hot path (objects it had seen in
    // one state only), which on the generator's one core made the first measured second's p99 at
    // 20k req/s 12-24 ms; now it happens between the passes (docs/BENCHMARKS.md, "The first
    // measured second"). The first pass ends where request ⌊n/2⌋ of the whole warm-up is due, so
    // the two send the same n requests one pass would.
    const ratePerSec = this.options.ratePerSec;
    // A closed loop has no schedule to split by requests: its passes split the time.
    const firstMs = this.options.closedLoop
      ? warmupMs / 2
      : (Math.floor(constantRatePlan(ratePerSec, warmupMs).count / 2) * 1000) / ratePerSec;
    if (firstMs > 0) await this.warmUpPass(signal, t0Ms, firstMs);
    await this.warmUpPass(signal, t0Ms + firstMs, warmupMs - firstMs);
    this.loopDelay.reset();
  }

  private async warmUpPass(signal: AbortSignal | undefined, t0Ms: number, durationMs: number): Promise<void> {
    if (signal?.aborted) return;
    const { index, count } = this.stripe;
    const clock = this.clock;
    const warmScheduler = new Scheduler(
      // The run's plan at its average rate (a ramp warms up at the stages' mean), or its closed loop.
      stripePlan(planFor({ ...this.options, durationMs, stages: undefined }), index, count),
      clock,
      this.schedulerOptions(),
      this.sendDue,
    );
    this.sendThrough(warmScheduler, this.newRecorder(t0Ms), new TransportErrorTally());
    const stopWarmUp = (): void => warmScheduler.stop();
    signal?.addEventListener("abort", stopWarmUp, { once: true });
    // A pass that starts late (the first one drained after its end) starts now, not in a burst.
    const startMs = warmScheduler.start(Math.max(t0Ms, clock.nowMs()));
    const timer = clock.setTimer(() => warmScheduler.finish(), startMs + durationMs - clock.nowMs());
    await warmScheduler.whenIdle();
    clock.clearTimer(timer);
    signal?.removeEventListener("abort", stopWarmUp);
  }

  /**
   * Starts the measured schedule at `t0Ms` (default now) with a fresh recorder; it ends by itself
   * at t0 + duration (libuv timers may fire a little early, so the end timer re-arms until the
   * clock agrees). Returns t0.
   */
  start(t0Ms: number = this.clock.nowMs()): number {
    const clock = this.clock;
    this.recorderNow = this.newRecorder(t0Ms);
    this.sendThrough(this.scheduler, this.recorderNow, this.transportErrors);
    const endAtMs = this.scheduler.start(t0Ms) + this.plan.durationMs;
    const endSchedule = (): void => {
      const nowMs = clock.nowMs();
      if (nowMs < endAtMs) {
        this.endTimer = clock.setTimer(endSchedule, Math.max(1, Math.ceil(endAtMs - nowMs)));
        return;
      }
      this.endTimer = undefined;
      this.scheduleEnd ??= nowMs;
      this.scheduler.finish();
      this.endOfSchedule();
    };
    this.endTimer = clock.setTimer(endSchedule, endAtMs - clock.nowMs());
    return t0Ms;
  }

  /** Resolves when the schedule is over (or stopped) and nothing is in flight. */
  whenIdle(): Promise<void> {
    return this.scheduleOver.then(() => this.scheduler.whenIdle());
  }

  /** Interrupt: nothing more leaves; requests in flight may still complete until `close`. */
  stop(): void {
    this.scheduleEnd ??= this.clock.nowMs();
    if (this.endTimer !== undefined) this.clock.clearTimer(this.endTimer);
    this.endTimer = undefined;
    this.scheduler.stop();
    this.endOfSchedule();
  }

  /** Ends the shard: what is still in flight is abandoned (counted as dropped), connections close. */
  async close(): Promise<ShardEnd> {
    this.stop();
    const nowMs = this.clock.nowMs();
    this.closedAtMs = nowMs;
    const end = {
      abandoned: this.scheduler.inFlightCount,
      dueUnsent: this.scheduler.dueUnsent(this.scheduleEnd ?? nowMs),
    };
    this.loopDelay.disable();
    this.transport.abortAll();
    await this.transport.close();
    return end;
  }

  private newRecorder(t0Ms: number): Recorder {
    return new Recorder(recorderLayoutFor(this.options, this.scenario.categories), t0Ms, this.recorderMode);
  }

  /** One request: recorded into `rec` when sent and when it ends, then its slot is freed. */
  private send(
    scheduler: Scheduler,
    rec: Recorder,
    errors: TransportErrorTally,
    index: number,
    intendedAtMs: number,
    sentAtMs: number,
    heldBack: boolean,
  ): void {
    const scenario = this.scenario;
    rec.recordSend(intendedAtMs, sentAtMs, heldBack);
    const categoryIndex = scenario.categoryIndexOf(index);
    const caseIndex = scenario.caseIndexOf(index);
    this.transport.send(
      scenario.request(categoryIndex, caseIndex),
      (error, statusCode, body, writtenAtMs) => {
        const endAtMs = this.clock.nowMs();
        if (this.closedAtMs !== undefined) return; // abandoned: counted as dropped when the shard closed
        if (error) {
          const failure = errors.record(error);
          rec.recordCompletion(
            index,
            categoryIndex,
            "error",
            failure.kind,
            false,
            intendedAtMs,
            sentAtMs,
            endAtMs,
            writtenAtMs,
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
            writtenAtMs,
          );
        }
        scheduler.complete();
      },
    );
  }
}

function lagMs(valueNs: number): number {
  return Number.isFinite(valueNs)
    ? Math.max(0, Math.round(valueNs / 1000 - EVENT_LOOP_RESOLUTION_MS * 1000) / 1000)
    : 0;
}
