import { loadResultsFile } from "../../metrics/results-file.js";
import { writeFileAtomic, type OutputPath } from "../output-file.js";
import { htmlReport } from "./report.js";

/** `results.json` -> `results.html`; any other name gets `.html` appended. */
export function defaultReportPath(resultsPath: string): string {
  return /\.json$/i.test(resultsPath) ? resultsPath.replace(/\.json$/i, ".html") : `${resultsPath}.html`;
}

/**
 * `load-test report`: a results file of any kind (run, phases, ladder) as its HTML report,
 * written atomically. Throws ResultsFileError / InvalidHistogramError for a file it cannot read
 * (invalid input) and OutputWriteError when the report cannot be written.
 */
export async function writeReportFile(resultsPath: string, target: OutputPath): Promise<void> {
  const html = htmlReport(await loadResultsFile(resultsPath));
  await writeFileAtomic(target, html);
}
