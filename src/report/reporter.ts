/**
 * The one seam through which results leave a command (docs/ARCHITECTURE.md "Reporters"): run,
 * phases and ladder call every reporter at the same moments, and an output (the terminal, a file,
 * an exporter) is one class implementing the moments it cares about, plus its flag in the
 * resolver. Reporters never touch `process`: the CLI gives them its streams.
 */
import type { RunOptions } from "../config/options.js";
import type { LatencyIntervalSink } from "../metrics/recorder.js";
import type { MetricsSnapshot, Progress, ResultsDocument, RunResult } from "../metrics/result.js";
import { checkOutputPaths, type OutputPath } from "./output-file.js";

/** Where reporters write text: the CLI passes process.stdout/stderr (tests a buffer). */
export interface Streams {
  out(text: string): void;
  err(text: string): void;
  /** Synchronous, for a process that quits right after (second Ctrl-C, parent death). */
  outNow(text: string): void;
  errNow(text: string): void;
  /** stderr is a terminal: progress is redrawn on one line. */
  readonly isTTY: boolean;
}

/** The kind of document a command writes (docs/RESULTS.md): one run, a profile's phases, a ladder. */
export type CommandKind = "run" | "phases" | "ladder";

/** One run of a command (the run itself, a phase, a ladder step), as reporters see it start. */
export interface RunStart {
  kind: CommandKind;
  /** What the terminal calls it: `load-test`, a profile's name, `phase 2/3 "peak"`, `ladder`. */
  title: string;
  /** 0-based among the command's runs, and how many the command has. */
  index: number;
  count: number;
  options: RunOptions;
  /** Unique per run: the Pushgateway grouping key and the `run_id` label. */
  runId: string;
  /** Results so far (cumulative buckets), for live exporters. */
  snapshot(): MetricsSnapshot;
}

/** What a reporter's moment went wrong with; the composite reports it once, the exit code follows. */
export interface ReportOutcome {
  /** One line each on stderr (`load-test: error: …`). */
  errors?: string[];
  /** A results file was lost: exit 5. */
  writeFailed?: boolean;
  /** `--pushgateway-fatal` and the export failed: exit 4. */
  exportFailed?: boolean;
  /** `--compare-to`: the results regressed from the baseline: exit 3, as a critical verdict. */
  regression?: boolean;
}

export interface Reporter {
  /** Files this reporter writes, checked before anything is sent (output-file.ts `checkOutputPaths`). */
  readonly outputs?: readonly OutputPath[];
  /** After the paths were checked, before the first run: open files, bind ports. Throws InputError. */
  open?(): Promise<void>;
  /** `--hdr-log`: receives each second's latency histograms as they close (engine/run.ts hooks). */
  readonly intervals?: LatencyIntervalSink;
  /** A run was prepared (nothing sent yet). Throws InputError when it cannot start (a port in use). */
  runStart?(run: RunStart): Promise<void> | void;
  /** About once a second while a run sends. */
  progress?(progress: Progress, run: RunStart): void;
  /**
   * A run is over, before any reporter shows its result: exporters finish here (their warnings
   * join the verdict), the terminal clears its progress line.
   */
  runEnd?(result: RunResult, run: RunStart): Promise<ReportOutcome | void> | ReportOutcome | void;
  /** A run ended with its final result; exporters may add warnings to its verdict. */
  runResult?(result: RunResult, run: RunStart): Promise<ReportOutcome | void> | ReportOutcome | void;
  /** The command's document is complete: write it. */
  finish?(document: ResultsDocument): Promise<ReportOutcome | void> | ReportOutcome | void;
  /** Quitting now (second Ctrl-C, the parent died): write the document so far, synchronously. */
  quitNow?(document: ResultsDocument): void;
  /** Always called last, also after an interrupt: close files and servers. */
  close?(): Promise<ReportOutcome | void> | ReportOutcome | void;
}

/** Every reporter of a command, called in order at each moment; collects what went wrong. */
export class Reporters {
  private writeFailed = false;
  private exportFailed = false;
  private regression = false;

  constructor(
    readonly list: readonly Reporter[],
    private readonly streams: Streams,
  ) {}

  /** Every output path, checked at once before anything runs (InputError naming the flag). */
  async checkOutputs(): Promise<void> {
    await checkOutputPaths(this.list.flatMap((reporter) => reporter.outputs ?? []));
  }

  async open(): Promise<void> {
    for (const reporter of this.list) await reporter.open?.();
  }

  /** The interval sink of the command (at most one reporter keeps one). */
  get intervals(): LatencyIntervalSink | undefined {
    return this.list.find((reporter) => reporter.intervals)?.intervals;
  }

  get wantsProgress(): boolean {
    return this.list.some((reporter) => reporter.progress);
  }

  async runStart(run: RunStart): Promise<void> {
    for (const reporter of this.list) await reporter.runStart?.(run);
  }

  progress(progress: Progress, run: RunStart): void {
    for (const reporter of this.list) reporter.progress?.(progress, run);
  }

  async runResult(result: RunResult, run: RunStart): Promise<void> {
    for (const reporter of this.list) this.note(await reporter.runEnd?.(result, run));
    for (const reporter of this.list) this.note(await reporter.runResult?.(result, run));
  }

  /** Each output is written even when another failed: one lost file must not lose the others. */
  async finish(document: ResultsDocument): Promise<void> {
    for (const reporter of this.list) this.note(await reporter.finish?.(document));
  }

  quitNow(document: ResultsDocument): void {
    for (const reporter of this.list) {
      try {
        reporter.quitNow?.(document);
      } catch (error) {
        this.streams.errNow(`load-test: error: could not write the results: ${(error as Error).message}\n`);
      }
    }
  }

  async close(): Promise<void> {
    for (const reporter of this.list) this.note(await reporter.close?.());
  }

  /** What the reporters add to the exit code (evaluate/exit-codes.ts `exitCodeOf`). */
  get failures(): { writeFailed: boolean; exportFailed: boolean; regression: boolean } {
    return { writeFailed: this.writeFailed, exportFailed: this.exportFailed, regression: this.regression };
  }

  private note(outcome: ReportOutcome | void): void {
    if (!outcome) return;
    for (const error of outcome.errors ?? []) this.streams.err(`load-test: error: ${error}\n`);
    this.writeFailed ||= outcome.writeFailed === true;
    this.exportFailed ||= outcome.exportFailed === true;
    this.regression ||= outcome.regression === true;
  }
}
