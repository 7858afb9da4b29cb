/**
 * The workflow commands (docs/COMPARE.md): `compare` and `history`. Thin: parsing, printing and
 * exit codes; the work is in src/compare and src/archive (`--archive` and `--compare-to` on runs
 * are reporters: report/reporters/archive.ts, compare.ts).
 */
import { formatHistory } from "../archive/format.js";
import {
  ArchiveDirError,
  archiveTrends,
  DEFAULT_TREND_OPTIONS,
  filterByLabels,
  readArchive,
} from "../archive/history.js";
import { compareResults, IncompatibleResultsError } from "../compare/compare.js";
import { formatComparison } from "../compare/format.js";
import { parseCompareOptions, type CompareOptions } from "../compare/options.js";
import { InputError } from "../config/errors.js";
import { parseWholeNumber } from "../config/numbers.js";
import { EXIT_CODES } from "../evaluate/exit-codes.js";
import { comparePage, historyPage } from "../report/html/compare-view.js";
import { renderPage, type PageSpec } from "../report/html/page.js";
import {
  checkOutputPaths,
  OutputWriteError,
  writeFileAtomic,
  type OutputPath,
} from "../report/output-file.js";
import { InvalidHistogramError, MissingHistogramsError } from "../metrics/result-histograms.js";
import {
  decodeRuns,
  loadResultsFile,
  ResultsFileError,
  type LoadedResults,
} from "../metrics/results-file.js";

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
  html?: string;
}

/** `--html FILE`: checked before any work (exit 2 naming the flag), written atomically after. */
async function checkHtml(path: string | undefined): Promise<OutputPath | undefined> {
  if (path === undefined) return undefined;
  const target = { flag: "--html", path };
  try {
    await checkOutputPaths([target]);
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  return target;
}

async function writeHtml(target: OutputPath | undefined, page: PageSpec): Promise<boolean> {
  if (!target) return true;
  try {
    await writeFileAtomic(target, renderPage(page));
    process.stderr.write(`HTML report written to ${target.path}\n`);
    return true;
  } catch (error) {
    if (!(error instanceof OutputWriteError)) throw error;
    process.stderr.write(`load-test: error: ${error.message}\n`);
    return false;
  }
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
  let options: CompareOptions;
  try {
    options = parseCompareOptions(flags);
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  const html = await checkHtml(flags.html);
  const loaded = await loadForComparison(files);
  try {
    const bases = loaded.slice(0, -1);
    const candidate = loaded[loaded.length - 1] as LoadedResults;
    const comparison = compareResults(bases, candidate, options);
    process.stdout.write(`${formatComparison(comparison)}\n`);
    const page = html ? comparePage(comparison, bases.map(decodeRuns), decodeRuns(candidate)) : undefined;
    if (page && !(await writeHtml(html, page))) return EXIT_CODES.writeFailed;
    return comparison.regressions.length > 0 ? EXIT_CODES.critical : EXIT_CODES.ok;
  } catch (error) {
    if (isInputProblem(error)) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

export interface HistoryFlags {
  label?: string[];
  last?: string;
  html?: string;
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
  const html = await checkHtml(flags.html);
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
  if (!(await writeHtml(html, historyPage(entries, trends, lastRuns)))) return EXIT_CODES.writeFailed;
  return EXIT_CODES.ok;
}
