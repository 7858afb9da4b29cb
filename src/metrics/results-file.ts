import { readFile } from "node:fs/promises";
import { decodeResultHistograms, type DecodedHistograms } from "./result-histograms.js";
import { RESULTS_SCHEMA_VERSION, type RunResult } from "./result.js";

/**
 * Reading results files back (docs/RESULTS.md) for views made from files alone: reports,
 * comparisons, merges. Every form `--out` writes loads: one run, a ladder (`kind: "ladder"`,
 * `steps[].result`) or a profile's phases (`kind: "phases"`, `phases[].result`), histograms or not.
 */

export type ResultsFileKind = "run" | "ladder" | "phases";

/** One run of a results file, named for messages: "run", "step 2 (50 req/s)", `phase "ramp"`. */
export interface LoadedRun {
  label: string;
  result: RunResult;
  /** A ladder step's asked rate and note (docs/RESULTS.md "Ladder"); a phase's name. */
  ratePerSec?: number;
  note?: string;
  name?: string;
}

export interface LoadedResults {
  /** Where the results came from (the file's path), for messages. */
  source: string;
  kind: ResultsFileKind;
  schemaVersion: number;
  interrupted: boolean;
  runs: LoadedRun[];
  /** A ladder's saturation point as the file records it (null: not reached). */
  saturatedAtPerSec?: number | null;
}

/** A file that is not a results file this version can read; the message names the file and why. */
export class ResultsFileError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = "ResultsFileError";
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Enough of a RunResult to be one: the views read these fields. */
function asRunResult(value: unknown, source: string, where: string): RunResult {
  if (!isObject(value)) throw new ResultsFileError(source, `${where}: not a run result (not an object)`);
  for (const field of ["requests", "latencyMs", "categories", "timeline"]) {
    if (!(field in value)) throw new ResultsFileError(source, `${where}: not a run result (no ${field})`);
  }
  return value as unknown as RunResult;
}

/** Parses a results file's text; `source` names it in errors. */
export function parseResults(text: string, source: string): LoadedResults {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ResultsFileError(source, `not JSON (${(error as Error).message})`);
  }
  return resultsFromData(data, source);
}

/**
 * A parsed results document (a file's JSON, or the document a command just built for its
 * reporters) in the loaded form; `source` names it in errors.
 */
export function resultsFromData(data: unknown, source: string): LoadedResults {
  if (!isObject(data)) throw new ResultsFileError(source, "not a results file (not a JSON object)");
  const { schemaVersion } = data;
  if (typeof schemaVersion !== "number" || !Number.isInteger(schemaVersion) || schemaVersion < 1)
    throw new ResultsFileError(source, "not a results file (no schemaVersion)");
  if (schemaVersion > RESULTS_SCHEMA_VERSION)
    throw new ResultsFileError(
      source,
      `schemaVersion ${schemaVersion} is newer than this load-test reads (${RESULTS_SCHEMA_VERSION}): update load-test`,
    );
  const interrupted = data.interrupted === true;
  if (data.kind === "ladder" || data.kind === "phases") {
    const key = data.kind === "ladder" ? "steps" : "phases";
    const entries = data[key];
    if (!Array.isArray(entries)) throw new ResultsFileError(source, `${key}: missing or not a list`);
    const runs = entries.map((entry: unknown, index): LoadedRun => {
      const where = `${key}[${index}]`;
      if (!isObject(entry)) throw new ResultsFileError(source, `${where}: not an object`);
      const label =
        data.kind === "ladder"
          ? `step ${index + 1} (${String(entry.ratePerSec)} req/s)`
          : `phase ${JSON.stringify(entry.name)}`;
      const run: LoadedRun = { label, result: asRunResult(entry.result, source, `${where}.result`) };
      if (typeof entry.ratePerSec === "number") run.ratePerSec = entry.ratePerSec;
      if (typeof entry.note === "string") run.note = entry.note;
      if (typeof entry.name === "string") run.name = entry.name;
      return run;
    });
    const loaded: LoadedResults = { source, kind: data.kind, schemaVersion, interrupted, runs };
    if (data.kind === "ladder")
      loaded.saturatedAtPerSec = typeof data.saturatedAtPerSec === "number" ? data.saturatedAtPerSec : null;
    return loaded;
  }
  return {
    source,
    kind: "run",
    schemaVersion,
    interrupted,
    runs: [{ label: "run", result: asRunResult(data, source, "run") }],
  };
}

/** Reads and parses a results file (`--out`). */
export async function loadResultsFile(path: string): Promise<LoadedResults> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ResultsFileError(
      path,
      `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return parseResults(text, path);
}

/** A loaded run with its histograms decoded. */
export interface RunWithHistograms extends LoadedRun {
  histograms: DecodedHistograms;
}

/**
 * Every run of a loaded file with its histograms decoded, for the views that need them. Throws
 * MissingHistogramsError (from result-histograms.ts) naming the file and run when a file was
 * written before load-test kept histograms.
 */
export function decodeRuns(loaded: LoadedResults): RunWithHistograms[] {
  return loaded.runs.map((run) => ({
    ...run,
    histograms: decodeResultHistograms(
      run.result,
      loaded.kind === "run" ? loaded.source : `${loaded.source}, ${run.label}`,
    ),
  }));
}
