#!/usr/bin/env node
// The monitor's cost to pacing (docs/BENCHMARKS.md "Monitor overhead"): the generator's send lag
// at 10k req/s with three --monitor sources (the reference gateway's /metrics, Debian's
// prometheus-node-exporter, and a ~5 MB page) against the same run without them, alternated.
// A benchmark, not a test: it prints figures and exits 0 whatever they are.
//
//   node bench/monitor-overhead.mjs [--repeat N] [--duration S] [--rate R] [--sched-idle]
//
// --sched-idle moves the monitor process (all its threads) to SCHED_IDLE with chrt once it is
// seen, to compare with the nice 19 it ships with (docs/MONITOR.md "Off the hot path").
//
// Layout: the target and the sources on core 0, the generator (and so its monitor process) on core 1.
// The monitor process's own CPU (ms per second, from /proc) is sampled too: noise moves it less.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn, spawnSync } from "node:child_process";
import { describeMachine, machineLine } from "./lib/machine.mjs";
import { fetch } from "undici";
import {
  freePort,
  loadAverage,
  runMeasured,
  sleep,
  startServer,
  stopAllChildren,
  which,
} from "./lib/proc.mjs";

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const TARGET_CORE = 0;
const GENERATOR_CORE = 1;
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const repeat = option("--repeat", 3);
const durationSec = option("--duration", 15);
const rate = option("--rate", 10_000);
const schedIdle = args.includes("--sched-idle");

/** Clock ticks per second of /proc/PID/stat's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SEC = 100;

/** The monitor process among `root`'s descendants, if any (monitor-process.js in its command line). */
function monitorChild(root) {
  const parentOf = new Map();
  const monitors = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("monitor-process.js"))
        monitors.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return monitors.find((pid) => {
    for (let up = parentOf.get(pid); up !== undefined && up > 1; up = parentOf.get(up))
      if (up === root) return true;
    return false;
  });
}

/** A process's user + system CPU in ms (proc(5): fields 14 and 15), undefined once it is gone. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}

/**
 * Samples the monitor process's CPU while the run lasts: its CPU ms per second of wall time over
 * the run (from the first sample to the last), which the machine's noise changes much less than
 * the generator's send lag.
 */
function monitorCpuSampler() {
  let pid;
  let first;
  let last;
  return {
    sample(parent, elapsedMs) {
      if (pid === undefined) {
        pid = monitorChild(parent);
        if (pid !== undefined && schedIdle) spawnSync("chrt", ["--idle", "-a", "-p", "0", String(pid)]);
      }
      if (pid === undefined) return;
      const ms = cpuMs(pid);
      if (ms === undefined) return;
      first ??= { ms, elapsedMs };
      last = { ms, elapsedMs };
    },
    cpuMsPerSec() {
      if (!first || !last || last.elapsedMs <= first.elapsedMs) return null;
      return Math.round((((last.ms - first.ms) * 1000) / (last.elapsedMs - first.elapsedMs)) * 10) / 10;
    },
  };
}

