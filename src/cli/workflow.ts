/**
 * The workflow commands and flags (docs/COMPARE.md): `compare`, `history`, and `--archive` /
 * `--compare-to` on runs. Thin: parsing, printing and exit codes; the work is in src/compare and
 * src/archive.
 */
import { join } from "node:path";
import { archiveResults, gitCommitOf, type ArchiveContext } from "../archive/archive.js";
import { formatHistory } from "../archive/format.js";
import {
  ArchiveDirError,
  archiveTrends,
  DEFAULT_TREND_OPTIONS,
  filterByLabels,
  readArchive,
} from "../archive/history.js";
import {
  compareResults,
  DEFAULT_COMPARE_OPTIONS,
  IncompatibleResultsError,
  type CompareOptions,
} from "../compare/compare.js";
import { formatComparison } from "../compare/format.js";
import { parseDurationMs } from "../config/duration.js";
import { parseDecimal, parseWholeNumber } from "../config/numbers.js";
import { EXIT_CODES } from "../evaluate/exit-codes.js";
import { InvalidHistogramError, MissingHistogramsError } from "../metrics/result-histograms.js";
import {
  decodeRuns,
  loadResultsFile,
  parseResults,
  ResultsFileError,
  type LoadedResults,
} from "../metrics/results-file.js";
import { checkOutputPaths } from "../report/output-file.js";
import { InputError } from "../config/options.js";

function fail(message: string, code: number): never {
  process.stderr.write(`load-test: error: ${message}\n`);
  process.exit(code);
}

/** A results file that cannot be read, has no histograms or does not match: one line, exit 2. */
function isInputProblem(error: unknown): error is Error {
  return (
    error instanceof ResultsFileError ||
    error instanceof MissingHistogramsError ||
    error instanceof InvalidHistogramError ||
    error instanceof IncompatibleResultsError
  );
}

export interface CompareFlags {
  maxRegression?: string;
  minChange?: string;
}

/** `--max-regression 10%` (or `10`): a percentage, as a ratio. */
export function parseTolerance(text: string | undefined, flag = "--max-regression"): number {
  if (text === undefined) return DEFAULT_COMPARE_OPTIONS.maxRegression;
  const value = parseDecimal(text.trim().replace(/%$/, ""));
  if (value === undefined || !(value >= 0) || value > 1000)
    fail(`${flag}: expected a percentage like 10% (0..1000), got "${text}"`, EXIT_CODES.invalidInput);
  return value / 100;
}

/** `--min-change 0.5ms`: a duration with its unit. */
export function parseMinChange(text: string | undefined): number {
  if (text === undefined) return DEFAULT_COMPARE_OPTIONS.minChangeMs;
  const valueMs = /[a-z]$/i.test(text.trim()) ? parseDurationMs(text) : undefined;
  if (valueMs === undefined || valueMs < 0 || valueMs > 3_600_000)
    fail(
      `--min-change: expected a duration with its unit like 0.5ms or 2ms, got "${text}"`,
      EXIT_CODES.invalidInput,
    );
  return valueMs;
}

export function compareOptions(flags: CompareFlags): CompareOptions {
  return { maxRegression: parseTolerance(flags.maxRegression), minChangeMs: parseMinChange(flags.minChange) };
}

