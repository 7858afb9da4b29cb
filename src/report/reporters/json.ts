import type { ResultsDocument } from "../../metrics/result.js";
import { writeJsonFile, writeJsonFileSync } from "../json.js";
import { OutputWriteError, type OutputPath } from "../output-file.js";
import type { Reporter, ReportOutcome, Streams } from "../reporter.js";

/** `--out`: the command's document as JSON (docs/RESULTS.md), written atomically at the end. */
export class JsonReporter implements Reporter {
  readonly outputs: readonly OutputPath[];

  constructor(
    private readonly target: OutputPath,
    private readonly streams: Streams,
  ) {
    this.outputs = [target];
  }

  async finish(document: ResultsDocument): Promise<ReportOutcome | void> {
    try {
      await writeJsonFile(this.target, document);
      this.streams.err(`results written to ${this.target.path}\n`);
    } catch (error) {
      return writeFailure(error);
    }
  }

  quitNow(document: ResultsDocument): void {
    writeJsonFileSync(this.target.path, document);
    this.streams.errNow(`results written to ${this.target.path}\n`);
  }
}

/** A file that could not be written after the run: its message, and exit 5. */
export function writeFailure(error: unknown): ReportOutcome {
  if (!(error instanceof OutputWriteError)) throw error;
  return { errors: [error.message], writeFailed: true };
}