async function main() {
  const bin = join(root, "dist/cli/bin.js");
  const target = await startServer(TARGET_CORE, process.execPath, [join(benchDir, "fast-server.mjs"), "0"]);
  const gateway = await startServer(TARGET_CORE, process.execPath, [bin, "serve", "--port", "0"]);
  const big = await startServer(TARGET_CORE, process.execPath, [
    join(benchDir, "big-metrics-server.mjs"),
    "0",
  ]);
  const exporterBin = which("prometheus-node-exporter");
  if (!exporterBin)
    throw new Error("prometheus-node-exporter not found (apt-get install prometheus-node-exporter)");
  const exporterPort = await freePort();
  const exporter = spawn(
    "taskset",
    ["-c", String(TARGET_CORE), exporterBin, `--web.listen-address=127.0.0.1:${exporterPort}`],
    {
      stdio: "ignore",
    },
  );
  await sleep(1000);
  const sources = [
    `${gateway.url}/metrics`,
    `http://127.0.0.1:${exporterPort}/metrics`,
    `${big.url}/metrics`,
  ];
  const sizes = await Promise.all(
    sources.map(async (url) => (await (await fetch(url)).arrayBuffer()).byteLength),
  );
  const dir = mkdtempSync(join(tmpdir(), "load-test-monitor-bench-"));
  const rows = [];
  try {
    for (let round = 0; round < repeat; round += 1) {
      for (const withMonitor of round % 2 === 0 ? [false, true] : [true, false]) {
        const out = join(dir, `r-${round}-${withMonitor}.json`);
        const flags = [
          bin,
          "--target",
          target.url,
          "--rps",
          String(rate),
          "--duration",
          `${durationSec}s`,
          "--warmup",
          "3s",
          "--category",
          "normal",
          "--quiet",
          "--out",
          out,
          ...(withMonitor ? sources.flatMap((url) => ["--monitor", url]) : []),
        ];
        const load = loadAverage();
        const sampler = monitorCpuSampler();
        await runMeasured(GENERATOR_CORE, process.execPath, flags, {
          timeoutMs: (durationSec + 60) * 1000,
          sampleMs: 500,
          sample: sampler.sample,
        });
        const result = JSON.parse(readFileSync(out, "utf8"));
        rows.push({
          round,
          monitor: withMonitor,
          loadAverage1m: load,
          achievedPerSec: result.rate.achievedPerSec,
          sendLagP99Ms: result.sendLagMs.p99,
          ownSendLagP99Ms: result.generator.ownSendLagMs.p99,
          eventLoopDelayP99Ms: result.generator.eventLoopDelayMs.p99,
          monitorCpuMsPerSec: withMonitor ? sampler.cpuMsPerSec() : null,
          monitorSources:
            result.monitor?.sources.map((s) => ({
              name: s.name,
              attempts: s.attempts,
              failures: s.failures,
            })) ?? [],
        });
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    exporter.kill("SIGTERM");
    await Promise.all([target.stop(), gateway.stop(), big.stop()]);
    stopAllChildren();
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const summary = [false, true].map((monitor) => {
    const runs = rows.filter((row) => row.monitor === monitor);
    return {
      monitor,
      runs: runs.length,
      medianSendLagP99Ms: median(runs.map((r) => r.sendLagP99Ms)),
      medianOwnSendLagP99Ms: median(runs.map((r) => r.ownSendLagP99Ms)),
      medianEventLoopDelayP99Ms: median(runs.map((r) => r.eventLoopDelayP99Ms)),
      medianMonitorCpuMsPerSec: monitor ? median(runs.map((r) => r.monitorCpuMsPerSec ?? 0)) : null,
      loadAverage1m: runs.map((r) => r.loadAverage1m),
    };
  });
  const machine = describeMachine(root);
  const stamp = new Date().toISOString().replace(/:/g, "-").slice(0, 19);
  mkdirSync(join(benchDir, "results"), { recursive: true });
  const document = {
    machine,
    rate,
    durationSec,
    monitorScheduling: schedIdle ? "SCHED_IDLE" : "nice 19",
    sources,
    sourceBytes: sizes,
    rows,
    summary,
  };
  writeFileSync(
    join(benchDir, "results", `${stamp}-monitor-overhead.json`),
    `${JSON.stringify(document, null, 2)}\n`,
  );
  const md = [
    `Monitor overhead at ${rate} req/s, ${durationSec} s runs, ${repeat} rounds, monitor at ${document.monitorScheduling} (${machineLine(machine)})`,
    `Sources: ${sources.map((url, i) => `${url} (${sizes[i]} bytes)`).join(", ")}`,
    "",
    "| monitor | runs | send lag p99 (median) | own send lag p99 | event-loop delay p99 | monitor process CPU |",
    "| --- | --- | --- | --- | --- | --- |",
    ...summary.map(
      (s) =>
        `| ${s.monitor ? "3 sources" : "none"} | ${s.runs} | ${s.medianSendLagP99Ms} ms | ${s.medianOwnSendLagP99Ms} ms | ${s.medianEventLoopDelayP99Ms} ms | ${s.monitor ? `${s.medianMonitorCpuMsPerSec} ms/s` : "–"} |`,
    ),
  ].join("\n");
  writeFileSync(join(benchDir, "results", `${stamp}-monitor-overhead.md`), `${md}\n`);
  console.log(`\n${md}`);
}

main().catch((error) => {
  console.error(`bench: ${error.message}`);
  stopAllChildren();
  process.exit(1);
});
