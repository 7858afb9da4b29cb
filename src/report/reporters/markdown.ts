import type { ResultsDocument } from "../../metrics/result.js";
import { writeTextFileSync } from "../json.js";
import { documentTable } from "../markdown.js";
import { writeFileAtomic, type OutputPath } from "../output-file.js";
import type { Reporter, ReportOutcome } from "../reporter.js";
import { writeFailure } from "./json.js";

/** `--markdown`: the Baseline Results table of the command (one row per run, phase or step). */
export class MarkdownReporter implements Reporter {
  readonly outputs: readonly OutputPath[];

  /** `note`: the Notes cell of a single run's row (a profile's name). */
  constructor(
    private readonly target: OutputPath,
    private readonly note = "",
  ) {
    this.outputs = [target];
  }

  async finish(document: ResultsDocument): Promise<ReportOutcome | void> {
    try {
      await writeFileAtomic(this.target, `${documentTable(document, this.note)}\n`);
    } catch (error) {
      return writeFailure(error);
    }
  }

  quitNow(document: ResultsDocument): void {
    writeTextFileSync(this.target.path, `${documentTable(document, this.note)}\n`);
  }
}
