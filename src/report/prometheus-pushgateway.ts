/**
 * Pushes to a Prometheus Pushgateway with prom-client's client, bounded so that a Pushgateway that is
 * down, slow or answering errors never stalls the run: each attempt has a timeout, retries back off
 * exponentially, attempts and total time are capped, and every failure is returned, never thrown.
 */
import { Pushgateway, type Registry } from "prom-client";
import type { PushgatewayOptions } from "./prometheus-options.js";

export interface PushOutcome {
  ok: boolean;
  attempts: number;
  /** The caller's signal stopped it: not a failure of the Pushgateway. */
  cancelled?: boolean;
  /** Short reason of the last failure, e.g. "connect ECONNREFUSED 127.0.0.1:9091", "HTTP 400: ...". */
  error?: string;
}

/**
 * The grouping key of a run: job, run_id and, for shards, instance. Values that the Pushgateway cannot
 * take in a URL path segment ("/" or empty) use its `name@base64` form (Pushgateway README, "URL").
 */
export function groupingKey(
  opts: PushgatewayOptions,
  runId: string,
): { jobName: string; groupings: Record<string, string> } {
  const groupings: Record<string, string> = {};
  const add = (name: string, value: string): void => {
    if (value === "" || value.includes("/")) {
      groupings[`${name}@base64`] = value === "" ? "=" : Buffer.from(value, "utf8").toString("base64url");
    } else {
      groupings[name] = value;
    }
  };
  add("run_id", runId);
  if (opts.instance !== undefined) add("instance", opts.instance);
  return { jobName: opts.job, groupings };
}

/** Describes the group for messages, e.g. `job="load-test",run_id="r1"`. */
export function describeGroup(opts: PushgatewayOptions, runId: string): string {
  const parts = [`job="${opts.job}"`, `run_id="${runId}"`];
  if (opts.instance !== undefined) parts.push(`instance="${opts.instance}"`);
  return parts.join(",");
}

interface PushRequestBase {
  /** Aborting stops the current attempt and all retries (finish() pre-empts a periodic push). */
  signal?: AbortSignal;
  /** Epoch ms after which no further attempt starts and the current one is cut short. */
  deadline?: number;
}
/** PUT replaces the whole group with the registry's metrics; DELETE removes the group. */
export type PushRequest = PushRequestBase & ({ method: "push"; registry: Registry } | { method: "delete" });

/** PUT or DELETE with retries; resolves with the outcome, never rejects. */
export async function pushWithRetry(
  opts: PushgatewayOptions,
  runId: string,
  request: PushRequest,
): Promise<PushOutcome> {
  const key = groupingKey(opts, runId);
  const deadline = request.deadline ?? Number.POSITIVE_INFINITY;
  const cancelled = (): boolean => request.signal?.aborted === true;
  let error = "not attempted";
  let attempt = 0;
  while (attempt < opts.attempts && !cancelled()) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    attempt += 1;
    const timeoutMs = Math.min(opts.attemptTimeoutMs, remaining);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout]);
    try {
      // A fresh client per attempt: prom-client takes the request options (the signal) at construction.
      if (request.method === "push") {
        const headers = { "Content-Type": request.registry.contentType };
        await new Pushgateway(opts.url, { signal, agent: false, headers }, request.registry).push(key);
      } else {
        await new Pushgateway(opts.url, { signal, agent: false }).delete(key);
      }
      return { ok: true, attempts: attempt };
    } catch (err) {
      const status = httpStatus(err);
      error = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeError(err, status);
      // A 4xx other than 408/429 is the same answer next time (e.g. metrics inconsistent with another group).
      if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) break;
    }
    if (attempt < opts.attempts && !cancelled()) {
      const wait = opts.backoffMs * 2 ** (attempt - 1);
      if (Date.now() + wait >= deadline) break;
      await sleep(wait, request.signal);
    }
  }
  return cancelled()
    ? { ok: false, attempts: attempt, cancelled: true }
    : { ok: false, attempts: attempt, error };
}

/** prom-client rejects with `push failed with status <code>, <body>` for HTTP errors (lib/pushgateway.js). */
function httpStatus(err: unknown): number | undefined {
  const match = err instanceof Error ? /^push failed with status (\d{3})/.exec(err.message) : null;
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function describeError(err: unknown, status: number | undefined): string {
  if (!(err instanceof Error)) return String(err);
  if (status !== undefined) {
    const body = err.message.replace(/^push failed with status \d{3},?\s*/, "").trim();
    const firstLine = body.split("\n")[0]?.slice(0, 200) ?? "";
    return firstLine === "" ? `HTTP ${status}` : `HTTP ${status}: ${firstLine}`;
  }
  // Node's network errors already read well ("connect ECONNREFUSED 127.0.0.1:9091"); never echo a URL
  // from them, it may carry basic-auth credentials.
  return err.message.replace(/\/\/[^/@\s]*@/g, "//");
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    // Not unref'd: finish() may be all that is left to wait for, and it must complete.
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
