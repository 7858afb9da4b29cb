import type { ShardEnd } from "../engine/shard.js";
import type { FromWorker, ShardReport, WorkerInput } from "../engine/thread-protocol.js";
import type { ShardSpec } from "./flags.js";

/**
 * The messages between `load-test coordinate` and its shard processes (`--coordinator URL`),
 * over HTTP/1.1 (docs/DISTRIBUTED.md "The coordinator"). They are the worker threads' messages
 * (engine/thread-protocol.ts) as JSON, with one change: times travel as wall-clock epoch ms,
 * because each process's monotonic clock has an origin of its own.
 *
 * - `POST /v1/register` (body `RegisterRequest`) answers with a stream of JSON lines that stays
 *   open for the run: first `assign`, then the coordinator's commands and a `ping` each second.
 *   Its connection closing is how each side learns that the other is gone.
 * - `POST /v1/shards/K/messages` (header `x-load-test-token`, body one `ShardMessage`): 204.
 */
export const PROTOCOL_VERSION = 1;

export const TOKEN_HEADER = "x-load-test-token";

/** Largest request body the coordinator reads (a report of one second is tens of KB). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** How often each side speaks when it has nothing else to say (pings, heartbeats, reports). */
export const TICK_MS = 1000;

export interface RegisterRequest {
  version: number;
  /** The stripe this shard asks for (`--shard K/N`, an Indexed Job's index); absent: any free one. */
  shard?: ShardSpec;
}

export type Command =
  | { type: "assign"; shard: ShardSpec; token: string; input: WorkerInput }
  | { type: "probe" }
  | { type: "warmup"; atEpochMs: number }
  | { type: "start"; t0EpochMs: number }
  | { type: "stop" }
  | { type: "close" }
  | { type: "ping" };

/**
 * What a shard posts: a worker thread's replies, `started` with how late it started, a
 * `heartbeat` each second before its schedule starts (reports take over after), and `left`
 * when it stops on its own (interrupted): its last report, then it is gone.
 */
export type ShardMessage =
  | Exclude<FromWorker, { type: "started" }>
  | { type: "started"; lateMs: number }
  | { type: "heartbeat" }
  | { type: "left"; reason: string; report?: ShardReport; end?: ShardEnd };

export function isShardMessage(value: unknown): value is ShardMessage {
  if (typeof value !== "object" || value === null) return false;
  const { type } = value as { type?: unknown };
  switch (type) {
    case "ready":
    case "warmed":
    case "idle":
    case "heartbeat":
      return true;
    case "probed":
      return typeof (value as { result?: unknown }).result === "object";
    case "started":
      return typeof (value as { lateMs?: unknown }).lateMs === "number";
    case "report":
      return isReport((value as { report?: unknown }).report);
    case "closed":
      return (
        isReport((value as { report?: unknown }).report) &&
        typeof (value as { end?: unknown }).end === "object"
      );
    case "failed":
    case "left":
      return (
        typeof (value as { message?: unknown; reason?: unknown }).message === "string" ||
        typeof (value as { reason?: unknown }).reason === "string"
      );
    default:
      return false;
  }
}

/** Enough of a report's shape that absorbing it cannot throw half-way. */
function isReport(value: unknown): value is ShardReport {
  if (typeof value !== "object" || value === null) return false;
  const report = value as Partial<ShardReport>;
  const delta = report.delta;
  return (
    typeof delta === "object" &&
    delta !== null &&
    typeof delta.latency === "string" &&
    typeof delta.currentSecond === "number" &&
    Array.isArray(delta.seconds) &&
    Array.isArray(delta.categories) &&
    typeof report.stats === "object" &&
    typeof report.loopDelay === "object" &&
    typeof report.transport === "object" &&
    typeof report.connections === "object"
  );
}

export function isRegisterRequest(value: unknown): value is RegisterRequest {
  if (typeof value !== "object" || value === null) return false;
  const request = value as { version?: unknown; shard?: unknown };
  if (request.version !== PROTOCOL_VERSION) return false;
  if (request.shard === undefined) return true;
  const shard = request.shard as { index?: unknown; count?: unknown } | null;
  return (
    typeof shard === "object" &&
    shard !== null &&
    Number.isSafeInteger(shard.index) &&
    Number.isSafeInteger(shard.count)
  );
}
