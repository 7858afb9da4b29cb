/**
 * The monitor's own process (monitor.ts starts it): the collector's scrapes, parsing and log
 * reads happen here, never on the generator's event loop, and below the generator's priority
 * (docs/MONITOR.md "Off the hot path"). It ends when its parent does (the IPC channel closes).
 */
import { setPriority } from "node:os";
import { Collector, type Window } from "./collector.js";
import type { ResultContext } from "./monitor-result.js";
import type { StoreDelta } from "./series-store.js";
import type { MonitorLive, MonitorOptions, MonitorResult } from "./types.js";

export type ToMonitor =
  | { type: "start"; options: MonitorOptions }
  | { type: "result"; id: number; window: Window }
  | { type: "stop" };
export type FromMonitor =
  /**
   * After each round: the live line's figures, the points added (a few hundred bytes), and the
   * sources and summary inputs when they changed; the generator keeps a copy of the series, so a
   * forced quit still writes them (monitor.ts `resultNow`).
   */
  | { type: "tick"; live: MonitorLive; store: StoreDelta; context?: ResultContext }
  | { type: "result"; id: number; result: MonitorResult }
  | { type: "failed"; id?: number; message: string };

const send = (message: FromMonitor): void => {
  if (process.connected) process.send?.(message);
};

if (!process.send) throw new Error("monitor-process.js runs only as the monitor's child process");

// Started through `nice -n 19` (every thread, V8's and libuv's included); where that was not
// possible this thread lowers its own priority at least (Linux keeps it per thread).
try {
  setPriority(19);
} catch {
  // Not allowed here: the monitor runs at its parent's priority.
}

let collector: Collector | undefined;

process.on("disconnect", () => {
  void collector?.close();
  process.exit(0);
});

process.on("message", (message: ToMonitor) => {
  if (message.type === "start") {
    const started = new Collector(message.options);
    const tick = started.tick.bind(started);
    let lastContext = "";
    started.tick = async () => {
      await tick();
      const context = started.context();
      const contextText = JSON.stringify(context);
      const changed = contextText !== lastContext;
      lastContext = contextText;
      send({
        type: "tick",
        live: started.live(),
        store: started.store.drain(),
        ...(changed ? { context } : {}),
      });
    };
    collector = started;
    started.start();
    return;
  }
  if (message.type === "stop") {
    void (collector?.close() ?? Promise.resolve()).finally(() => process.exit(0));
    return;
  }
  if (!collector) {
    send({ type: "failed", id: message.id, message: "the monitor was not started" });
    return;
  }
  collector
    .result(message.window)
    .then((result) => send({ type: "result", id: message.id, result }))
    .catch((error: unknown) =>
      send({
        type: "failed",
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      }),
    );
});
