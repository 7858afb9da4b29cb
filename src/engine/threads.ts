import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { RunOptions } from "../config/options.js";
import type { ProbeResult } from "../transport/http.js";
import { composeStripe } from "../distributed/flags.js";
import type { Clock } from "./clock.js";
import type { LoadDriver } from "./driver.js";
import { MergingDriver } from "./merging-driver.js";
import { scenarioFor, type ShardEnd } from "./shard.js";
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
export class ThreadedDriver extends MergingDriver implements LoadDriver {
  private readonly handles: ThreadHandle[];
  private ready: Promise<void> | undefined;
  private idle: Promise<void> | undefined;

  constructor(
    options: RunOptions,
    threads: number,
    clock: Clock,
    entry: URL = threadEntry(),
    categories: readonly string[] = scenarioFor(options).categories,
  ) {
    super(options, clock, threads, categories);
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

  protected senders(): readonly ThreadHandle[] {
    return this.handles;
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

  warmUp(signal?: AbortSignal): Promise<void> {
    return this.warmUpWith(signal, async () => {
      await this.whenReady();
      return this.all({ type: "warmup", atMs: this.clock.nowMs() + START_AHEAD_MS }, "warmed");
    });
  }

  async start(at?: number): Promise<number> {
    await this.whenReady();
    const t0Ms = Math.max(at ?? 0, this.clock.nowMs() + START_AHEAD_MS);
    this.startMerge(t0Ms);
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
