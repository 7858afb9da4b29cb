/**
 * The monitor's options, and its part of the results (`monitor`, defined with the results contract
 * in metrics/result.ts, docs/RESULTS.md "monitor"). Plain data: it crosses the worker-thread
 * boundary as is.
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

export type {
  MonitorPoint,
  MonitorResult,
  MonitorSeries,
  MonitorSource,
  MonitorSummary,
} from "../metrics/result.js";

/** What the live progress line shows: the latest target CPU, if any source gives one. */
export interface MonitorLive {
  cpuCores?: number;
  limitCores?: number | null;
}
