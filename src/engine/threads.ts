import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { RunOptions } from "../config/options.js";
import { Recorder } from "../metrics/recorder.js";
import type { LagSummaryMs, TransportResult } from "../metrics/result.js";
import { ConnectionRecorder } from "../transport/connections.js";
import {
  mergeTransportSummaries,
  type ConnectionTimes,
  type ProbeResult,
  type TransportSummary,
} from "../transport/http.js";
import { composeStripe } from "../distributed/flags.js";
import type { Clock } from "./clock.js";
import type { LoadDriver } from "./driver.js";
import { recorderLayoutFor, scenarioFor, transportFor, type ShardEnd, type ShardStats } from "./shard.js";
import {
  toWorkerOptions,
  type FromWorker,
  type ShardReport,
  type ToWorker,
  type WorkerInput,
} from "./thread-protocol.js";

/**
 * How far ahead of "now" the coordinator sets a shared start (warm-up or t0), so that every
 * thread has the message before the first request is due: a postMessage arrives in well
 * under a millisecond on an idle thread, and a late thread would send its first requests late.
 */
const START_AHEAD_MS = 20;

type Waiter = { type: FromWorker["type"]; resolve: (message: FromWorker) => void };

/** One worker thread; replies nobody waits for yet are kept until asked for (`next`). */
class ThreadHandle {
  readonly worker: Worker;
  private waiters: Waiter[] = [];
  private readonly unclaimed: FromWorker[] = [];
  private failure: FromWorker | undefined;
  latest: ShardReport | undefined;

