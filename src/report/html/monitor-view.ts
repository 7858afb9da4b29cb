/**
 * The target's signals in the HTML report (docs/MONITOR.md "In the HTML report"): a "Target"
 * section right under "Over time", its charts on the latency charts' time axis (the timeline's
 * seconds, one shared cursor), from `result.monitor` (docs/RESULTS.md "monitor").
 */
import type { MonitorResult, MonitorSeries, RunResult } from "../../metrics/result.js";
import { escapeHtml, type Block, type ChartSpec, type SeriesSpec } from "./page.js";

const PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#57606a"];
/** More lines than this in one chart is unreadable; the rest stay in the results file. */
const MAX_LINES = 8;
/** Charts for `--monitor-metric` and `--monitor-query` series, at most. */
const MAX_OTHER_CHARTS = 6;
const MIB = 1024 * 1024;

/** The series' value for each timeline second t (its last point in [t, t+1)), null where none. */
export function perSecond(series: MonitorSeries, seconds: number[], scale = 1): Array<number | null> {
  return seconds.map((t) => {
    let value: number | null = null;
    for (const point of series.points) if (point.t >= t && point.t < t + 1) value = point.value / scale;
    return value;
  });
}

function lineLabel(series: MonitorSeries, withName: boolean): string {
  const labels = Object.entries(series.labels)
    .filter(([key]) => key !== "source" || withName)
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
  return withName ? (labels === "" ? series.name : `${series.name} {${labels}}`) : labels || series.name;
}

function lines(
  series: MonitorSeries[],
  seconds: number[],
  label: (s: MonitorSeries) => string,
  scale = 1,
): SeriesSpec[] {
  return series.slice(0, MAX_LINES).map((entry, index) => ({
    label: label(entry),
    values: perSecond(entry, seconds, scale),
    color: PALETTE[index % PALETTE.length] as string,
  }));
}

function summaryHtml(monitor: MonitorResult): string {
  const { summary } = monitor;
  const rows: Array<[string, string]> = [];
  if (summary.cpu) {
    const limit = summary.cpu.limitCores === null ? "" : ` of ${summary.cpu.limitCores}`;
    rows.push([
      "CPU (cores)",
      `peak ${summary.cpu.peakCores}${limit}, mean ${summary.cpu.meanCores} (${summary.cpu.source})`,
    ]);
  }
  if (summary.memory) {
    const m = summary.memory;
    rows.push([
      "Memory",
      `${(m.startBytes / MIB).toFixed(1)} MiB → ${(m.endBytes / MIB).toFixed(1)} MiB (peak ${(m.peakBytes / MIB).toFixed(1)} MiB${m.settled ? "" : ", still growing"})`,
    ]);
  }
  for (const pool of summary.pools)
    rows.push([
      `Pool ${pool.name}`,
      `peak ${pool.peakInUse} of ${pool.limit}${pool.atLimit ? " (at its limit)" : ""}`,
    ]);
  for (const log of summary.logs)
    rows.push([
      `Log ${log.file}`,
      `${log.lines} line(s) matching /${log.pattern}/${log.firstLines[0] ? `; first: ${log.firstLines[0]}` : ""}`,
    ]);
  for (const source of monitor.sources.filter((entry) => entry.failures > 0))
    rows.push([
      `Source ${source.name}`,
      `${source.failures} of ${source.attempts} reads failed (${source.lastError ?? "unknown"})`,
    ]);
  const body = rows
    .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td class="text">${escapeHtml(value)}</td></tr>`)
    .join("");
  return `<table class="facts"><tbody>${body}</tbody></table>`;
}

/** The Target section's blocks, or undefined when the run was not monitored. */
export function monitorBlocks(
  result: RunResult,
  seconds: number[],
  sync: string,
  id: (name: string) => string,
): Block[] | undefined {
  const monitor = result.monitor;
  if (!monitor) return undefined;
  const x = { label: "time since start (s)", kind: "seconds" as const, values: seconds };
  const named = (name: string): MonitorSeries[] => monitor.series.filter((entry) => entry.name === name);
  const charts: ChartSpec[] = [];
  const cpu = named("cpu");
  if (cpu.length > 0) {
    const limit = monitor.summary.cpu?.limitCores;
    charts.push({
      id: id("chart-target-cpu"),
      title: "Target CPU",
      x,
      y: { label: "cores" },
      series: [
        ...lines(cpu, seconds, (s) => s.labels.source ?? "cpu"),
        ...(limit
          ? [
              {
                label: `its cores (${limit})`,
                values: seconds.map(() => limit),
                color: "#57606a",
                dash: true,
              },
            ]
          : []),
      ],
      sync,
    });
  }
  const memory = [...named("memory_rss"), ...named("memory_used"), ...named("heap_used")];
  if (memory.length > 0)
    charts.push({
      id: id("chart-target-memory"),
      title: "Target memory",
      x,
      y: { label: "MiB" },
      series: lines(memory, seconds, (s) => `${s.name} ${s.labels.source ?? ""}`.trim(), MIB),
      sync,
    });
  const lag = named("event_loop_lag");
  if (lag.length > 0)
    charts.push({
      id: id("chart-target-lag"),
      title: "Target event-loop lag (p99)",
      x,
      y: { label: "ms" },
      series: lines(lag, seconds, (s) => s.labels.source ?? "lag"),
      sync,
    });
  const pools = named("pool_in_use");
  if (pools.length > 0) {
    const limits = named("pool_limit");
    charts.push({
      id: id("chart-target-pools"),
      title: "Target pools: in use against the limit",
      x,
      y: { label: "in use" },
      series: [
        ...lines(pools, seconds, (s) => s.labels.pool ?? "pool"),
        ...lines(limits, seconds, (s) => `${s.labels.pool ?? "pool"} limit`).map((line) => ({
          ...line,
          dash: true,
        })),
      ],
      sync,
    });
  }
  const logs = named("log_lines");
  if (logs.length > 0)
    charts.push({
      id: id("chart-target-logs"),
      title: "Error log lines",
      x,
      y: { label: "lines/s" },
      series: lines(logs, seconds, (s) => s.labels.file ?? "log"),
      sync,
    });
  const known = new Set([
    "cpu",
    "memory_rss",
    "memory_used",
    "heap_used",
    "event_loop_lag",
    "pool_in_use",
    "pool_limit",
    "log_lines",
  ]);
  const others = new Map<string, MonitorSeries[]>();
  for (const entry of monitor.series.filter((s) => !known.has(s.name)))
    others.set(`${entry.name}\u0000${entry.unit}`, [
      ...(others.get(`${entry.name}\u0000${entry.unit}`) ?? []),
      entry,
    ]);
  let index = 0;
  for (const group of [...others.values()].slice(0, MAX_OTHER_CHARTS)) {
    const first = group[0] as MonitorSeries;
    charts.push({
      id: id(`chart-target-other-${index++}`),
      title: first.name,
      x,
      y: { label: first.unit === "per_sec" ? "per second" : first.unit || "value" },
      series: lines(group, seconds, (s) => lineLabel(s, false)),
      sync,
    });
  }
  return [{ html: summaryHtml(monitor) }, ...charts.map((chart) => ({ chart }))];
}
