/**
 * The monitor's worker thread (monitor.ts starts it): the collector's scrapes, parsing and log
 * reads happen here, off the generator's event loop (docs/MONITOR.md "Off the hot path").
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { Collector, type Window } from "./collector.js";
import type { MonitorOptions } from "./types.js";

export type ToMonitor = { type: "result"; id: number; window: Window } | { type: "stop" };
export type FromMonitor =
  | { type: "live"; live: ReturnType<Collector["live"]> }
  | { type: "result"; id: number; result: Awaited<ReturnType<Collector["result"]>> }
  | { type: "failed"; id?: number; message: string };

const port = parentPort;
if (!port) throw new Error("monitor worker.js runs only as a worker thread");

// Linux keeps the nice value per thread (setpriority(2), "NOTES"), and libuv asks for the
// calling thread's: this thread yields the CPU to the generator's threads, which share the
// machine with it (docs/MONITOR.md "Off the hot path"). Elsewhere it may not apply; no matter.
try {
  setPriority(19);
} catch {
  // Not allowed here: the monitor runs at the generator's priority.
}

const collector = new Collector(workerData as MonitorOptions);
const tick = collector.tick.bind(collector);
collector.tick = async () => {
  await tick();
  port.postMessage({ type: "live", live: collector.live() } satisfies FromMonitor);
};
collector.start();

port.on("message", (message: ToMonitor) => {
  if (message.type === "stop") {
    void collector.close().finally(() => port.close());
    return;
  }
  collector
    .result(message.window)
    .then((result) => port.postMessage({ type: "result", id: message.id, result } satisfies FromMonitor))
    .catch((error: unknown) =>
      port.postMessage({
        type: "failed",
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      } satisfies FromMonitor),
    );
});
