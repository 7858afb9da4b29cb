import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { proportionChange } from "../compare/proportion.js";
import { ARCHIVE_VERSION, META_FILE, type ArchiveMeta, type ArchivedRunSummary } from "./archive.js";

/**
 * `load-test history DIR` (docs/COMPARE.md "History and trends"): the archived runs, newest
 * first, and trends across the last runs of each test. Reads every `DIR/<run id>/meta.json`;
 * no index (docs/COMPARE.md says why).
 */

export interface ArchiveEntry {
  /** The entry's directory. */
  dir: string;
  meta: ArchiveMeta;
}

export interface ArchiveReading {
  entries: ArchiveEntry[];
  /** Directories that are not readable entries, with why (skipped, never fatal). */
  skipped: string[];
}

/** A directory that is not there or not a directory: the one line the CLI prints (exit 2). */
export class ArchiveDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveDirError";
  }
}

const isNumber = (value: unknown): boolean => typeof value === "number" && Number.isFinite(value);

/** The run summaries trends read: every figure a number (an edited or older file is skipped). */
function isRunSummary(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const run = value as Record<string, unknown>;
  const floors = run.noiseFloorMs as Record<string, unknown> | undefined;
  return (
    typeof run.label === "string" &&
    ["ratePerSec", "completed", "errors", "blocked", "unexpected", "p50Ms", "p95Ms", "p99Ms"].every((key) =>
      isNumber(run[key]),
    ) &&
    typeof floors === "object" &&
    floors !== null &&
    isNumber(floors.p50) &&
    isNumber(floors.p95)
  );
}

function isMeta(value: unknown): value is ArchiveMeta {
  if (typeof value !== "object" || value === null) return false;
  const meta = value as Partial<ArchiveMeta>;
  return (
    typeof meta.archiveVersion === "number" &&
    typeof meta.runId === "string" &&
    typeof meta.startedAt === "string" &&
    typeof meta.test === "object" &&
    typeof meta.labels === "object" &&
    Array.isArray(meta.runs) &&
    meta.runs.length > 0 &&
    meta.runs.every(isRunSummary)
  );
}

/** Every entry of an archive, newest first (by start time, then run id). */
export async function readArchive(dir: string): Promise<ArchiveReading> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ArchiveDirError(`${dir}: cannot read the archive (${code})`);
  }
  const entries: ArchiveEntry[] = [];
  const skipped: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      const entryDir = join(dir, name);
      let text: string;
      try {
        text = await readFile(join(entryDir, META_FILE), "utf8");
      } catch {
        skipped.push(`${entryDir}: no ${META_FILE} (not an archive entry, or still being written)`);
        return;
      }
      let meta: unknown;
      try {
        meta = JSON.parse(text);
      } catch {
        skipped.push(`${entryDir}/${META_FILE}: not JSON`);
        return;
      }
      if (!isMeta(meta)) skipped.push(`${entryDir}/${META_FILE}: not archive metadata`);
      else if (meta.archiveVersion > ARCHIVE_VERSION)
        skipped.push(`${entryDir}: archiveVersion ${meta.archiveVersion} is newer than this load-test reads`);
      else entries.push({ dir: entryDir, meta });
    }),
  );
  entries.sort(
    (a, b) => b.meta.startedAt.localeCompare(a.meta.startedAt) || b.meta.runId.localeCompare(a.meta.runId),
  );
  skipped.sort();
  return { entries, skipped };
}

/** `--label k=v` filters: every given label must match. */
export function filterByLabels(
  entries: readonly ArchiveEntry[],
  labels: Record<string, string>,
): ArchiveEntry[] {
  return entries.filter((entry) => Object.entries(labels).every(([k, v]) => entry.meta.labels[k] === v));
}

/** Runs with the same key are the same test; their trends are read together. */
export function testKey(meta: ArchiveMeta): string {
  const { test } = meta;
  const name = test.name === undefined ? "" : `"${test.name}" `;
  return `${name}${meta.kind} ${test.target}${test.path} ${test.category} @ ${test.ratesPerSec.join(",")} req/s`;
}

export interface TrendOptions {
  /** How many of the newest finished runs of a test are read for trends. */
  lastRuns: number;
  /** Relative rise of a percentile over the window that counts as a trend (0.1 = 10%). */
  maxRise: number;
  /** Smallest rise (ms) that counts: below it, the generator's own timing is the noise. */
  minChangeMs: number;
}

export const DEFAULT_TREND_OPTIONS: TrendOptions = { lastRuns: 5, maxRise: 0.1, minChangeMs: 0.5 };

