/**
 * The monitor's loop (docs/MONITOR.md): every interval it scrapes each `--monitor` URL, asks each
 * `--monitor-query` of the Prometheus server, and reads each `--monitor-log` file, all at once and
 * each on its own, so one source that hangs delays nothing but itself (a source still busy from
 * the last interval is skipped, never queued). It runs in its own process (monitor-process.ts),
 * so scraping and parsing never land on the generator's threads.
 */
import { availableParallelism } from "node:os";
import { displayUrl, fetchBounded } from "./fetch-bounded.js";
import { parsePage, readPage, wantedFamily } from "./exposition.js";
import { PageFilter, type WantedFamily } from "./page-filter.js";
import { LogFollower } from "./log-follower.js";
import { parseMetricPattern, type MetricPattern } from "./pattern.js";
import { instantQuery, rangeQuery } from "./prometheus-api.js";
import { MAX_SERIES, SeriesStore } from "./series-store.js";
import { monitorResult, type ResultContext, type Window } from "./monitor-result.js";
import type { MonitorLive, MonitorOptions, MonitorResult, MonitorSource } from "./types.js";

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const MAX_TIMEOUT_MS = 5000;

interface Source {
  info: MonitorSource;
  busy: boolean;
  poll: (atMs: number) => Promise<void>;
  limitCores?: number | null;
}

export type { Window } from "./monitor-result.js";

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

