import { parseDurationMs } from "../config/duration.js";
import { InputError } from "../config/errors.js";

/** Which stripe of the plan this process sends (docs/DISTRIBUTED.md "Stripes"). */
export interface ShardSpec {
  index: number;
  count: number;
}

/** What `--shard`, `--start-at` and `--run-id` add to a run's options. */
export interface DistributedOptions {
  shard?: ShardSpec;
  /** Wall-clock instant (epoch ms) at which the measured schedule starts, after any warm-up. */
  startAtEpochMs?: number;
  /** The run id every shard shares (results, Pushgateway grouping key, `run_id` label). */
  runId?: string;
}

export interface DistributedFlags {
  shard?: string;
  startAt?: string;
  runId?: string;
}

/** `--shard K/N`: 0 <= K < N. */
export function parseShard(text: string, flag = "--shard"): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count)
    throw new InputError(flag, `expected K/N with 0 <= K < N, like 0/4, got "${text}"`);
  return { index, count };
}

/**
 * `--start-at`: RFC 3339 (`2026-12-04T17:00:00Z`, with a zone) or `+10s` from now. An instant
 * in the past cannot be honoured by every shard alike, so it is refused rather than run late.
 */
export function parseStartAt(text: string, nowEpochMs: number): number {
  const trimmed = text.trim();
  let atMs: number | undefined;
  if (trimmed.startsWith("+")) {
    const offsetMs = parseDurationMs(trimmed.slice(1));
    if (offsetMs !== undefined) atMs = nowEpochMs + offsetMs;
  } else if (/^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/.test(trimmed)) {
    const parsed = Date.parse(trimmed);
    if (Number.isFinite(parsed)) atMs = parsed;
  }
  if (atMs === undefined)
    throw new InputError(
      "--start-at",
      `expected an RFC 3339 time with a zone (2026-12-04T17:00:00Z) or +DURATION (+10s), got "${text}"`,
    );
  if (atMs <= nowEpochMs)
    throw new InputError("--start-at", `${new Date(atMs).toISOString()} is in the past`);
  return atMs;
}

/** `--run-id`: a Prometheus label value and a Pushgateway path segment: keep it plain. */
export function parseRunId(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(text))
    throw new InputError("--run-id", `expected 1-128 letters, digits, ".", "_" or "-", got "${text}"`);
  return text;
}

export function parseDistributedFlags(flags: DistributedFlags, nowEpochMs: number): DistributedOptions {
  return {
    ...(flags.shard !== undefined ? { shard: parseShard(flags.shard) } : {}),
    ...(flags.startAt !== undefined ? { startAtEpochMs: parseStartAt(flags.startAt, nowEpochMs) } : {}),
    ...(flags.runId !== undefined ? { runId: parseRunId(flags.runId) } : {}),
  };
}

/**
 * A Kubernetes Indexed Job gives each pod `JOB_COMPLETION_INDEX`; with `LOAD_TEST_SHARDS` that is
 * `--shard K/N`. The flag, when typed, wins.
 */
export function shardFromEnvironment(env: Record<string, string | undefined>): string | undefined {
  const index = env.JOB_COMPLETION_INDEX;
  const count = env.LOAD_TEST_SHARDS;
  if (index === undefined || index === "" || count === undefined || count === "") return undefined;
  return `${index}/${count}`;
}

/** Stripe `stripe` of this shard's stripe: requests i ≡ K + N·t (mod N·T) of the whole plan. */
export function composeStripe(shard: ShardSpec | undefined, stripe: ShardSpec): ShardSpec {
  if (!shard || shard.count === 1) return stripe;
  return { index: shard.index + shard.count * stripe.index, count: shard.count * stripe.count };
}
