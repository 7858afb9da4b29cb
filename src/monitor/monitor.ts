/**
 * The generator's handle on the monitor (docs/MONITOR.md): starts the collector in a worker
 * thread (worker.ts), keeps the latest target CPU for the live line, and asks for results by
 * window. Every call is bounded in time: a monitor that cannot answer yields no `monitor` part
 * and a warning, never a stalled or failed run.
 */
import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { Window } from "./collector.js";
import type { MonitorLive, MonitorOptions, MonitorResult } from "./types.js";
import type { FromMonitor, ToMonitor } from "./worker.js";

/** The end-of-run range queries take at most 5 s; this leaves them room and no more. */
const RESULT_TIMEOUT_MS = 8000;

export interface Monitor {
  live(): MonitorLive;
  /** The window's results, or a one-line reason why there are none. */
  result(window: Window): Promise<MonitorResult | { failed: string }>;
  stop(): Promise<void>;
}

function workerEntry(): URL {
  const beside = new URL("./worker.js", import.meta.url);
  if (!import.meta.url.endsWith(".ts") || existsSync(beside)) return beside;
  return new URL("../../dist/monitor/worker.js", import.meta.url);
}

export function startMonitor(options: MonitorOptions): Monitor {
  const worker = new Worker(workerEntry(), { workerData: options });
  // The monitor never keeps the process alive: the run decides when it ends.
  worker.unref();
  let latest: MonitorLive = {};
  let failure: string | undefined;
  let nextId = 0;
  const waiting = new Map<number, (answer: MonitorResult | { failed: string }) => void>();
  worker.on("message", (message: FromMonitor) => {
    if (message.type === "live") latest = message.live;
    else if (message.type === "result") waiting.get(message.id)?.(message.result);
    else if (message.id !== undefined) waiting.get(message.id)?.({ failed: message.message });
  });
  const fail = (why: string): void => {
    failure = why;
    for (const resolve of waiting.values()) resolve({ failed: why });
  };
  worker.on("error", (error) => fail(`monitor thread failed: ${error.message}`));
  worker.on("exit", () => fail(failure ?? "monitor thread ended"));
  return {
    live: () => latest,
    result(window) {
      if (failure !== undefined) return Promise.resolve({ failed: failure });
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(
          () => finish({ failed: `monitor results took over ${RESULT_TIMEOUT_MS} ms` }),
          RESULT_TIMEOUT_MS,
        );
        const finish = (answer: MonitorResult | { failed: string }): void => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(answer);
        };
        waiting.set(id, finish);
        worker.postMessage({ type: "result", id, window } satisfies ToMonitor);
      });
    },
    async stop() {
      worker.postMessage({ type: "stop" } satisfies ToMonitor);
      // A source stuck in a read cannot hold the process: the thread is ended after a grace period.
      const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, 500).unref());
      await Promise.race([ended, grace]);
      await worker.terminate();
    },
  };
}
