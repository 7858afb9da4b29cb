import { resultsFromData } from "../../metrics/results-file.js";
import type { ResultsDocument } from "../../metrics/result.js";
import { htmlReport } from "../html/report.js";
import { writeTextFileSync } from "../json.js";
import { writeFileAtomic, type OutputPath } from "../output-file.js";
import type { Reporter, ReportOutcome, Streams } from "../reporter.js";
import { writeFailure } from "./json.js";

/**
 * `--html`: the command's document as a self-contained HTML report (docs/REPORTS.md), the same
 * page `load-test report` makes from the `--out` file.
 */
export class HtmlReporter implements Reporter {
  readonly outputs: readonly OutputPath[];

  constructor(
    private readonly target: OutputPath,
    private readonly streams: Streams,
    private readonly labels?: Record<string, string>,
  ) {
    this.outputs = [target];
  }

  private render(document: ResultsDocument): string {
    return htmlReport(resultsFromData(document, this.target.path), { labels: this.labels });
  }

  async finish(document: ResultsDocument): Promise<ReportOutcome | void> {
    try {
      await writeFileAtomic(this.target, this.render(document));
      this.streams.err(`HTML report written to ${this.target.path}\n`);
    } catch (error) {
      return writeFailure(error);
    }
  }

  quitNow(document: ResultsDocument): void {
    writeTextFileSync(this.target.path, this.render(document));
    this.streams.errNow(`HTML report written to ${this.target.path}\n`);
  }
}
