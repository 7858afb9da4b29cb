import type { RunResult } from "../metrics/result.js";
import { writeFileAtomic, writeFileAtomicSync, type OutputPath } from "./output-file.js";

export function writeJsonFile(output: OutputPath, value: unknown): Promise<void> {
  return writeFileAtomic(output, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes the results contract (docs/RESULTS.md). */
export function writeResultsFile(output: OutputPath, result: RunResult): Promise<void> {
  return writeJsonFile(output, result);
}

/**
 * A text file written synchronously, for a process that must quit at once (a second Ctrl-C, its
 * parent killed) and still leave its results (README "Ctrl-C").
 */
export function writeTextFileSync(filePath: string, text: string): void {
  writeFileAtomicSync(filePath, text);
}

export function writeJsonFileSync(filePath: string, value: unknown): void {
  writeTextFileSync(filePath, `${JSON.stringify(value, null, 2)}\n`);
}
