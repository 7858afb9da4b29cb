import { compareResults, IncompatibleResultsError, type CompareOptions } from "../../compare/compare.js";
import { formatComparison } from "../../compare/format.js";
import { InputError } from "../../config/errors.js";
import { InvalidHistogramError, MissingHistogramsError } from "../../metrics/result-histograms.js";
import type { ResultsDocument } from "../../metrics/result.js";
import {
  decodeRuns,
  loadResultsFile,
  parseResults,
  ResultsFileError,
  type LoadedResults,
} from "../../metrics/results-file.js";
import { requestTargets } from "../../scenarios/request-targets.js";
import type { Reporter, ReportOutcome, RunStart, Streams } from "../reporter.js";

/** A baseline that cannot serve: one line naming the flag (exit 2, before anything is sent). */
function asInputError(error: unknown): InputError | undefined {
  if (
    error instanceof ResultsFileError ||
    error instanceof MissingHistogramsError ||
    error instanceof InvalidHistogramError ||
    error instanceof IncompatibleResultsError
  )
    return new InputError("--compare-to", error.message);
  return undefined;
}

/**
 * `--compare-to BASE.json` (docs/COMPARE.md): the baselines are read and checked when the command
 * opens, each run is checked against them as it starts (kind, category, path: a different test
 * stops the command before anything is sent), and the finished document is compared with them.
 * A regression exits 3 ("deploy only if passing"); an interrupted command is not compared.
 */
export class CompareReporter implements Reporter {
  private bases: LoadedResults[] = [];

  constructor(
    private readonly paths: readonly string[],
    private readonly options: CompareOptions,
    private readonly streams: Streams,
  ) {}

  async open(): Promise<void> {
    try {
      this.bases = await Promise.all(this.paths.map(loadResultsFile));
      for (const base of this.bases) decodeRuns(base);
    } catch (error) {
      throw asInputError(error) ?? error;
    }
  }

  runStart(run: RunStart): void {
    for (const base of this.bases) {
      const problem =
        base.kind !== run.kind
          ? `different kinds of results (${base.kind} vs ${run.kind})`
          : base.runs.length !== run.count
            ? `different number of ${run.kind === "ladder" ? "steps" : "phases"} (${base.runs.length} vs ${run.count})`
            : undefined;
      const baseRun = base.runs[run.index]?.result;
      const planned = requestTargets(run.options);
      const detail =
        problem ??
        (baseRun && baseRun.path !== planned.path
          ? `different paths (${baseRun.path} vs ${planned.path})`
          : baseRun && baseRun.category !== planned.category
            ? `different categories (${baseRun.category} vs ${planned.category})`
            : undefined);
      if (detail)
        throw new InputError("--compare-to", `${base.source} and this run cannot be compared: ${detail}`);
    }
  }

  finish(document: ResultsDocument): ReportOutcome | void {
    const candidate = parseResults(JSON.stringify(document), "this run");
    if (candidate.interrupted || candidate.runs.some((run) => run.result.interrupted)) {
      this.streams.err("compare: skipped, the run was interrupted (it covers only the part that ran)\n");
      return;
    }
    try {
      const comparison = compareResults(this.bases, candidate, this.options);
      this.streams.out(`\n${formatComparison(comparison)}\n`);
      return comparison.regressions.length > 0 ? { regression: true } : undefined;
    } catch (error) {
      const problem = asInputError(error);
      if (!problem) throw error;
      // Checked as each run started; what is left (a category mix that differs) fails closed.
      return { errors: [problem.message], regression: true };
    }
  }
}
