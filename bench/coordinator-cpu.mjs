// One-off measurement (docs/BENCHMARKS.md "The coordinator's CPU per shard"): the CPU that
// `load-test coordinate` spends on its shards (registration streams, one HDR-encoded report per
// shard and second absorbed into the merged recorder, the live line), read from
// /proc/<pid>/stat of the coordinator process during the measured run. Loopback only, bounded
// in time; every child is stopped by its own PID. Not a test.
//
//   node bench/coordinator-cpu.mjs [shard counts, default 1,4] [req/s per shard, default 250] [seconds, default 20]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";
import { processCpuSec } from "./lib/proc.mjs";

const COUNTS = (process.argv[2] ?? "1,4").split(",").map(Number);
const PER_SHARD_RPS = Number(process.argv[3] ?? 250);
const SECONDS = Number(process.argv[4] ?? 20);
const MAIN = fileURLToPath(import.meta.resolve("../dist/cli/main.js"));
const SERVER = fileURLToPath(import.meta.resolve("./fast-server.mjs"));
const NODE_ARGS = ["--no-memory-reducer"];
const dir = mkdtempSync(join(tmpdir(), "coordinator-cpu-"));
const children = [];

function start(args) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const done = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  const waitFor = (pattern, where = () => stderr, limitMs = 30_000) =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`no ${pattern} within ${limitMs} ms: ${stderr}`)),
        limitMs,
      );
      const timer = setInterval(() => {
        const match = pattern.exec(where());
        if (match) {
          clearInterval(timer);
          clearTimeout(deadline);
          resolve(match);
        }
      }, 20);
    });
  return { child, done, waitFor, out: () => stdout, err: () => stderr };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const server = start([SERVER]);
  const target = (await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, server.out))[1];
  const rows = [];
  for (const shards of COUNTS) {
    const out = join(dir, `run-${shards}.json`);
    const coordinator = start([
      ...NODE_ARGS,
      MAIN,
      "coordinate",
      "--shards",
      String(shards),
      "--listen",
      "127.0.0.1:0",
      "--target",
      target,
      "--rps",
      String(PER_SHARD_RPS * shards),
      "--duration",
      `${SECONDS}s`,
      "--category",
      "normal",
      "--out",
      out,
    ]);
    const url = (await coordinator.waitFor(/coordinator listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    const fleet = Array.from({ length: shards }, () =>
      start([...NODE_ARGS, MAIN, "run", "--coordinator", url]),
    );
    await Promise.all(fleet.map((shard) => shard.waitFor(/started/)));
    // The window: the measured schedule without its first and last second.
    await sleep(1000);
    const fromCpuSec = processCpuSec(coordinator.child.pid);
    const fromMs = performance.now();
    await sleep((SECONDS - 2) * 1000);
    const cpuSec = processCpuSec(coordinator.child.pid) - fromCpuSec;
    const wallSec = (performance.now() - fromMs) / 1000;
    const code = await coordinator.done;
    await Promise.all(fleet.map((shard) => shard.done));
    const result = JSON.parse(readFileSync(out, "utf8"));
    const corePct = (100 * cpuSec) / wallSec;
    rows.push({
      shards,
      askedPerSec: PER_SHARD_RPS * shards,
      completed: result.requests.total,
      exit: code,
      // Why a run was critical: on a crowded machine, usually the latency of a starved target.
      critical: result.verdict.checks
        .filter((check) => check.level === "critical")
        .map((check) => check.name)
        .join(", "),
      partial: result.merged?.partial,
      coordinatorCorePct: corePct.toFixed(2),
      perShardCorePct: (corePct / shards).toFixed(2),
      cpuMsPerShardSecond: ((1000 * cpuSec) / wallSec / shards).toFixed(2),
    });
  }
  console.log(
    `coordinator CPU, ${SECONDS}s runs, ${PER_SHARD_RPS} req/s per shard, loopback (window: seconds 1..${SECONDS - 1})`,
  );
  console.table(rows);
  const [first, last] = [rows[0], rows.at(-1)];
  if (rows.length > 1 && last.shards > first.shards)
    console.log(
      `each shard beyond ${first.shards} adds ${((Number(last.coordinatorCorePct) - Number(first.coordinatorCorePct)) / (last.shards - first.shards)).toFixed(2)}% of a core to the coordinator`,
    );
} finally {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
