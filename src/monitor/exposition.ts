/**
 * From one scraped page (Prometheus text exposition format 0.0.4) to the values the monitor
 * keeps (docs/MONITOR.md "What is kept"). Parsing is parse-prometheus-text-format's; this module
 * only picks: CPU, memory, heap, event-loop lag, goroutines, pools, and what `--monitor-metric`
 * asks for.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { matchesPattern, type MetricPattern } from "./pattern.js";
import type { WantedFamily } from "./page-filter.js";

export interface Reading {
  name: string;
  unit: string;
  labels: Record<string, string>;
  value: number;
  /** A counter: the monitor keeps its rate per second, not the value. */
  counter: boolean;
}

export interface PageReading {
  readings: Reading[];
  /** node, go, node_exporter or process (what the page's own metric names say it is). */
  detected: string;
  /** The CPUs node_exporter counted; 1 for a Node.js process (one event loop); else undefined. */
  limitCores?: number;
}

export class NotPrometheusError extends Error {}

/** Modes that are not work the machine did for someone (node_exporter's node_cpu_seconds_total). */
const IDLE_CPU_MODES = new Set(["idle", "iowait", "steal"]);

/**
 * A sample value as Prometheus reads it (Go's ParseFloat): NaN and Inf in any case, so
 * prom-client's `Nan` (its event-loop mean before the first sample) is a number, not garbage.
 */
function number(text: string | undefined): number {
  if (text === undefined) return Number.NaN;
  const lower = text.trim().toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  return lower === "" ? Number.NaN : Number(lower);
}

function isNumber(text: string): boolean {
  return text.trim().toLowerCase() === "nan" || !Number.isNaN(number(text));
}

