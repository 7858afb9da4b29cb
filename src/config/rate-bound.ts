import { InputError } from "./errors.js";

/**
 * The highest rate one thread of load-test may be asked for, req/s. One thread sends about
 * 35–45k req/s at most here (docs/BENCHMARKS.md: `--rps max`, one core); the bound leaves room
 * for faster machines. Above it a run could only fall behind, and an absurd rate (1e12) plans
 * more requests than any run could ever look at (README "Running a load test").
 */
export const MAX_RATE_PER_THREAD_PER_SEC = 100_000;

/**
 * Throws an InputError naming `field` when `peakPerSec` is more than `threads` threads can send,
 * or, for `load-test coordinate`, `shards` shard processes of one thread each. A `--shard K/N`
 * process sends 1/N of the plan (docs/DISTRIBUTED.md "Stripes"): `shardCount` processes with
 * `threads` threads each share the rate.
 */
export function checkRateBound(
  peakPerSec: number,
  threads: number,
  field: string,
  shards?: number,
  shardCount = 1,
): void {
  if (shards !== undefined) {
    const fleetLimitPerSec = MAX_RATE_PER_THREAD_PER_SEC * shards;
    if (peakPerSec <= fleetLimitPerSec) return;
    throw new InputError(
      field,
      `${peakPerSec} req/s is more than ${shards} shards can send: at most ` +
        `${MAX_RATE_PER_THREAD_PER_SEC} req/s per shard, ${fleetLimitPerSec} with --shards ${shards}; give more --shards`,
    );
  }
  const limitPerSec = MAX_RATE_PER_THREAD_PER_SEC * threads * shardCount;
  if (peakPerSec <= limitPerSec) return;
  if (shardCount > 1)
    throw new InputError(
      field,
      `${peakPerSec} req/s is more than ${shardCount} shards of ${threads} thread${threads > 1 ? "s" : ""} can send: at most ` +
        `${MAX_RATE_PER_THREAD_PER_SEC} req/s per thread, ${limitPerSec} in all; give more shards or --threads`,
    );
  throw new InputError(
    field,
    `${peakPerSec} req/s is more than this load-test process can send: at most ` +
      `${MAX_RATE_PER_THREAD_PER_SEC} req/s per thread, ${limitPerSec} with --threads ${threads}; ` +
      "give more --threads (one per core), or split the rate over several load-test processes " +
      "(shards, on several machines), each with its share",
  );
}
