import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_COMPARE_OPTIONS } from "../compare/compare.js";
import { latencyNoiseFloorMs } from "../compare/noise.js";
import { decodeHistogram } from "../metrics/histogram.js";
import { hasHistograms } from "../metrics/result-histograms.js";
import type { RunResult } from "../metrics/result.js";
import { parseResults, type ResultsFileKind } from "../metrics/results-file.js";

/**
 * The archive (`--archive DIR`, docs/COMPARE.md "The archive"): one directory per run,
 * `DIR/<run id>/`, holding the results file as `--out` writes it, the interval log when there
 * was one, and `meta.json` (who, what, where, which build). Plain files a user can read, copy
 * and commit; `load-test history` reads them back. Written synchronously: the same code serves a
 * finished run and one that must quit at once (src/cli/interrupts.ts).
 */

export const ARCHIVE_VERSION = 1;
export const META_FILE = "meta.json";
export const RESULTS_FILE = "results.json";
export const HDR_LOG_FILE = "latency.hlog";

/** The figures `history` shows and trends, per run of the file (a ladder's steps, a profile's phases). */
export interface ArchivedRunSummary {
  label: string;
  ratePerSec: number;
  completed: number;
  errors: number;
  blocked: number;
  unexpected: number;
  achievedPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** The smallest P50 / P95 change this run can resolve (compare/noise.ts, docs/COMPARE.md). */
  noiseFloorMs: { p50: number; p95: number };
  verdict: string;
}

export interface ArchiveMeta {
  archiveVersion: number;
  runId: string;
  startedAt: string;
  endedAt: string;
  kind: ResultsFileKind;
  /** What makes runs "the same test" for trends: name, target host, path, category, rates. */
  test: {
    name?: string;
    /** Scheme and host only: never credentials, path or query. */
    target: string;
    path: string;
    category: string;
    ratesPerSec: number[];
  };
  labels: Record<string, string>;
  /** The commit of the working directory when it is a git repository (`dirty`: uncommitted changes). */
  git?: { commit: string; dirty: boolean };
  toolVersion: string;
  interrupted: boolean;
  files: { results: string; hdrLog?: string };
  runs: ArchivedRunSummary[];
}

/** The git commit of `cwd`, or undefined when it is not a repository (or git is missing). */
export function gitCommitOf(cwd: string): { commit: string; dirty: boolean } | undefined {
  const git = (args: string[]): string =>
    execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    }).trim();
  try {
    const commit = git(["rev-parse", "HEAD"]);
    if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
    const dirty = git(["status", "--porcelain", "--untracked-files=no"]) !== "";
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

/** Scheme and host of a results file's target (which holds no credentials already: docs/RESULTS.md). */
function hostOf(target: string): string {
  try {
    const url = new URL(target);
    return `${url.protocol}//${url.host}`;
  } catch {
    return target;
  }
}

/** From the own send lag histogram; a file without histograms falls back to its p99 (conservative). */
function noiseFloorsOf(result: RunResult): { p50: number; p95: number } {
  if (!hasHistograms(result)) {
    const floorMs = Math.max(DEFAULT_COMPARE_OPTIONS.minChangeMs, 2 * result.generator.ownSendLagMs.p99);
    return { p50: floorMs, p95: floorMs };
  }
  const ownSendLag = decodeHistogram(result.histograms.ownSendLag);
  const { minChangeMs } = DEFAULT_COMPARE_OPTIONS;
  return {
    p50: latencyNoiseFloorMs([ownSendLag], 50, minChangeMs),
    p95: latencyNoiseFloorMs([ownSendLag], 95, minChangeMs),
  };
}

function summaryOf(label: string, result: RunResult): ArchivedRunSummary {
  return {
    label,
    ratePerSec: result.rate.targetPerSec,
    completed: result.requests.total,
    errors: result.requests.error,
    blocked: result.requests.blocked,
    unexpected: result.requests.unexpected,
    achievedPerSec: result.rate.achievedPerSec,
    p50Ms: result.latencyMs.p50,
    p95Ms: result.latencyMs.p95,
    p99Ms: result.latencyMs.p99,
    noiseFloorMs: noiseFloorsOf(result),
    verdict: result.verdict.level,
  };
}

export interface ArchiveContext {
  dir: string;
  runId: string;
  labels: Record<string, string>;
  /** The profile's name, when the run came from one. */
  name?: string;
  git?: { commit: string; dirty: boolean };
  toolVersion: string;
  /** The `--hdr-log` file, copied in once closed. */
  hdrLogPath?: string;
}

/** The metadata of a results document (the object `--out` writes). */
export function archiveMeta(document: unknown, context: ArchiveContext): ArchiveMeta {
  const loaded = parseResults(JSON.stringify(document), "archive");
  const first = (loaded.runs[0] as { result: RunResult }).result;
  const last = (loaded.runs[loaded.runs.length - 1] as { result: RunResult }).result;
  return {
    archiveVersion: ARCHIVE_VERSION,
    runId: context.runId,
    startedAt: first.startedAt,
    endedAt: last.endedAt,
    kind: loaded.kind,
    test: {
      ...(context.name === undefined ? {} : { name: context.name }),
      target: hostOf(first.target),
      path: first.path,
      category: first.category,
      ratesPerSec: loaded.runs.map((run) => run.result.rate.targetPerSec),
    },
    labels: context.labels,
    ...(context.git ? { git: context.git } : {}),
    toolVersion: context.toolVersion,
    interrupted: loaded.interrupted || loaded.runs.some((run) => run.result.interrupted),
    files: {
      results: RESULTS_FILE,
      ...(context.hdrLogPath && existsSync(context.hdrLogPath) ? { hdrLog: HDR_LOG_FILE } : {}),
    },
    runs: loaded.runs.map((run) => summaryOf(run.label, run.result)),
  };
}

function writeAtomicSync(path: string, text: string): void {
  const temporary = `${path}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Archives one results document under `context.dir/<run id>/`; returns that directory. The
 * results file goes first and meta.json last, so an entry with meta.json is complete.
 */
export function archiveResults(document: unknown, context: ArchiveContext): string {
  const entry = join(context.dir, context.runId);
  // DIR itself was made and checked before the run (report/output-file.ts checkOutputPaths).
  mkdirSync(entry, { recursive: true });
  const meta = archiveMeta(document, context);
  writeAtomicSync(join(entry, RESULTS_FILE), `${JSON.stringify(document, null, 2)}\n`);
  if (meta.files.hdrLog && context.hdrLogPath) copyFileSync(context.hdrLogPath, join(entry, HDR_LOG_FILE));
  writeAtomicSync(join(entry, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
  return entry;
}
