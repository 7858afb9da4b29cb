import type { RunResult } from "../metrics/result.js";
import { writeFileAtomic, type OutputPath } from "./output-file.js";

export function writeJsonFile(output: OutputPath, value: unknown): Promise<void> {
  return writeFileAtomic(output, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes the results contract (docs/RESULTS.md). */
export function writeResultsFile(output: OutputPath, result: RunResult): Promise<void> {
  return writeJsonFile(output, result);
}
