/**
 * A window's `monitor` part (docs/RESULTS.md "monitor") from a store of series and what the
 * summary needs. Both sides use it: the monitor process for a run's end, and the generator, from
 * its copy of the series, when it must quit at once (a second Ctrl-C) and cannot ask.
 */
import type { SeriesStore } from "./series-store.js";
import { summarize, type SummaryInputs } from "./summary.js";
import type { MonitorResult, MonitorSource } from "./types.js";

export interface Window {
  fromMs: number;
  toMs: number;
  /** The run's start: points get `t` in seconds from it. */
  originMs: number;
}

/** Everything of a result but its series: small, sent to the generator when it changes. */
export interface ResultContext extends SummaryInputs {
  intervalMs: number;
  sources: MonitorSource[];
}

export function monitorResult(store: SeriesStore, window: Window, context: ResultContext): MonitorResult {
  const series = store.window(window.fromMs, window.toMs, window.originMs);
  return {
    intervalMs: context.intervalMs,
    sources: context.sources.map((source) => ({ ...source })),
    series,
    summary: summarize(series, {
      cpuSource: context.cpuSource,
      limitCores: context.limitCores,
      logs: context.logs,
    }),
  };
}
