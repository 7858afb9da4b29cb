import { join } from "node:path";
import { archiveResults, gitCommitOf } from "../../archive/archive.js";
import type { ResultsDocument } from "../../metrics/result.js";
import type { OutputPath } from "../output-file.js";
import type { Reporter, ReportOutcome, RunStart, Streams } from "../reporter.js";

/** What the CLI knows about the archive and the process (reporters never touch `process`). */
export interface ArchiveReporterOptions {
  dir: string;
  /** The flag or profile field that named the directory. */
  flag: string;
  labels: Record<string, string>;
  name?: string;
  /** The working directory, whose git commit is kept. */
  cwd: string;
  toolVersion: string;
  /** `--hdr-log`: copied into the entry once its reporter closed it. */
  hdrLogPath?: string;
}

/**
 * `--archive DIR` (a profile's `archive:`, docs/COMPARE.md "The archive"): after the command, its
 * results document under DIR/<run id>/ with meta.json; an interrupted command's too, marked. The
 * entry is written at `close`, after the interval log's reporter (listed before this one) closed
 * the log, so the copy is complete.
 */
export class ArchiveReporter implements Reporter {
  readonly outputs: readonly OutputPath[];
  private runId: string | undefined;
  private document: ResultsDocument | undefined;
  private git: { commit: string; dirty: boolean } | undefined;

  constructor(
    private readonly options: ArchiveReporterOptions,
    private readonly streams: Streams,
  ) {
    // DIR is made and probed with the other outputs, before anything is sent.
    this.outputs = [{ flag: options.flag, path: join(options.dir, ".load-test-archive") }];
  }

  async open(): Promise<void> {
    // The commit when the command started: the build that was tested.
    this.git = gitCommitOf(this.options.cwd);
  }

  runStart(run: RunStart): void {
    // The command's first run names the entry: the same id as its Pushgateway `run_id`.
    this.runId ??= run.runId;
  }

  finish(document: ResultsDocument): void {
    this.document = document;
  }

  close(): ReportOutcome | void {
    if (!this.document) return;
    return this.write(this.document, this.options.hdrLogPath, (text) => this.streams.err(text));
  }

  quitNow(document: ResultsDocument): void {
    // The interval log is still open here: the results are what matters.
    this.write(document, undefined, (text) => this.streams.errNow(text));
  }

  private write(
    document: ResultsDocument,
    hdrLogPath: string | undefined,
    say: (text: string) => void,
  ): ReportOutcome | void {
    const { dir, flag, labels, name, toolVersion } = this.options;
    try {
      const entry = archiveResults(document, {
        dir,
        runId: this.runId ?? newEntryId(document),
        labels,
        ...(name === undefined ? {} : { name }),
        ...(this.git ? { git: this.git } : {}),
        toolVersion,
        ...(hdrLogPath === undefined ? {} : { hdrLogPath }),
      });
      say(`archived to ${entry}\n`);
    } catch (error) {
      return {
        errors: [`${flag} ${dir}: cannot archive the results (${(error as Error).message})`],
        writeFailed: true,
      };
    }
  }
}

/** An entry id when no run started (never in practice): the document's start time. */
function newEntryId(document: ResultsDocument): string {
  const startedAt =
    "kind" in document
      ? document.kind === "ladder"
        ? document.steps[0]?.result.startedAt
        : document.phases[0]?.result.startedAt
      : document.startedAt;
  return (startedAt ?? new Date().toISOString()).replace(/[-:]/g, "").slice(0, 15);
}
