/**
 * The built-in `mock` LLM provider. The methodology (docs/METHODOLOGY.md "Baseline results") notes that end-to-end latency
 * with an LLM is dominated by the provider, typically 200 ms to 2 s; the mock reproduces that
 * shape (a uniform random wait) without any network call, so `llm` category runs stay local.
 */
import { performance } from "node:perf_hooks";
import { InFlightList, type InFlightNode } from "../transport/in-flight.js";

export interface LatencyRangeMs {
  min: number;
  max: number;
}

export interface LlmCompletion {
  text: string;
  /** How long the provider took, as measured by the provider. */
  latencyMs: number;
}

export interface LlmProvider {
  readonly name: string;
  complete(prompt: string): Promise<LlmCompletion>;
  /** Completions being answered now; at most `limit`, the rest wait in order (a connection pool's shape). */
  readonly inUse: number;
  readonly limit: number;
  /** Completions waiting for a slot. */
  readonly waiting: number;
  /** Rejects every pending completion and releases its timer, so shutdown is immediate. */
  close(): void;
}

/**
 * Completions the mock answers at once, like a provider's concurrency quota or an HTTP client's
 * pool: beyond it they wait (docs/GATEWAY.md "The mock provider"). High enough that the demo's
 * rates never reach it with the default latency.
 */
export const DEFAULT_LLM_CONCURRENCY = 256;

export const DEFAULT_LLM_LATENCY_MS: Readonly<LatencyRangeMs> = Object.freeze({ min: 200, max: 2000 });

export class ProviderClosedError extends Error {
  constructor(name: string) {
    super(`LLM provider "${name}" was closed`);
    this.name = "ProviderClosedError";
  }
}

/**
 * A completion waiting for its timer. Kept in an InFlightList, not a Set: a Set added to and
 * deleted from at every request keeps dead entries reachable for the scavenger once a full GC
 * has moved one of its hash tables to the old generation (in-flight.ts says how).
 */
interface Pending extends InFlightNode<Pending> {
  timer: NodeJS.Timeout | undefined;
  reject: (err: Error) => void;
}

export function validateLatencyRange(range: LatencyRangeMs, field = "llmLatencyMs"): void {
  const { min, max } = range;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min < 0 || max < min) {
    throw new RangeError(
      `${field} must satisfy 0 <= min <= max (finite milliseconds); got min=${min}, max=${max}`,
    );
  }
}

/**
 * @param random uniform [0, 1) source; injectable so tests can pin the latency.
 */
export function createMockProvider(
  latencyMs: LatencyRangeMs = DEFAULT_LLM_LATENCY_MS,
  random: () => number = Math.random,
  limit: number = DEFAULT_LLM_CONCURRENCY,
): LlmProvider {
  validateLatencyRange(latencyMs);
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`llmConcurrency must be a positive integer; got ${limit}`);
  const { min, max } = latencyMs;
  const pending = new InFlightList<Pending>();
  /** Completions waiting for a slot, in arrival order. */
  const queue: Array<{ start: () => void; reject: (err: Error) => void }> = [];
  let inUse = 0;
  let closed = false;

  const release = (): void => {
    inUse -= 1;
    const next = queue.shift();
    if (next) next.start();
  };

  const slot = (): Promise<void> => {
    if (inUse < limit) {
      inUse += 1;
      return Promise.resolve();
    }
    return new Promise<void>((start, reject) =>
      queue.push({
        start: () => {
          inUse += 1;
          start();
        },
        reject,
      }),
    );
  };

  return {
    name: "mock",
    get inUse() {
      return inUse;
    },
    limit,
    get waiting() {
      return queue.length;
    },
    async complete(prompt: string): Promise<LlmCompletion> {
      if (closed) throw new ProviderClosedError("mock");
      await slot();
      try {
        return await answer(prompt);
      } finally {
        release();
      }
    },
    close(): void {
      closed = true;
      for (const waiter of queue.splice(0)) waiter.reject(new ProviderClosedError("mock"));
      for (const entry of pending.toArray()) {
        pending.remove(entry);
        clearTimeout(entry.timer);
        entry.reject(new ProviderClosedError("mock"));
      }
    },
  };

  function answer(prompt: string): Promise<LlmCompletion> {
    if (closed) return Promise.reject(new ProviderClosedError("mock"));
    const waitMs = min + random() * (max - min);
    return new Promise<LlmCompletion>((resolve, reject) => {
      const started = performance.now();
      const entry: Pending = {
        timer: undefined,
        reject,
        previousInFlight: undefined,
        nextInFlight: undefined,
      };
      // Node measures a timer from the event loop's cached time, which is stale by however long
      // the current callback has run (and libuv rounds it down to a millisecond), so a 5 ms
      // timer fired 4.2 ms after it was set, measured here: the wait re-arms until it has truly
      // passed on the monotonic clock, so the provider is never faster than asked.
      const wake = (): void => {
        const remainingMs = waitMs - (performance.now() - started);
        if (remainingMs > 0) {
          entry.timer = setTimeout(wake, remainingMs);
          return;
        }
        pending.remove(entry);
        resolve({ text: cannedCompletion(prompt), latencyMs: performance.now() - started });
      };
      entry.timer = setTimeout(wake, waitMs);
      pending.add(entry);
    });
  }
}

function cannedCompletion(prompt: string): string {
  const words = prompt.trim().split(/\s+/).length;
  return `[mock completion] Your ${words}-word prompt was checked by the policy engine and answered by the mock provider.`;
}