export function parsePage(text: string): ParsedFamily[] {
  const start = text.trimStart()[0];
  // HTML error pages and JSON bodies are read by the parser as odd metric names; refuse them here.
  if (start === "<" || start === "{" || start === "[") throw new NotPrometheusError("not Prometheus text");
  let families: ParsedFamily[];
  try {
    families = parsePrometheusTextFormat(text);
  } catch (error) {
    throw new NotPrometheusError(
      `not Prometheus text (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  for (const family of families) {
    for (const sample of family.metrics) {
      if (sample.value !== undefined && !isNumber(sample.value))
        throw new NotPrometheusError(`not Prometheus text (sample "${family.name}" has no number)`);
    }
  }
  if (families.length === 0 && text.trim() !== "") throw new NotPrometheusError("not Prometheus text");
  return families;
}

/** Every family readPage reads by name (page kind, CPU, memory, heap, event-loop lag, goroutines). */
const READ_FAMILIES = new Set([
  "node_cpu_seconds_total",
  "node_memory_MemTotal_bytes",
  "node_memory_MemAvailable_bytes",
  "nodejs_heap_size_used_bytes",
  "nodejs_eventloop_lag_p99_seconds",
  "go_goroutines",
  "go_memstats_heap_alloc_bytes",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
]);
/** The halves of a pool (readPools). */
const POOL_SUFFIXES = ["_in_use", "_limit", "_max"];

/**
 * The families a scrape keeps (page-filter.ts): those readPage reads, and those whose name a
 * `--monitor-metric` pattern's name part matches (for a summary or histogram, its `_count` or
 * `_sum`); the label matchers are applied to the kept family's samples by readPage.
 */
export function wantedFamily(patterns: MetricPattern[]): WantedFamily {
  return (name) =>
    READ_FAMILIES.has(name) ||
    POOL_SUFFIXES.some((suffix) => name.endsWith(suffix)) ||
    patterns.some(
      (pattern) =>
        pattern.name.test(name) || pattern.name.test(`${name}_count`) || pattern.name.test(`${name}_sum`),
    );
}

function gaugeValue(byName: Map<string, ParsedFamily>, name: string): number | undefined {
  const value = number(byName.get(name)?.metrics[0]?.value);
  return Number.isFinite(value) ? value : undefined;
}

function isCounter(family: ParsedFamily): boolean {
  return family.type === "COUNTER" || (family.type === "UNTYPED" && family.name.endsWith("_total"));
}

export function readPage(families: ParsedFamily[], patterns: MetricPattern[]): PageReading {
  const byName = new Map(families.map((family) => [family.name, family]));
  const readings: Reading[] = [];
  const push = (
    name: string,
    unit: string,
    value: number | undefined,
    counter = false,
    labels = {},
  ): void => {
    if (value !== undefined && Number.isFinite(value)) readings.push({ name, unit, labels, value, counter });
  };
  const nodeCpu = byName.get("node_cpu_seconds_total");
  let detected = "process";
  let limitCores: number | undefined;
  if (nodeCpu) {
    detected = "node_exporter";
    const cpus = new Set<string>();
    let busySec = 0;
    for (const sample of nodeCpu.metrics) {
      cpus.add(sample.labels?.cpu ?? "");
      if (!IDLE_CPU_MODES.has(sample.labels?.mode ?? "")) busySec += number(sample.value);
    }
    limitCores = cpus.size;
    push("cpu", "cores", busySec, true);
    const total = gaugeValue(byName, "node_memory_MemTotal_bytes");
    const available = gaugeValue(byName, "node_memory_MemAvailable_bytes");
    push(
      "memory_used",
      "bytes",
      total !== undefined && available !== undefined ? total - available : undefined,
    );
  } else {
    if (byName.has("nodejs_heap_size_used_bytes") || byName.has("nodejs_eventloop_lag_p99_seconds")) {
      detected = "node";
      limitCores = 1;
    } else if (byName.has("go_goroutines")) detected = "go";
    push("cpu", "cores", gaugeValue(byName, "process_cpu_seconds_total"), true);
    push("memory_rss", "bytes", gaugeValue(byName, "process_resident_memory_bytes"));
    push(
      "heap_used",
      "bytes",
      gaugeValue(byName, "nodejs_heap_size_used_bytes") ?? gaugeValue(byName, "go_memstats_heap_alloc_bytes"),
    );
    const lagSec = gaugeValue(byName, "nodejs_eventloop_lag_p99_seconds");
    push("event_loop_lag", "ms", lagSec === undefined ? undefined : lagSec * 1000);
    push("goroutines", "count", gaugeValue(byName, "go_goroutines"));
  }
  readPools(byName, push);
  if (patterns.length > 0) readPatterns(families, patterns, push);
  return { readings, detected, ...(limitCores !== undefined ? { limitCores } : {}) };
}

type Push = (
  name: string,
  unit: string,
  value: number | undefined,
  counter?: boolean,
  labels?: Record<string, string>,
) => void;

/** A pool is a gauge pair `X_in_use` and `X_limit` (or `_max`) with the same labels (docs/MONITOR.md "Pools"). */
function readPools(byName: Map<string, ParsedFamily>, push: Push): void {
  for (const [name, family] of byName) {
    if (!name.endsWith("_in_use")) continue;
    const prefix = name.slice(0, -"_in_use".length);
    const limit = byName.get(`${prefix}_limit`) ?? byName.get(`${prefix}_max`);
    if (!limit) continue;
    for (const sample of family.metrics) {
      const labels = { pool: prefix, ...(sample.labels ?? {}) };
      const key = JSON.stringify(sample.labels ?? {});
      const bound = limit.metrics.find((other) => JSON.stringify(other.labels ?? {}) === key);
      push("pool_in_use", "count", number(sample.value), false, labels);
      push("pool_limit", "count", number(bound?.value), false, labels);
    }
  }
}

function readPatterns(families: ParsedFamily[], patterns: MetricPattern[], push: Push): void {
  for (const family of families) {
    const counter = isCounter(family);
    for (const sample of family.metrics) {
      const labels = sample.labels ?? {};
      if (sample.value !== undefined) {
        if (patterns.some((pattern) => matchesPattern(pattern, family.name, labels)))
          push(family.name, counter ? "per_sec" : "", number(sample.value), counter, labels);
        continue;
      }
      // Histograms and summaries: their count and sum, as rates.
      for (const [suffix, text] of [
        ["_count", sample.count],
        ["_sum", sample.sum],
      ] as const) {
        const name = family.name + suffix;
        if (
          patterns.some(
            (pattern) =>
              matchesPattern(pattern, name, labels) || matchesPattern(pattern, family.name, labels),
          )
        )
          push(name, "per_sec", number(text), true, labels);
      }
    }
  }
}
