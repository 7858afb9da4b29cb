import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { RunResult } from "../metrics/result.js";

/**
 * Writes the results contract (docs/RESULTS.md). Written to a temporary file and renamed so an
 * interrupted write never leaves a truncated JSON for CI to misread.
 */
export async function writeResultsFile(filePath: string, result: RunResult): Promise<void> {
  await mkdir(dirname(filePath), { recursive: true });
  const temporaryPath = `${filePath}.tmp-${process.pid}`;
  await writeFile(temporaryPath, `${JSON.stringify(result, null, 2)}\n`);
  await rename(temporaryPath, filePath);
}
