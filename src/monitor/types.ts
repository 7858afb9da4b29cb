/**
 * The monitor's options and its part of the results (`monitor`, docs/RESULTS.md "monitor",
 * docs/MONITOR.md). Plain data: it crosses the worker-thread boundary as is.
 */

export interface MonitorOptions {
  /** `--monitor URL`: Prometheus text endpoints scraped every interval. */
  scrapeUrls: string[];
  /** `--monitor-interval` (default 1 s). */
  intervalMs: number;
  /** `--monitor-metric PATTERN` texts (parsed again in the worker). */
  metricPatterns: string[];
  /** `--monitor-prometheus URL` with its `--monitor-query NAME=PROMQL`s. */
  prometheus?: { url: string; queries: Array<{ name: string; query: string }> };
  /** `--monitor-log FILE`. */
  logFiles: string[];
  /** `--monitor-log-pattern` (default `ERROR|FATAL|panic`). */
  logPattern: string;
  /** One scrape or query may take this long (default: the interval, at most 5 s). */
  timeoutMs?: number;
  /** A page larger than this is cut off and noted (default 16 MiB). */
  maxBytes?: number;
}

export type SourceKind = "scrape" | "prometheus" | "log";

export interface MonitorSource {
  kind: SourceKind;
  /** URL without credentials or query string, or the log file's path. */
  name: string;
  /** Scrapes, queries or reads attempted, and those that failed. */
  attempts: number;
  failures: number;
  /** Why the last failure happened (timeout, refused, not Prometheus text, too large, …). */
  lastError?: string;
  /** Series this source added to `series`. */
  series: number;
  /** What the source turned out to be: "node" (prom-client), "go", "node_exporter", "process", "prometheus", "log". */
  detected?: string;
}

export interface MonitorPoint {
  /** Seconds since the run's start (`startedAt`); negative during the warm-up. */
  t: number;
  value: number;
}

export interface MonitorSeries {
  /** cpu, memory_rss, heap_used, event_loop_lag, goroutines, pool_in_use, pool_limit, log_lines, or a metric's own name. */
  name: string;
  /** cores, bytes, ms, count, per_sec (a counter's rate), lines_per_sec, or "" (a gauge as read). */
  unit: string;
  labels: Record<string, string>;
  points: MonitorPoint[];
}

export interface MonitorSummary {
  cpu?: {
    peakCores: number;
    meanCores: number;
    /** Cores the target can use (node_exporter's CPU count; 1 for a Node.js process's event loop; else the source's host count when on this machine), or null. */
    limitCores: number | null;
    source: string;
  };
  memory?: {
    startBytes: number;
    endBytes: number;
    peakBytes: number;
    growthBytes: number;
    /** False when the memory still climbed over the last quarter of the run. */
    settled: boolean;
    source: string;
  };
  pools: Array<{
    name: string;
    labels: Record<string, string>;
    peakInUse: number;
    limit: number;
    atLimit: boolean;
  }>;
  logs: Array<{ file: string; pattern: string; lines: number; firstLines: string[] }>;
  /** Warning signs (also in `verdict.warnings`). */
  warnings: string[];
}

export interface MonitorResult {
  intervalMs: number;
  sources: MonitorSource[];
  series: MonitorSeries[];
  summary: MonitorSummary;
}

/** What the live progress line shows: the latest target CPU, if any source gives one. */
export interface MonitorLive {
  cpuCores?: number;
  limitCores?: number | null;
}
