import { mkdirSync, renameSync, writeFileSync } from "node:fs";
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

/**
 * `writeTextFile`, synchronously: for a process that must quit at once (a second Ctrl-C, its
 * parent killed) and still leave its results (README "Ctrl-C").
 */
export function writeTextFileSync(filePath: string, text: string): void {
  mkdirSync(dirname(filePath), { recursive: true });
  const temporaryPath = `${filePath}.tmp-${process.pid}`;
  writeFileSync(temporaryPath, text);
  renameSync(temporaryPath, filePath);
}

export function writeJsonFileSync(filePath: string, value: unknown): void {
  writeTextFileSync(filePath, `${JSON.stringify(value, null, 2)}\n`);
}
