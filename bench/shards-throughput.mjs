#!/usr/bin/env node
// Two shards vs one process with two threads (docs/BENCHMARKS.md "Shards vs threads"): the same
// load from `--shard 0/2` and `--shard 1/2` (one process per core, `taskset`, one `--start-at`,
// merged by `load-test merge`) and from one process with `--threads 2` on both cores, against
// bench/fast-server.mjs on loopback. A benchmark, not a test: it prints figures and exits 0
// whatever they are.
//
//   node bench/shards-throughput.mjs [--repeat N] [--duration S] [--rate R|max]
//
// The target is not pinned: with 2 cores it shares them with the generators in both layouts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeMachine, machineLine } from "./lib/machine.mjs";
import { loadAverage, reapedChildrenCpuSec, runMeasured, startServer, stopAllChildren } from "./lib/proc.mjs";

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : fallback;
};
const repeat = Number(option("--repeat", 3));
const durationSec = Number(option("--duration", 10));
const rate = option("--rate", "max");
const bin = join(root, "dist/cli/bin.js");
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function figures(result, wallSec, cpuSec) {
  return {
    achievedPerSec: Math.round(result.rate.achievedPerSec),
    completed: result.requests.total,
    errors: result.requests.error,
    latencyP50Ms: result.latencyMs.p50,
    latencyP99Ms: result.latencyMs.p99,
    sendLagP99Ms: result.sendLagMs.p99,
    trustworthy: result.generator.trustworthy,
    wallSec: +wallSec.toFixed(1),
    cpuSec: +cpuSec.toFixed(1),
  };
}

async function main() {
  const target = await startServer(null, process.execPath, [join(benchDir, "fast-server.mjs"), "0"]);
  const dir = mkdtempSync(join(tmpdir(), "load-test-shards-bench-"));
  const common = [
    ...["--target", target.url, "--rps", rate, "--duration", `${durationSec}s`, "--warmup", "2s"],
    ...["--category", "normal", "--quiet"],
  ];
  const timeoutMs = (durationSec + 60) * 1000;
  const rows = [];
  try {
    for (let round = 0; round < repeat; round += 1) {
      for (const layout of round % 2 === 0 ? ["threads", "shards"] : ["shards", "threads"]) {
        const load = loadAverage();
        if (layout === "threads") {
          const out = join(dir, `t-${round}.json`);
          const run = await runMeasured(
            "0,1",
            process.execPath,
            [bin, ...common, "--threads", "2", "--out", out],
            {
              timeoutMs,
            },
          );
          if (run.code !== 0 && run.code !== 3)
            throw new Error(`threads run exited ${run.code}: ${run.stderr}`);
          rows.push({
            round,
            layout,
            loadAverage1m: load,
            ...figures(JSON.parse(readFileSync(out, "utf8")), run.wallSec, run.cpuSec),
          });
        } else {
          // Each shard's warm-up and start-up fit well inside 6 s, so neither starts late.
          const startAt = new Date(Date.now() + 6000).toISOString();
          const files = [0, 1].map((k) => join(dir, `s-${round}-${k}.json`));
          // Both shards' CPU from the reaped children's total: runMeasured's own figure for one of
          // two concurrent runs would also count the other if it ended first.
          const cpuBefore = reapedChildrenCpuSec();
          const runs = await Promise.all(
            [0, 1].map((k) =>
              runMeasured(
                k,
                process.execPath,
                [
                  bin,
                  ...common,
                  "--threads",
                  "1",
                  "--shard",
                  `${k}/2`,
                  "--start-at",
                  startAt,
                  "--run-id",
                  `bench-${round}`,
                  "--out",
                  files[k],
                ],
                { timeoutMs },
              ),
            ),
          );
          for (const run of runs)
            if (run.code !== 0 && run.code !== 3) throw new Error(`shard exited ${run.code}: ${run.stderr}`);
          const shardsCpuSec = reapedChildrenCpuSec() - cpuBefore;
          const out = join(dir, `m-${round}.json`);
          const merge = await runMeasured(null, process.execPath, [bin, "merge", ...files, "--out", out], {
            timeoutMs,
          });
          if (merge.code !== 0 && merge.code !== 3)
            throw new Error(`merge exited ${merge.code}: ${merge.stderr}`);
          const merged = JSON.parse(readFileSync(out, "utf8"));
          const late = files.map((file) => JSON.parse(readFileSync(file, "utf8")).startAt?.lateMs ?? 0);
          rows.push({
            round,
            layout,
            loadAverage1m: load,
            lateMs: late,
            ...figures(merged, Math.max(...runs.map((r) => r.wallSec)), shardsCpuSec),
          });
        }
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await target.stop();
    stopAllChildren();
  }
  const summary = ["threads", "shards"].map((layout) => {
    const runs = rows.filter((row) => row.layout === layout);
    return {
      layout,
      runs: runs.length,
      medianAchievedPerSec: median(runs.map((r) => r.achievedPerSec)),
      medianLatencyP99Ms: median(runs.map((r) => r.latencyP99Ms)),
      medianSendLagP99Ms: median(runs.map((r) => r.sendLagP99Ms)),
      medianCpuSec: median(runs.map((r) => r.cpuSec)),
    };
  });
  const machine = describeMachine(root);
  const stamp = new Date().toISOString().replace(/:/g, "-").slice(0, 19);
  mkdirSync(join(benchDir, "results"), { recursive: true });
  writeFileSync(
    join(benchDir, "results", `${stamp}-shards-throughput.json`),
    `${JSON.stringify({ machine, rate, durationSec, rows, summary }, null, 2)}\n`,
  );
  const md = [
    `Shards vs threads, --rps ${rate}, ${durationSec} s runs, ${repeat} rounds (${machineLine(machine)})`,
    "",
    "| layout | runs | achieved req/s (median) | latency p99 | send lag p99 | CPU s (generators) |",
    "| --- | --- | --- | --- | --- | --- |",
    ...summary.map(
      (s) =>
        `| ${s.layout === "threads" ? "1 process, --threads 2" : "2 shards, 1 per core"} | ${s.runs} | ${s.medianAchievedPerSec} | ${s.medianLatencyP99Ms} ms | ${s.medianSendLagP99Ms} ms | ${s.medianCpuSec} |`,
    ),
  ].join("\n");
  writeFileSync(join(benchDir, "results", `${stamp}-shards-throughput.md`), `${md}\n`);
  console.log(`\n${md}`);
}

main().catch((error) => {
  console.error(`bench: ${error.message}`);
  stopAllChildren();
  process.exit(1);
});
