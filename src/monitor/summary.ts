/**
 * The monitor's summary and warning signs (docs/MONITOR.md "Warning signs"), from the series of
 * one window. Pure: the same function serves a run, each step of a ladder, and a loaded file.
 */
import type { MonitorSeries, MonitorSummary } from "./types.js";

export interface SummaryInputs {
  /** The scrape source whose `cpu` is the target's (its process before its machine). */
  cpuSource: string | undefined;
  limitCores: number | null;
  logs: MonitorSummary["logs"];
}

/** Memory needs this many points before "still growing" is judged. */
const MIN_POINTS_FOR_GROWTH = 8;

function values(series: MonitorSeries | undefined): number[] {
  return series?.points.map((point) => point.value) ?? [];
}

export function summarize(series: MonitorSeries[], inputs: SummaryInputs): MonitorSummary {
  const summary: MonitorSummary = { pools: [], logs: inputs.logs, warnings: [] };
  const of = (name: string, source: string | undefined): MonitorSeries | undefined =>
    series.find((entry) => entry.name === name && (source === undefined || entry.labels.source === source));
  const cpu = values(of("cpu", inputs.cpuSource));
  if (inputs.cpuSource !== undefined && cpu.length > 0) {
    summary.cpu = {
      peakCores: round(Math.max(...cpu)),
      meanCores: round(cpu.reduce((sum, value) => sum + value, 0) / cpu.length),
      limitCores: inputs.limitCores,
      source: inputs.cpuSource,
    };
  }
  const memorySeries =
    of("memory_rss", inputs.cpuSource) ?? of("memory_rss", undefined) ?? of("memory_used", undefined);
  const memory = values(memorySeries);
  if (memorySeries && memory.length > 0) {
    const startBytes = memory[0] as number;
    const endBytes = memory[memory.length - 1] as number;
    const growthBytes = endBytes - startBytes;
    // Still growing: over the last quarter of the window memory rose at least half as fast as
    // over the whole window (a level that was reached early and held is settled).
    const quarterIndex = Math.min(Math.floor((memory.length * 3) / 4), memory.length - 2);
    const quarterFraction = (memory.length - 1 - quarterIndex) / (memory.length - 1);
    const lastQuarterRise = endBytes - (memory[quarterIndex] as number);
    const settled =
      memory.length < MIN_POINTS_FOR_GROWTH ||
      growthBytes <= 0 ||
      lastQuarterRise < 0.5 * growthBytes * quarterFraction;
    summary.memory = {
      startBytes,
      endBytes,
      peakBytes: Math.max(...memory),
      growthBytes,
      settled,
      source: memorySeries.labels.source ?? "",
    };
  }
  for (const inUse of series.filter((entry) => entry.name === "pool_in_use")) {
    const key = JSON.stringify(inUse.labels);
    const limitSeries = series.find(
      (entry) => entry.name === "pool_limit" && JSON.stringify(entry.labels) === key,
    );
    const limit = values(limitSeries).at(-1);
    const used = values(inUse);
    if (limit === undefined || used.length === 0) continue;
    const peakInUse = Math.max(...used);
    summary.pools.push({
      name: inUse.labels.pool ?? "pool",
      labels: inUse.labels,
      peakInUse,
      limit,
      atLimit: limit > 0 && peakInUse >= limit,
    });
  }
  return summary;
}

/** Memory growth that counts as a sign: more than 10% of the start and more than 8 MiB. */
const LEAK_RATIO = 0.1;
const LEAK_MIN_BYTES = 8 * 1024 * 1024;
/** CPU at or above 90% of the target's cores is saturation (docs/MONITOR.md "Warning signs"). */
export const SATURATED_CPU_RATIO = 0.9;

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Warning signs for a run whose latency verdict is `latencyLevel`; also notes the sources that
 * failed. Returns them (the caller adds them to `verdict.warnings`) and keeps them in the summary.
 */
export function monitorWarnings(
  result: {
    sources: Array<{ name: string; attempts: number; failures: number; lastError?: string }>;
    summary: MonitorSummary;
  },
  latencyDegraded: boolean,
): string[] {
  const { summary } = result;
  const warnings: string[] = [];
  const cpu = summary.cpu;
  if (cpu && cpu.limitCores && latencyDegraded && cpu.peakCores >= SATURATED_CPU_RATIO * cpu.limitCores) {
    warnings.push(
      `target-bound: the target's CPU reached ${cpu.peakCores} of its ${cpu.limitCores} core(s) while latency was degraded ` +
        `(${cpu.source}); the target, not the load generator, is the limit`,
    );
  }
  const memory = summary.memory;
  if (
    memory &&
    !memory.settled &&
    memory.growthBytes > Math.max(LEAK_MIN_BYTES, LEAK_RATIO * memory.startBytes)
  ) {
    warnings.push(
      `possible leak: the target's memory grew from ${mib(memory.startBytes)} to ${mib(memory.endBytes)} and was still growing at the end (${memory.source})`,
    );
  }
  for (const pool of summary.pools.filter((entry) => entry.atLimit)) {
    warnings.push(
      `pool at its limit: ${pool.name} reached ${pool.peakInUse} of ${pool.limit}; requests waited for it`,
    );
  }
  for (const log of summary.logs.filter((entry) => entry.lines > 0)) {
    warnings.push(
      `${log.lines} error log line(s) in ${log.file} during the run (/${log.pattern}/), first: ${log.firstLines[0] ?? ""}`,
    );
  }
  for (const source of result.sources.filter((entry) => entry.failures > 0)) {
    warnings.push(
      `monitor: ${source.name} failed ${source.failures} of ${source.attempts} time(s) (${source.lastError ?? "unknown"}); its series have gaps`,
    );
  }
  summary.warnings = warnings;
  return warnings;
}

function round(value: number): number {
  return Number(value.toFixed(3));
}