  constructor(
    entry: URL,
    input: WorkerInput,
    private readonly onReport: (report: ShardReport) => void,
  ) {
    this.worker = new Worker(entry, { workerData: input });
    this.worker.on("message", (message: FromWorker) => {
      if (message.type === "failed") return this.fail(message.message);
      if (message.type === "report" || message.type === "closed") {
        this.latest = message.report;
        this.onReport(message.report);
        if (message.type === "report") return;
      }
      const index = this.waiters.findIndex((waiter) => waiter.type === message.type);
      if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(message);
      else this.unclaimed.push(message);
    });
    this.worker.on("error", (error) => this.fail(error.message));
    this.worker.on("exit", (code) => {
      if (code !== 0) this.fail(`exited with code ${code}`);
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** The next message of `type`, or the thread's failure (`expect` turns it into an exception). */
  next<T extends FromWorker["type"]>(type: T): Promise<Extract<FromWorker, { type: T }> | FailedReply> {
    if (this.failure) return Promise.resolve(this.failure as FailedReply);
    const index = this.unclaimed.findIndex((message) => message.type === type);
    if (index >= 0)
      return Promise.resolve(this.unclaimed.splice(index, 1)[0] as Extract<FromWorker, { type: T }>);
    return new Promise((resolve) =>
      this.waiters.push({ type, resolve: resolve as (message: FromWorker) => void }),
    );
  }

  private fail(message: string): void {
    this.failure ??= { type: "failed", message };
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve(this.failure);
  }
}

type FailedReply = Extract<FromWorker, { type: "failed" }>;

/**
 * `--threads N`: N worker threads (thread-worker.ts), thread k pacing requests i ≡ k (mod N) of
 * the schedule from one shared t0, so the union stays evenly spaced. Each second every thread
 * sends what it measured as HDR-encoded deltas; the coordinator adds them into one Recorder,
 * bucket by bucket, so the merged percentiles are those of one histogram of every request.
 */
export class ThreadedDriver implements LoadDriver {
  readonly threads: number;
  private readonly handles: ThreadHandle[];
  private merged: Recorder;
  private readonly layout: ReturnType<typeof recorderLayoutFor>;
  private started = false;
  private ready: Promise<void> | undefined;
  private unopened: TransportSummary | undefined;
  private idle: Promise<void> | undefined;
  private readonly shardSeconds: number[];

  constructor(
    private readonly options: RunOptions,
    threads: number,
    private readonly clock: Clock,
    entry: URL = threadEntry(),
    categories: readonly string[] = scenarioFor(options).categories,
  ) {
    this.threads = threads;
    this.layout = recorderLayoutFor(options, categories);
    this.merged = new Recorder(this.layout, clock.nowMs(), "merge");
    this.shardSeconds = new Array<number>(threads).fill(0);
    const workerOptions = toWorkerOptions(options);
    this.handles = Array.from(
      { length: threads },
      (_, index) =>
        new ThreadHandle(
          entry,
          // With --shard K/N, thread t sends stripe t of this process's stripe of the plan.
          { options: workerOptions, stripe: composeStripe(options.shard, { index, count: threads }) },
          (report) => this.absorb(index, report),
        ),
    );
  }

  recorder(): Recorder {
    return this.merged;
  }

  /**
   * Every thread has loaded its modules and built its shard (a few hundred ms): a shared start
   * set before that would find late threads with a backlog of overdue requests to burst out.
   */
  private whenReady(): Promise<void> {
    this.ready ??= Promise.all(this.handles.map(async (handle) => expect(await handle.next("ready")))).then(
      () => undefined,
    );
    return this.ready;
  }

  /** The probe runs on thread 0, whose transport keeps its connection for the run. */
  async probe(): Promise<ProbeResult> {
    const handle = this.handles[0] as ThreadHandle;
    await this.whenReady();
    handle.send({ type: "probe" });
    return expect(await handle.next("probed")).result;
  }

  async warmUp(signal?: AbortSignal): Promise<void> {
    if (this.options.warmupMs <= 0 || signal?.aborted) return;
    const stop = (): void => this.stop();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      await this.whenReady();
      await this.all({ type: "warmup", atMs: this.clock.nowMs() + START_AHEAD_MS }, "warmed");
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  async start(at?: number): Promise<number> {
    await this.whenReady();
    const t0Ms = Math.max(at ?? 0, this.clock.nowMs() + START_AHEAD_MS);
    this.merged = new Recorder(this.layout, t0Ms, "merge");
    this.shardSeconds.fill(0);
    this.started = true;
    await this.all({ type: "start", t0Ms }, "started");
    return t0Ms;
  }

  /** One promise per run: each thread says "idle" once, and the coordinator may ask twice (interrupts). */
  whenIdle(): Promise<void> {
    this.idle ??= Promise.all(this.handles.map(async (handle) => expect(await handle.next("idle")))).then(
      () => undefined,
    );
    return this.idle;
  }

  stop(): void {
    for (const handle of this.handles) handle.send({ type: "stop" });
  }

  stats(): ShardStats {
    const stats: ShardStats = { sent: 0, inFlight: 0, peakInFlight: 0 };
    for (const handle of this.handles) {
      const latest = handle.latest?.stats;
      if (!latest) continue;
      stats.sent += latest.sent;
      stats.inFlight += latest.inFlight;
      // The threads' peaks need not coincide: their sum bounds the run's peak from above.
      stats.peakInFlight += latest.peakInFlight;
    }
    return stats;
  }

  eventLoopDelayMs(): LagSummaryMs {
    const worst: LagSummaryMs = { p50: 0, p99: 0, max: 0 };
    for (const handle of this.handles) {
      const lag = handle.latest?.loopDelay;
      if (!lag) continue;
      worst.p50 = Math.max(worst.p50, lag.p50);
      worst.p99 = Math.max(worst.p99, lag.p99);
      worst.max = Math.max(worst.max, lag.max);
    }
    return worst;
  }

  transportResult(): TransportResult {
    const reports = this.handles.flatMap((handle) => (handle.latest ? [handle.latest] : []));
    // Before the first report: what the run's connections will be, none opened yet.
    if (reports.length === 0) {
      this.unopened ??= transportFor(this.options, { index: 0, count: 1 }, this.clock).transportSummary();
      return { ...this.unopened, errors: {} };
    }
    const errors: TransportResult["errors"] = {};
    for (const report of reports) {
      for (const [key, entry] of Object.entries(report.transport.errors)) {
        const seen = errors[key];
        errors[key] = seen ? { count: seen.count + entry.count, reason: seen.reason } : { ...entry };
      }
    }
    const summary = mergeTransportSummaries(
      reports.map((report) => ({ summary: report.transport, connections: report.connections })),
    );
    return { ...summary, errors };
  }

  connectionTimes(): ConnectionTimes {
    // The threads' latest reports, merged bucket by bucket (none yet: empty histograms).
    return ConnectionRecorder.merged(
      this.handles.flatMap((handle) => (handle.latest ? [handle.latest.connections] : [])),
    ).times();
  }

  async close(): Promise<ShardEnd> {
    const closed = await this.all({ type: "close" }, "closed");
    await Promise.all(this.handles.map((handle) => handle.worker.terminate()));
    const end: ShardEnd = { abandoned: 0, dueUnsent: 0 };
    for (const message of closed) {
      end.abandoned += message.end.abandoned;
      end.dueUnsent += message.end.dueUnsent;
    }
    this.merged.closeSecondsBefore(Infinity);
    return end;
  }

  /** Merges one thread's report; a timeline second closes once every thread has moved past it. */
  private absorb(index: number, report: ShardReport): void {
    if (!this.started) return;
    this.merged.absorb(report.delta);
    this.shardSeconds[index] = report.delta.currentSecond;
    this.merged.closeSecondsBefore(Math.min(...this.shardSeconds));
  }

  private async all<T extends FromWorker["type"]>(
    message: ToWorker,
    reply: T,
  ): Promise<Array<Extract<FromWorker, { type: T }>>> {
    const replies = this.handles.map((handle) => handle.next(reply));
    for (const handle of this.handles) handle.send(message);
    return (await Promise.all(replies)).map(expect);
  }
}

/**
 * The worker script beside this module. Run from the TypeScript sources (vitest, tsx) there is
 * only `thread-worker.ts`, which a worker thread cannot load: the build's copy is used instead
 * (`npm test` builds first).
 */
function threadEntry(): URL {
  const beside = new URL("./thread-worker.js", import.meta.url);
  if (!import.meta.url.endsWith(".ts") || existsSync(beside)) return beside;
  return new URL("../../dist/engine/thread-worker.js", import.meta.url);
}

/** A reply, or the thread's failure as an exception (the run then fails with its message). */
function expect<T extends FromWorker>(message: T | FailedReply): T {
  if (message.type === "failed") throw new Error(`worker thread: ${(message as FailedReply).message}`);
  return message as T;
}