/** Reads results files for a comparison, histograms checked now: exit 2 with one line otherwise. */
export async function loadForComparison(paths: readonly string[]): Promise<LoadedResults[]> {
  try {
    const loaded = await Promise.all(paths.map(loadResultsFile));
    for (const file of loaded) decodeRuns(file);
    return loaded;
  } catch (error) {
    if (isInputProblem(error)) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/** `load-test compare BASE… CANDIDATE`: exit 0 (same or better), 3 (regression), 2 (cannot compare). */
export async function compareCommand(files: string[], flags: CompareFlags): Promise<number> {
  if (files.length < 2)
    fail("compare: give at least two results files: BASE.json… CANDIDATE.json", EXIT_CODES.invalidInput);
  const options = compareOptions(flags);
  const loaded = await loadForComparison(files);
  try {
    const comparison = compareResults(
      loaded.slice(0, -1),
      loaded[loaded.length - 1] as LoadedResults,
      options,
    );
    process.stdout.write(`${formatComparison(comparison)}\n`);
    return comparison.regressions.length > 0 ? EXIT_CODES.critical : EXIT_CODES.ok;
  } catch (error) {
    if (isInputProblem(error)) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/**
 * `--compare-to`: compares a finished command's results document with the baselines, prints
 * the comparison and folds a regression into the exit code (a code already set wins: an
 * interrupted run proves nothing, a lost file is worse). Incompatible files: exit 2.
 */
export function foldComparison(
  bases: readonly LoadedResults[] | undefined,
  document: unknown,
  options: CompareOptions,
  code: number,
): number {
  if (!bases) return code;
  const candidate = parseResults(JSON.stringify(document), "this run");
  if (candidate.interrupted || candidate.runs.some((run) => run.result.interrupted)) {
    process.stderr.write("compare: skipped, the run was interrupted (it covers only the part that ran)\n");
    return code;
  }
  try {
    const comparison = compareResults(bases, candidate, options);
    process.stdout.write(`\n${formatComparison(comparison)}\n`);
    if (comparison.regressions.length > 0 && code === EXIT_CODES.ok) return EXIT_CODES.critical;
    return code;
  } catch (error) {
    if (isInputProblem(error)) {
      process.stderr.write(`load-test: error: --compare-to: ${error.message}\n`);
      return code === EXIT_CODES.ok ? EXIT_CODES.invalidInput : code;
    }
    throw error;
  }
}

/** `--label k=v` pairs and the label flags, as the archive's labels. */
export function archiveLabels(flags: {
  label?: string[];
  client?: string;
  environment?: string;
  provider?: string;
}): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [name, value] of [
    ["client", flags.client],
    ["environment", flags.environment],
    ["provider", flags.provider],
  ] as const) {
    if (value !== undefined) labels[name] = value;
  }
  for (const item of flags.label ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0 || eq === item.length - 1)
      fail(`--label: expected name=value, got "${item}"`, EXIT_CODES.invalidInput);
    labels[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return labels;
}

export interface Archiver {
  dir: string;
  /** Archives a results document (also an interrupted one); false after printing why it failed. */
  write(document: unknown, hdrLogPath?: string): boolean;
}

/**
 * `--archive DIR` (a profile's `archive:`): DIR is made and checked now, before anything is sent,
 * like every output (exit 2 naming the flag); the git commit is read now, from the working
 * directory.
 */
export async function prepareArchive(
  dir: string | undefined,
  flag: string,
  context: Omit<ArchiveContext, "dir" | "git" | "hdrLogPath">,
): Promise<Archiver | undefined> {
  if (dir === undefined) return undefined;
  try {
    await checkOutputPaths([{ flag, path: join(dir, ".load-test-archive") }]);
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  const git = gitCommitOf(process.cwd());
  return {
    dir,
    write(document, hdrLogPath) {
      try {
        const entry = archiveResults(document, { ...context, dir, ...(git ? { git } : {}), hdrLogPath });
        process.stderr.write(`archived to ${entry}\n`);
        return true;
      } catch (error) {
        process.stderr.write(
          `load-test: error: ${flag} ${dir}: cannot archive the run (${(error as Error).message})\n`,
        );
        return false;
      }
    },
  };
}

export interface HistoryFlags {
  label?: string[];
  last?: string;
}

/** `load-test history DIR`: the runs newest first and the trends; exit 0, or 2 for a bad DIR. */
export async function historyCommand(dir: string, flags: HistoryFlags): Promise<number> {
  const labels: Record<string, string> = {};
  for (const item of flags.label ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) fail(`--label: expected name=value, got "${item}"`, EXIT_CODES.invalidInput);
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const lastRuns = flags.last === undefined ? DEFAULT_TREND_OPTIONS.lastRuns : parseWholeNumber(flags.last);
  if (lastRuns === undefined || lastRuns < 2 || lastRuns > 1000)
    fail(`--last: expected a number of runs 2..1000, got "${flags.last}"`, EXIT_CODES.invalidInput);
  let reading;
  try {
    reading = await readArchive(dir);
  } catch (error) {
    if (error instanceof ArchiveDirError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  for (const skipped of reading.skipped) process.stderr.write(`history: skipped ${skipped}\n`);
  const entries = filterByLabels(reading.entries, labels);
  const trends = archiveTrends(entries, { ...DEFAULT_TREND_OPTIONS, lastRuns });
  process.stdout.write(`${formatHistory(entries, trends, lastRuns)}\n`);
  return EXIT_CODES.ok;
}