export interface Trend {
  test: string;
  /** A run of the file: "run", "step 2 (50 req/s)". */
  label: string;
  kind: "p50 rising" | "p95 rising" | "block rate drifting" | "errors appearing";
  message: string;
}

/**
 * Kendall's tau of a series against time: +1 when every later value is higher, −1 when every one
 * is lower. A rank statistic: one outlier run cannot make a trend by itself.
 */
export function kendallTau(values: readonly number[]): number {
  let score = 0;
  let pairs = 0;
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) {
      score += Math.sign((values[j] as number) - (values[i] as number));
      pairs++;
    }
  }
  return pairs === 0 ? 0 : score / pairs;
}

/** The least Kendall tau that reads as "rising": most pairs of runs in time order went up. */
export const RISING_TAU = 0.6;

function percentileTrend(
  test: string,
  label: string,
  window: readonly ArchivedRunSummary[],
  key: "p50Ms" | "p95Ms",
  options: TrendOptions,
): Trend | undefined {
  const values = window.map((run) => run[key]);
  const first = values[0] as number;
  const last = values[values.length - 1] as number;
  // The median run's noise floor: one disturbed run among several must not hide every trend.
  const lateness = window
    .map((run) => (key === "p50Ms" ? run.noiseFloorMs.p50 : run.noiseFloorMs.p95))
    .sort((a, b) => a - b);
  const floorMs = Math.max(options.minChangeMs, lateness[Math.floor((lateness.length - 1) / 2)] ?? 0);
  const tau = kendallTau(values);
  if (tau < RISING_TAU || last - first <= floorMs || (first > 0 && (last - first) / first <= options.maxRise))
    return undefined;
  const name = key === "p50Ms" ? "P50" : "P95";
  return {
    test,
    label,
    kind: key === "p50Ms" ? "p50 rising" : "p95 rising",
    message: `${name} rising over the last ${values.length} runs: ${values.join(" -> ")} ms (Kendall tau ${tau.toFixed(2)})`,
  };
}

const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(2))}%`;

/** Trends of one run label across a window of runs of one test, oldest first. */
function trendsOf(
  test: string,
  label: string,
  window: readonly ArchivedRunSummary[],
  options: TrendOptions,
): Trend[] {
  const trends: Trend[] = [];
  if (window.length >= 3) {
    for (const key of ["p50Ms", "p95Ms"] as const) {
      const trend = percentileTrend(test, label, window, key, options);
      if (trend) trends.push(trend);
    }
  }
  if (window.length >= 2) {
    const newest = window[window.length - 1] as ArchivedRunSummary;
    const earlier = window.slice(0, -1);
    const earlierCompleted = earlier.reduce((n, run) => n + run.completed, 0);
    const earlierBlocked = earlier.reduce((n, run) => n + run.blocked, 0);
    const test2 = proportionChange(earlierBlocked, earlierCompleted, newest.blocked, newest.completed);
    if (test2.significant && earlierCompleted > 0 && newest.completed > 0)
      trends.push({
        test,
        label,
        kind: "block rate drifting",
        message:
          `block rate drifting: ${percent(newest.blocked / newest.completed)} in the newest run, ` +
          `${percent(earlierBlocked / earlierCompleted)} in the ${earlier.length} before it (z = ${test2.z.toFixed(2)})`,
      });
    if (newest.errors > 0 && earlier.every((run) => run.errors === 0))
      trends.push({
        test,
        label,
        kind: "errors appearing",
        message: `errors appearing: ${newest.errors} in the newest run, none in the ${earlier.length} before it`,
      });
  }
  return trends;
}

/**
 * Trends per test over its last `lastRuns` finished runs (interrupted ones are shown by `history`
 * but cover only part of a test, so they are left out here). `entries` newest first.
 */
export function archiveTrends(
  entries: readonly ArchiveEntry[],
  options: TrendOptions = DEFAULT_TREND_OPTIONS,
): Trend[] {
  const groups = new Map<string, ArchiveEntry[]>();
  for (const entry of entries) {
    if (entry.meta.interrupted) continue;
    const key = testKey(entry.meta);
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const trends: Trend[] = [];
  for (const [test, group] of groups) {
    const window = group.slice(0, options.lastRuns).reverse();
    const labels = window[0]?.meta.runs.map((run) => run.label) ?? [];
    for (const label of labels) {
      const series = window
        .map((entry) => entry.meta.runs.find((run) => run.label === label))
        .filter((run): run is ArchivedRunSummary => run !== undefined);
      trends.push(...trendsOf(test, label, series, options));
    }
  }
  return trends;
}
