import type { Recorder } from "../metrics/recorder.js";
import type { LagSummaryMs, TransportResult } from "../metrics/result.js";
import type { ConnectionTimes, ProbeResult } from "../transport/http.js";
import type { Shard, ShardEnd, ShardStats } from "./shard.js";

/**
 * What the run coordinator (run.ts) drives: one shard in this thread, or one per worker thread
 * (`--threads`, threads.ts). Either way the coordinator reads one Recorder and one set of
 * counters, so results, thresholds, progress and exporters do not know how many threads sent.
 */
export interface LoadDriver {
  readonly threads: number;
  /** The measured run's results so far (merged over threads). */
  recorder(): Recorder;
  probe(): Promise<ProbeResult>;
  warmUp(signal?: AbortSignal): Promise<void>;
  /**
   * Starts the measured schedule at `t0Ms` (clock ms; default: as soon as every thread can);
   * resolves with t0 once every thread has it.
   */
  start(t0Ms?: number): Promise<number>;
  /** Resolves when every schedule is over (or stopped) and nothing is in flight. */
  whenIdle(): Promise<void>;
  /** Interrupt: nothing more leaves. */
  stop(): void;
  stats(): ShardStats;
  /** The worst thread's event-loop delay. */
  eventLoopDelayMs(): LagSummaryMs;
  transportResult(): TransportResult;
  /** The connect and TLS handshake time histograms (merged over threads), for the results file. */
  connectionTimes(): ConnectionTimes;
  /** Abandons what is still in flight, closes connections and threads; the recorder is final after it. */
  close(): Promise<ShardEnd>;
  /** How long before a shared start (`--start-at`) `start` must be called: a command's way to the senders. */
  readonly startLeadMs?: number;
  /** Shard processes driven by a coordinator (distributed/remote-driver.ts): who took part, who was lost. */
  fleetState?(): FleetState;
}

/** A coordinated run's shards (docs/DISTRIBUTED.md "The coordinator"). */
export interface FleetState {
  count: number;
  /** Shards still reporting. */
  live: number;
  /** The stripes of the shards still reporting, ascending. */
  shards: number[];
  /** Shards lost: the second of the run of their last contact (null: before the measured run) and why. */
  lost: Array<{ index: number; second: number | null; reason: string }>;
  /** Shards that started their schedule after the shared start, and how late (ms). */
  late: Array<{ index: number; lateMs: number }>;
}

/** A single-threaded run: the shard of the whole schedule, recording in this thread. */
export function localDriver(shard: Shard): LoadDriver {
  // A single-threaded run is one shard of one stripe, or stripe K of a --shard K/N process.
  return {
    threads: 1,
    recorder: () => shard.recorder,
    probe: () => shard.probe(),
    warmUp: (signal) => shard.warmUp(signal),
    start: (t0Ms) => Promise.resolve(shard.start(t0Ms)),
    whenIdle: () => shard.whenIdle(),
    stop: () => shard.stop(),
    stats: () => shard.stats(),
    eventLoopDelayMs: () => shard.eventLoopDelayMs(),
    transportResult: () => shard.transportResult(),
    connectionTimes: () => shard.connectionTimes(),
    close: () => shard.close(),
  };
}
