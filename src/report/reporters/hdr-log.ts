import { InputError } from "../../config/errors.js";
import { HdrIntervalLog } from "../hdr-log.js";
import type { OutputPath } from "../output-file.js";
import type { Reporter, ReportOutcome, Streams } from "../reporter.js";

/**
 * `--hdr-log`: every second's latency histogram as an HdrHistogram interval log, one time axis
 * for every run of the command (docs/RESULTS.md "Interval log"). Lines are written as seconds
 * close, so a forced quit leaves what was logged so far.
 */
export class HdrLogReporter implements Reporter {
  readonly outputs: readonly OutputPath[];
  private log: HdrIntervalLog | undefined;

  constructor(
    private readonly target: OutputPath,
    private readonly streams: Streams,
  ) {
    this.outputs = [target];
  }

  get intervals(): HdrIntervalLog | undefined {
    return this.log;
  }

  async open(): Promise<void> {
    this.log = await HdrIntervalLog.open(this.target.path).catch((error: unknown) => {
      throw new InputError(this.target.flag, `${this.target.path}: ${(error as Error).message}`);
    });
  }

  /** A write that failed during the run is reported now, as for any other output (exit 5). */
  async close(): Promise<ReportOutcome | void> {
    if (!this.log) return;
    try {
      await this.log.close();
      this.streams.err(`histogram log written to ${this.target.path}\n`);
    } catch (error) {
      return { errors: [`${this.target.flag} ${(error as Error).message}`], writeFailed: true };
    }
  }
}