export class Collector {
  readonly store = new SeriesStore();
  private readonly sources: Source[] = [];
  private readonly followers: LogFollower[] = [];
  private readonly patterns: MetricPattern[];
  private readonly wanted: WantedFamily;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: MonitorOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.patterns = options.metricPatterns.map((text) => parseMetricPattern(text));
    this.wanted = wantedFamily(this.patterns);
    this.timeoutMs = options.timeoutMs ?? Math.min(Math.max(options.intervalMs, 250), MAX_TIMEOUT_MS);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    for (const url of options.scrapeUrls) this.addScrape(url);
    for (const query of options.prometheus?.queries ?? [])
      this.addQuery(options.prometheus?.url as string, query);
    const logPattern = new RegExp(options.logPattern);
    for (const file of options.logFiles) this.addLog(file, logPattern);
  }

  /** Polls now, then every interval. */
  start(): void {
    const loop = (): void => {
      if (this.closed) return;
      this.tick();
      this.timer = setTimeout(loop, this.options.intervalMs);
    };
    loop();
  }

  /** One round: every source that is not still busy, concurrently. Resolves when all have answered. */
  async tick(): Promise<void> {
    const atMs = this.now();
    await Promise.all(
      this.sources
        .filter((source) => !source.busy)
        .map(async (source) => {
          source.busy = true;
          source.info.attempts += 1;
          try {
            await source.poll(atMs);
          } catch (error) {
            source.info.failures += 1;
            source.info.lastError = error instanceof Error ? error.message : String(error);
          } finally {
            source.busy = false;
          }
        }),
    );
  }

  live(): MonitorLive {
    const cpuSource = this.cpuSource();
    if (!cpuSource) return {};
    const cpuCores = this.store.latest("cpu", { source: cpuSource.info.name });
    return cpuCores === undefined ? {} : { cpuCores, limitCores: cpuSource.limitCores ?? null };
  }

  /** Results for a window; a Prometheus server is asked for the window's range first. */
  async result(window: Window): Promise<MonitorResult> {
    if (this.options.prometheus) await this.queryRanges(this.options.prometheus.url, window);
    return monitorResult(this.store, window, this.context());
  }

  /** What a result needs besides the series (sources, summary inputs). */
  context(): ResultContext {
    const cpuSource = this.cpuSource();
    return {
      intervalMs: this.options.intervalMs,
      sources: this.sources.map((source) => ({ ...source.info })),
      cpuSource: cpuSource?.info.name,
      limitCores: cpuSource?.limitCores ?? null,
      logs: this.followers.map((follower) => ({
        file: follower.path,
        pattern: this.options.logPattern,
        lines: follower.matched,
        firstLines: [...follower.firstLines],
      })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await Promise.all(this.followers.map((follower) => follower.close()));
  }

  /** The target's own process before the machine it runs on (node_exporter). */
  private cpuSource(): Source | undefined {
    const withCpu = this.sources.filter(
      (source) =>
        source.info.kind === "scrape" && this.store.latest("cpu", { source: source.info.name }) !== undefined,
    );
    return withCpu.find((source) => source.info.detected !== "node_exporter") ?? withCpu[0];
  }

  private addScrape(url: string): void {
    const name = displayUrl(url);
    const source: Source = {
      info: { kind: "scrape", name, attempts: 0, failures: 0, series: 0 },
      busy: false,
      poll: async (atMs) => {
        // Only the families it reads are kept as the page arrives, and only they are parsed.
        const filter = new PageFilter(this.wanted);
        await fetchBounded(url, {
          timeoutMs: this.timeoutMs,
          maxBytes: this.maxBytes,
          accept: "text/plain;version=0.0.4;q=1,*/*;q=0.1",
          sink: (chunk) => filter.write(chunk),
        });
        const page = readPage(parsePage(filter.end()), this.patterns);
        source.info.detected = page.detected;
        if (source.limitCores === undefined)
          source.limitCores = page.limitCores ?? (isLoopback(url) ? availableParallelism() : null);
        const added = this.addReadings(
          page.readings.map((reading) => ({ ...reading, labels: { ...reading.labels, source: name } })),
          atMs,
        );
        if (added < page.readings.length)
          source.info.lastError = `only the first series were kept (at most ${MAX_SERIES} over all sources)`;
        source.info.series = this.countSeries(name);
      },
    };
    this.sources.push(source);
  }

  private addQuery(base: string, query: { name: string; query: string }): void {
    const source: Source = {
      info: {
        kind: "prometheus",
        name: `${displayUrl(base)} ${query.name}`,
        attempts: 0,
        failures: 0,
        series: 0,
        detected: "prometheus",
      },
      busy: false,
      poll: async (atMs) => {
        const answer = await instantQuery(base, query.query, atMs, {
          timeoutMs: this.timeoutMs,
          maxBytes: this.maxBytes,
        });
        for (const series of answer) {
          const point = series.points[series.points.length - 1];
          if (point)
            this.store.add(
              { name: query.name, unit: "", labels: series.labels, value: point.value, counter: false },
              atMs,
            );
        }
        source.info.series = answer.length;
      },
    };
    this.sources.push(source);
  }

  private addLog(file: string, pattern: RegExp): void {
    const follower = new LogFollower(file, pattern);
    this.followers.push(follower);
    let lastMs: number | undefined;
    const source: Source = {
      info: { kind: "log", name: file, attempts: 0, failures: 0, series: 1, detected: "log" },
      busy: false,
      poll: async (atMs) => {
        const lines = await follower.poll();
        if (lastMs !== undefined && atMs > lastMs)
          this.store.add(
            {
              name: "log_lines",
              unit: "lines_per_sec",
              labels: { file },
              value: (lines * 1000) / (atMs - lastMs),
              counter: false,
            },
            atMs,
          );
        lastMs = atMs;
      },
    };
    this.sources.push(source);
  }

  /** Range queries over the window, replacing the live instant points (bounded like a scrape). */
  private async queryRanges(base: string, window: Window): Promise<void> {
    await Promise.all(
      (this.options.prometheus?.queries ?? []).map(async (query) => {
        const source = this.sources.find(
          (candidate) => candidate.info.name === `${displayUrl(base)} ${query.name}`,
        );
        try {
          const answer = await rangeQuery(
            base,
            query.query,
            { fromMs: window.fromMs, toMs: window.toMs, stepMs: this.options.intervalMs },
            { timeoutMs: MAX_TIMEOUT_MS, maxBytes: this.maxBytes },
          );
          for (const series of answer)
            this.store.replace({ name: query.name, unit: "", labels: series.labels }, series.points);
        } catch (error) {
          if (source)
            source.info.lastError = `query_range: ${error instanceof Error ? error.message : String(error)}`;
        }
      }),
    );
  }

  private addReadings(readings: Array<Parameters<SeriesStore["add"]>[0]>, atMs: number): number {
    let added = 0;
    for (const reading of readings) if (this.store.add(reading, atMs)) added += 1;
    return added;
  }

  private countSeries(sourceName: string): number {
    return this.store.count({ source: sourceName });
  }
}
