import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { RunResult } from "../metrics/result.js";

/**
 * Written to a temporary file and renamed so an interrupted write never leaves a truncated file
 * for CI to misread.
 */
export async function writeTextFile(filePath: string, text: string): Promise<void> {
  await mkdir(dirname(filePath), { recursive: true });
  const temporaryPath = `${filePath}.tmp-${process.pid}`;
  await writeFile(temporaryPath, text);
  await rename(temporaryPath, filePath);
}

export function writeJsonFile(filePath: string, value: unknown): Promise<void> {
  return writeTextFile(filePath, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes the results contract (docs/RESULTS.md). */
export function writeResultsFile(filePath: string, result: RunResult): Promise<void> {
  return writeJsonFile(filePath, result);
}
