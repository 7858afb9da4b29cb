import type { RunOptions } from "../config/options.js";
import type { RecorderDelta } from "../metrics/recorder.js";
import type { LagSummaryMs, TransportResult } from "../metrics/result.js";
import type { ConnectionState, ProbeResult } from "../transport/http.js";
import type { ShardEnd, ShardStats, Stripe } from "./shard.js";

/**
 * The messages between the run coordinator and its worker threads (`--threads`). Everything is
 * plain data (structured clone): histograms travel HDR-encoded, the target URL as text.
 */
export type ToWorker =
  | { type: "probe" }
  | { type: "warmup"; atMs: number }
  | { type: "start"; t0Ms: number }
  | { type: "stop" }
  | { type: "close" };

/** A worker's state: what its recorder measured since the last report, and its live figures. */
export interface ShardReport {
  delta: RecorderDelta;
  stats: ShardStats;
  loopDelay: LagSummaryMs;
  transport: TransportResult;
  connections: ConnectionState;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "probed"; result: ProbeResult }
  | { type: "warmed" }
  | { type: "started" }
  | { type: "report"; report: ShardReport }
  | { type: "idle" }
  | { type: "closed"; report: ShardReport; end: ShardEnd }
  | { type: "failed"; message: string };

/** RunOptions as a worker receives them: the URL as text; thresholds stay with the coordinator. */
export type WorkerOptions = Omit<RunOptions, "targetUrl" | "thresholds"> & { targetHref: string };

export interface WorkerInput {
  options: WorkerOptions;
  stripe: Stripe;
}

export function toWorkerOptions(options: RunOptions): WorkerOptions {
  const { targetUrl, thresholds: _thresholds, ...rest } = options;
  return { ...rest, targetHref: targetUrl.href };
}

export function fromWorkerOptions(options: WorkerOptions): RunOptions {
  const { targetHref, ...rest } = options;
  return { ...rest, targetUrl: new URL(targetHref) };
}
