import { decodeRuns, loadResultsFile } from "../metrics/results-file.js";
import type { RunResult } from "../metrics/result.js";
import { MergeError, mergeShards, type ShardInput } from "./merge.js";

/**
 * `load-test merge`: each file must hold one run (a shard's `--out`); decoded, checked and merged.
 * Throws MergeError, ResultsFileError or a histogram error naming the file (all invalid input).
 */
export async function mergeFiles(paths: readonly string[], allowPartial: boolean): Promise<RunResult> {
  const inputs: ShardInput[] = [];
  for (const path of paths) {
    const loaded = await loadResultsFile(path);
    if (loaded.kind !== "run")
      throw new MergeError(
        `${path}: a ${loaded.kind} results file; merge takes the --out of single shard runs`,
      );
    const [run] = decodeRuns(loaded);
    if (!run) throw new MergeError(`${path}: holds no run`);
    inputs.push({ source: path, result: run.result, histograms: run.histograms });
  }
  return mergeShards(inputs, allowPartial);
}
