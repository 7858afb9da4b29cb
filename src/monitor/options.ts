/**
 * The monitor's flags (docs/MONITOR.md, README "Monitoring the target"), checked before anything
 * is sent: each problem is an InputError naming its flag.
 */
import { InputError } from "../config/errors.js";
import { parseDurationMs } from "../config/duration.js";
import { parseMetricPattern } from "./pattern.js";
import type { MonitorOptions } from "./types.js";

export interface RawMonitorFlags {
  monitor?: string[];
  monitorInterval?: string;
  monitorMetric?: string[];
  monitorPrometheus?: string;
  monitorQuery?: string[];
  monitorLog?: string[];
  monitorLogPattern?: string;
}

/**
 * A profile's `monitor:` section (docs/PROFILES.md "monitor"): the same settings as the flags,
 * which override it field by field.
 */
export interface MonitorSection {
  scrape?: string[];
  /** A duration ("500ms") or seconds. */
  interval?: string | number;
  metrics?: string[];
  prometheus?: string;
  /** NAME: PROMQL. */
  queries?: Record<string, string>;
  logs?: string[];
  logPattern?: string;
}

/** Each flag's field in the section, so a problem in a profile names its field. */
export const SECTION_FIELD_OF_FLAG: Readonly<Record<string, keyof MonitorSection>> = {
  "--monitor": "scrape",
  "--monitor-interval": "interval",
  "--monitor-metric": "metrics",
  "--monitor-prometheus": "prometheus",
  "--monitor-query": "queries",
  "--monitor-log": "logs",
  "--monitor-log-pattern": "logPattern",
};

export function monitorFlagsOfSection(section: MonitorSection): RawMonitorFlags {
  const interval = section.interval;
  return {
    ...(section.scrape ? { monitor: [...section.scrape] } : {}),
    ...(interval !== undefined
      ? { monitorInterval: typeof interval === "number" ? `${interval}s` : interval }
      : {}),
    ...(section.metrics ? { monitorMetric: [...section.metrics] } : {}),
    ...(section.prometheus !== undefined ? { monitorPrometheus: section.prometheus } : {}),
    ...(section.queries
      ? { monitorQuery: Object.entries(section.queries).map(([name, query]) => `${name}=${query}`) }
      : {}),
    ...(section.logs ? { monitorLog: [...section.logs] } : {}),
    ...(section.logPattern !== undefined ? { monitorLogPattern: section.logPattern } : {}),
  };
}

/** The profile's monitor settings with the typed flags over them, each flag replacing its field. */
export function monitorFlagsOver(
  profile: RawMonitorFlags | undefined,
  typed: RawMonitorFlags,
): RawMonitorFlags | undefined {
  const merged: RawMonitorFlags = { ...profile };
  for (const key of MONITOR_FLAG_KEYS)
    if (typed[key] !== undefined) Object.assign(merged, { [key]: typed[key] });
  return Object.keys(merged).length === 0 ? undefined : merged;
}

const MONITOR_FLAG_KEYS = [
  "monitor",
  "monitorInterval",
  "monitorMetric",
  "monitorPrometheus",
  "monitorQuery",
  "monitorLog",
  "monitorLogPattern",
] as const satisfies ReadonlyArray<keyof RawMonitorFlags>;

export const DEFAULT_MONITOR_INTERVAL = "1s";
export const DEFAULT_LOG_PATTERN = "ERROR|FATAL|panic";
/** Faster scrapes than this would measure the scrape more than the target. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 60_000;
const QUERY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function httpUrl(flag: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError(flag, `expected an http:// or https:// URL, got "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InputError(flag, `expected an http:// or https:// URL, got "${url.protocol}"`);
  return text;
}

/** The monitor's options, or undefined when no source was asked for. */
export function parseMonitorFlags(flags: RawMonitorFlags): MonitorOptions | undefined {
  const scrapeUrls = (flags.monitor ?? []).map((url) => httpUrl("--monitor", url));
  const intervalText = flags.monitorInterval ?? DEFAULT_MONITOR_INTERVAL;
  const intervalMs = parseDurationMs(intervalText);
  if (intervalMs === undefined || intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS)
    throw new InputError(
      "--monitor-interval",
      `must be a duration from ${MIN_INTERVAL_MS}ms to ${MAX_INTERVAL_MS / 1000}s, got "${intervalText}"`,
    );
  const metricPatterns = flags.monitorMetric ?? [];
  for (const pattern of metricPatterns) parseMetricPattern(pattern);
  if (metricPatterns.length > 0 && scrapeUrls.length === 0)
    throw new InputError("--monitor-metric", "needs a --monitor URL to read the metric from");
  const queries = (flags.monitorQuery ?? []).map((text) => {
    const equals = text.indexOf("=");
    const name = text.slice(0, Math.max(equals, 0)).trim();
    const query = text.slice(equals + 1).trim();
    if (equals <= 0 || !QUERY_NAME.test(name) || query === "")
      throw new InputError(
        "--monitor-query",
        `expected NAME=PROMQL (e.g. cpu=rate(process_cpu_seconds_total[15s])), got "${text}"`,
      );
    return { name, query };
  });
  const names = new Set<string>();
  for (const { name } of queries) {
    if (names.has(name)) throw new InputError("--monitor-query", `the name "${name}" is used twice`);
    names.add(name);
  }
  if (queries.length > 0 && flags.monitorPrometheus === undefined)
    throw new InputError("--monitor-query", "needs --monitor-prometheus URL (the server to ask)");
  if (flags.monitorPrometheus !== undefined && queries.length === 0)
    throw new InputError("--monitor-prometheus", "needs at least one --monitor-query NAME=PROMQL");
  const logPattern = flags.monitorLogPattern ?? DEFAULT_LOG_PATTERN;
  try {
    new RegExp(logPattern);
  } catch {
    throw new InputError("--monitor-log-pattern", `not a regular expression: "${logPattern}"`);
  }
  const logFiles = flags.monitorLog ?? [];
  if (logFiles.some((file) => file.trim() === ""))
    throw new InputError("--monitor-log", "expected a file path");
  if (scrapeUrls.length === 0 && queries.length === 0 && logFiles.length === 0) return undefined;
  return {
    scrapeUrls,
    intervalMs,
    metricPatterns,
    ...(flags.monitorPrometheus !== undefined
      ? { prometheus: { url: httpUrl("--monitor-prometheus", flags.monitorPrometheus), queries } }
      : {}),
    logFiles,
    logPattern,
  };
}
