// The benchmark's six parts. Each takes the shared context and returns plain data for the
// results JSON; report.mjs turns that data into Markdown. A failing item is recorded with its
// error and the bench goes on: a benchmark prints figures, it never gates anything.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { topSelfTime } from "./cpuprofile.mjs";
import {
  busyCores,
  freePort,
  loadAverage,
  machineCpuTicks,
  processCpuSec,
  processMemoryKiB,
  runMeasured,
  startNginx,
  startServer,
  which,
} from "./proc.mjs";
import { h2load, REQUEST_BODY } from "./tools.mjs";

const TARGET_CORE = 0;
const GENERATOR_CORE = 1;
const CONNECTIONS = 50;
const PRECISION_RATES = [1000, 5000, 10_000, 20_000];
/**
 * Ours twice per rate: with the peers' connection count (the like-for-like comparison, used for
 * the ratios) and with the default --workers, which is what a user gets (until e2370c8 it was 2 s
 * worth of the rate, up to 1,000, and a stall then turned into hundreds of connections).
 */
const OUR_PRECISION_VARIANTS = [
  { key: "ours", suffix: ` --workers ${CONNECTIONS}`, flags: ["--workers", String(CONNECTIONS)] },
  { key: "ours-default-workers", suffix: " (default --workers)", flags: [] },
];
const GATEWAY_RATES = [1000, 5000, 10_000];
const MEMORY_RATE = 5000;

// --- shared helpers -------------------------------------------------------------------------

function fastServer(ctx) {
  return startServer(TARGET_CORE, process.execPath, [join(ctx.benchDir, "fast-server.mjs"), "0"]);
}

/**
 * Watches the machine while one item runs: the target's CPU and, so that noise is visible in the
 * results, how many cores everything else (other engineers' tests, …) kept busy meanwhile.
 */
function observe(targetPid) {
  const ticksBefore = machineCpuTicks();
  const targetBefore = targetPid ? processCpuSec(targetPid) : 0;
  const startedMs = performance.now();
  return (generatorCpuSec) => {
    const wallSec = (performance.now() - startedMs) / 1000;
    const targetCpuSec = targetPid ? (processCpuSec(targetPid) ?? targetBefore) - targetBefore : 0;
    const allCores = busyCores(ticksBefore, machineCpuTicks());
    const otherCores = Math.max(0, allCores - (generatorCpuSec + targetCpuSec) / wallSec);
    return { targetCpuSec, otherCores, load1: loadAverage()[0] };
  };
}

/** Samples a process's CPU seconds with wall-clock timestamps (for windowCpuCores). */
function cpuSampler(samples) {
  return (pid) => {
    const cpuSec = processCpuSec(pid);
    if (cpuSec !== null) samples.push({ atMs: Date.now(), cpuSec });
  };
}

/**
 * CPU of a sampled process between two wall-clock instants, in cores, from the samples that
 * bracket the window (our results JSON gives the measured run's startedAt/endedAt, so warm-up
 * and process start-up stay out of the figure).
 */
function windowCpuCores(samples, startMs, endMs) {
  const before = samples.filter((sample) => sample.atMs <= startMs).at(-1) ?? samples[0];
  const after = samples.find((sample) => sample.atMs >= endMs) ?? samples.at(-1);
  if (!before || !after || after.atMs <= before.atMs) return null;
  return (after.cpuSec - before.cpuSec) / ((after.atMs - before.atMs) / 1000);
}

/**
 * One generator run, watched for noise. With --wait-quiet it starts on an idle machine, and is
 * run once more if other processes took more than `ctx.noisyCores` meanwhile (at most one retry:
 * the bench must end). Callers' `sample` callbacks see both attempts, so they must not rely on
 * samples from before the last attempt: runOurs reads the measured window from the results.
 */
async function measuredRun(ctx, label, targetPid, retryNoisy, start) {
  for (let attemptNo = 1; ; attemptNo++) {
    await ctx.waitForQuiet(label);
    const observation = observe(targetPid);
    const run = await start();
    const noise = observation(run.cpuSec);
    if (!ctx.retryNoisy || !retryNoisy || attemptNo >= 2 || noise.otherCores <= ctx.noisyCores) {
      return { run, noise: { ...noise, attempts: attemptNo } };
    }
    ctx.log(`  ${label}: other processes used ${noise.otherCores.toFixed(2)} cores meanwhile: once more`);
  }
}

/** Runs our CLI once; resolves { result, run } with the parsed --out JSON. Any exit code is fine. */
async function runOurs(
  ctx,
  url,
  {
    durationSec,
    warmupSec = 0,
    extra,
    sample,
    sampleMs,
    nodeFlags,
    targetPid = ctx.target?.pid,
    retryNoisy = true,
  },
) {
  const outFile = join(ctx.tmpDir, `ours-${++ctx.runCounter}.json`);
  const warmup = warmupSec > 0 ? ["--warmup", `${warmupSec}s`] : [];
  const args = ctx.ours.args(url, { durationSec, outFile, extra: [...warmup, ...extra], nodeFlags });
  const { run, noise } = await measuredRun(ctx, "ours", targetPid, retryNoisy, () =>
    runMeasured(GENERATOR_CORE, process.execPath, args, {
      timeoutMs: (durationSec + warmupSec + 60) * 1000,
      sample,
      sampleMs,
    }),
  );
  if (!existsSync(outFile)) {
    throw new Error(`our generator wrote no results (exit ${run.code}): ${run.stderr.slice(-400)}`);
  }
  const result = JSON.parse(readFileSync(outFile, "utf8"));
  rmSync(outFile, { force: true });
  return { result, run, noise };
}

/** Runs one peer command; resolves its parsed figures plus the run's CPU. */
async function runPeer(ctx, peer, [command, args], durationSec, sample) {
  const { run, noise } = await measuredRun(ctx, peer.key, ctx.target.pid, true, () =>
    runMeasured(GENERATOR_CORE, command, args, {
      timeoutMs: (durationSec + 60) * 1000,
      env: peer.env,
      sample,
    }),
  );
  if (run.timedOut) throw new Error(`${peer.key} did not finish in time`);
  try {
    return { figures: peer.parse(run.stdout), run, noise };
  } catch (error) {
    throw new Error(`${peer.key} exited ${run.code}; ${error.message}; ${run.stderr.slice(-300)}`, {
      cause: error,
    });
  }
}

/** Runs `measure` and turns an exception into a recorded error, so one broken item skips only itself. */
async function attempt(ctx, label, measure) {
  ctx.log(`  ${label} …`);
  try {
    const item = await measure();
    ctx.log(`  ${label}: ${item.summary ?? "done"}`);
    delete item.summary;
    return item;
  } catch (error) {
    // One line: the message ends up in a Markdown table cell.
    const message = error.message.replace(/\s+/g, " ").trim();
    ctx.log(`  ${label}: FAILED: ${message}`);
    return { error: message };
  }
}

const fixed = (value, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "?");

// --- 1. maximum throughput ------------------------------------------------------------------

async function throughputOfOurs(ctx, url, durationSec, protocolFlags = []) {
  const { result, run, noise } = await runOurs(ctx, url, {
    durationSec,
    extra: ["--rps", "max", "--workers", String(CONNECTIONS), "--category", "normal", ...protocolFlags],
  });
  const requests = result.requests.total;
  return {
    reqPerSec: result.rate.achievedPerSec,
    requests,
    dropped: result.requests.dropped,
    cpuSec: run.cpuSec,
    wallSec: run.wallSec,
    // A closed loop's latency is service time, what the peers call latency.
    latencyMs: pick(result.serviceTimeMs, ["p50", "p99", "max"]),
    errors: result.requests.error,
    connections: result.transport?.connections?.opened,
    ...noise,
    targetCores: noise.targetCpuSec / run.wallSec,
  };
}

async function throughputOfPeer(ctx, peer, url, durationSec) {
  const command = peer.maxRate(url, { connections: CONNECTIONS, durationSec });
  const { figures, run, noise } = await runPeer(ctx, peer, command, durationSec);
  return {
    reqPerSec: figures.requests / figures.durationSec,
    requests: figures.requests,
    cpuSec: run.cpuSec,
    wallSec: run.wallSec,
    latencyMs: figures.latencyMs,
    errors: figures.errors,
    ...noise,
    targetCores: noise.targetCpuSec / run.wallSec,
  };
}

/** The best run (noise from other processes only ever lowers throughput), with every run's req/s. */
function best(runs) {
  const top = runs.reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a));
  const cpuSecPer10k = (top.cpuSec / top.requests) * 10_000;
  return {
    ...top,
    cpuSecPer10k,
    cpuCores: top.cpuSec / top.wallSec,
    allReqPerSec: runs.map((run) => Math.round(run.reqPerSec)),
  };
}

export async function throughput(ctx) {
  const durationSec = ctx.itemSec;
  const peers = ctx.peers.filter((peer) => peer.available);
  ctx.target = await fastServer(ctx);
  let items;
  try {
    items = await closedLoopRounds(ctx, peers, durationSec, []);
  } finally {
    await ctx.target.stop();
  }
  return { connections: CONNECTIONS, durationSec, askedRateOurs: "max", items };
}

/**
 * Part 1's rounds against `ctx.target`: ours (with `protocolFlags`) and each peer, `ctx.repeat`
 * rounds. Round robin over the tools rather than all repeats of one tool in a row: this host's
 * speed drifts over minutes, and a drift must not favour whichever tool ran during a fast spell.
 */
async function closedLoopRounds(ctx, peers, durationSec, protocolFlags, part = "throughput") {
  const tools = [{ key: "ours", label: ctx.ours.label }, ...peers];
  const runsByTool = new Map(tools.map((tool) => [tool.key, []]));
  for (let round = 1; round <= ctx.repeat; round++) {
    for (const tool of tools) {
      const label = `${part} ${tool.key}${ctx.repeat > 1 ? ` (round ${round})` : ""}`;
      const run = await attempt(ctx, label, async () => {
        const measured =
          tool.key === "ours"
            ? await throughputOfOurs(ctx, ctx.target.url, durationSec, protocolFlags)
            : await throughputOfPeer(ctx, tool, ctx.target.url, durationSec);
        const perTenK = (measured.cpuSec / measured.requests) * 10_000;
        return {
          ...measured,
          summary: `${fixed(measured.reqPerSec)} req/s, ${fixed(perTenK, 3)} CPU s / 10k`,
        };
      });
      runsByTool.get(tool.key).push(run);
    }
  }
  return tools.map((tool) => {
    const runs = runsByTool.get(tool.key).filter((run) => !run.error);
    const failure = runsByTool.get(tool.key).find((run) => run.error);
    // Each round's req/s (null where that round failed), for ratios between runs made minutes apart at most.
    const roundReqPerSec = runsByTool
      .get(tool.key)
      .map((run) => (run.error ? null : Math.round(run.reqPerSec)));
    return { tool: tool.key, label: tool.label, ...(runs.length ? best(runs) : failure), roundReqPerSec };
  });
}

// --- 2. open-loop precision -----------------------------------------------------------------

async function precisionOfOurs(ctx, url, rate, workersFlag) {
  const cpuSamples = [];
  const { result, run, noise } = await runOurs(ctx, url, {
    durationSec: ctx.itemSec,
    warmupSec: ctx.warmupSec,
    extra: ["--rps", String(rate), "--category", "normal", ...workersFlag],
    sample: cpuSampler(cpuSamples),
    sampleMs: 250,
  });
  const windowCores = windowCpuCores(cpuSamples, Date.parse(result.startedAt), Date.parse(result.endedAt));
  return {
    achievedPerSec: result.rate.achievedPerSec,
    ratio: result.rate.achievedPerSec / rate,
    sendLagMs: pick(result.sendLagMs, ["p50", "p99", "max"]),
    eventLoopDelayMs: result.generator.eventLoopDelayMs,
    latencyMs: pick(result.latencyMs, ["p50", "p99", "max"]),
    errors: result.requests.error,
    dropped: result.requests.dropped,
    workers: result.generator.workers,
    maxInFlight: result.generator.maxInFlight,
    connections: result.transport?.connections?.opened,
    trustworthy: result.generator.trustworthy,
    cpuCores: windowCores ?? run.cpuSec / run.wallSec,
    ...noise,
  };
}

async function precisionOfPeer(ctx, peer, url, rate) {
  const command = peer.atRate(url, { rate, connections: CONNECTIONS, durationSec: ctx.itemSec });
  const { figures, run, noise } = await runPeer(ctx, peer, command, ctx.itemSec);
  const achievedPerSec = figures.requests / figures.durationSec;
  return {
    achievedPerSec,
    ratio: achievedPerSec / rate,
    latencyMs: figures.latencyMs,
    errors: figures.errors,
    cpuCores: run.cpuSec / run.wallSec,
    ...noise,
  };
}

export async function precision(ctx) {
  ctx.target = await fastServer(ctx);
  const items = [];
  const ratePeers = ctx.peers.filter((peer) => peer.available && peer.atRate);
  try {
    for (const rate of PRECISION_RATES) {
      for (const variant of OUR_PRECISION_VARIANTS) {
        const ours = await attempt(ctx, `precision ${variant.key} @ ${rate}/s`, async () => {
          const item = await precisionOfOurs(ctx, ctx.target.url, rate, variant.flags);
          const lag = item.sendLagMs;
          item.summary = `×${fixed(item.ratio, 3)}, send lag p99 ${fixed(lag.p99, 2)} ms, max ${fixed(lag.max, 1)} ms`;
          return item;
        });
        items.push({ rate, tool: variant.key, label: `${ctx.ours.label}${variant.suffix}`, ...ours });
      }
      for (const peer of ratePeers) {
        const item = await attempt(ctx, `precision ${peer.key} @ ${rate}/s`, async () => {
          const measured = await precisionOfPeer(ctx, peer, ctx.target.url, rate);
          return { ...measured, summary: `×${fixed(measured.ratio, 3)}` };
        });
        items.push({ rate, tool: peer.key, label: peer.label, ...item });
      }
    }
  } finally {
    await ctx.target.stop();
  }
  return { durationSec: ctx.itemSec, warmupSec: ctx.warmupSec, peerConnections: CONNECTIONS, items };
}

// --- 3. memory ------------------------------------------------------------------------------

/**
 * RSS of our generator over one long 5k req/s run (after the usual warm-up), read at fixed
 * checkpoints counted from the process's start.
 */
export async function memory(ctx) {
  const checkpointsSec = ctx.memoryCheckpointsSec;
  const durationSec = checkpointsSec.at(-1) + 2;
  ctx.target = await fastServer(ctx);
  try {
    const item = await attempt(ctx, `memory ours @ ${MEMORY_RATE}/s for ${durationSec}s`, async () => {
      const samples = [];
      const { result, noise } = await runOurs(ctx, ctx.target.url, {
        durationSec,
        warmupSec: ctx.warmupSec,
        extra: ["--rps", String(MEMORY_RATE), "--category", "normal"],
        retryNoisy: false, // RSS hardly depends on CPU noise, and a retry could double an hour-long run
        sampleMs: 1000,
        sample: (pid, elapsedMs) => {
          // A new process (never expected here: memory runs are not retried) restarts the series.
          if (samples.length > 0 && elapsedMs / 1000 < samples.at(-1).atSec) samples.length = 0;
          const memoryKiB = processMemoryKiB(pid);
          if (memoryKiB) samples.push({ atSec: elapsedMs / 1000, ...memoryKiB });
        },
      });
      const atCheckpoint = (sec) => {
        const nearest = samples.reduce(
          (best, sample) => (Math.abs(sample.atSec - sec) < Math.abs(best.atSec - sec) ? sample : best),
          samples[0],
        );
        return { atSec: sec, sampledAtSec: nearest.atSec, rssMiB: nearest.rssKiB / 1024 };
      };
      const checkpoints = checkpointsSec.map(atCheckpoint);
      const growth = checkpoints.at(-1).rssMiB / checkpoints[0].rssMiB;
      const secondHalf = samples.filter((sample) => sample.atSec >= durationSec / 2);
      return {
        rate: MEMORY_RATE,
        durationSec,
        checkpoints,
        peakRssMiB: Math.max(...samples.map((sample) => sample.hwmKiB)) / 1024,
        growthLastOverFirst: growth,
        // Flat means no trend once the heap has grown to its working size: the slope of RSS over
        // the second half of the run (least squares), in MiB per minute.
        secondHalfSlopeMiBPerMin: slopePerMinute(secondHalf.map((x) => [x.atSec, x.rssKiB / 1024])),
        requests: result.requests.total,
        achievedRatio: result.rate.achievedPerSec / MEMORY_RATE,
        sendLagP99Ms: result.sendLagMs.p99,
        trustworthy: result.generator.trustworthy,
        // A 1 s series is small even for an hour (3,600 points) and shows the shape, not just two points.
        rssMiBEverySecond: samples.map((sample) => Math.round((sample.rssKiB / 1024) * 10) / 10),
        ...noise,
        summary: checkpoints.map((c) => `${c.atSec}s ${fixed(c.rssMiB, 1)} MiB`).join(", "),
      };
    });
    return item;
  } finally {
    await ctx.target.stop();
  }
}

// --- 4. the reference gateway ---------------------------------------------------------------

/** The gateway's HTTP layers: its default (the lean server) and node:http, for the A/B. */
const GATEWAY_HTTP_SERVERS = ["lean", "node"];

export async function gateway(ctx) {
  const items = [];
  for (const httpServer of GATEWAY_HTTP_SERVERS) {
    items.push(...(await gatewayItems(ctx, httpServer)));
  }
  return { durationSec: ctx.itemSec, warmupSec: ctx.warmupSec, category: "mixed", items };
}

async function gatewayItems(ctx, httpServer) {
  const gatewayServer = await startServer(TARGET_CORE, process.execPath, [
    // As the demo starts it (src/cli/node-flags.ts): without V8's memory reducer, whose forced
    // full GC ~100 s after start deoptimized the gateway's hot path mid-item.
    "--no-memory-reducer",
    ctx.ours.cli,
    "serve",
    "--port",
    "0",
    "--llm-latency",
    "1ms..2ms",
    "--http-server",
    httpServer,
  ]);
  const items = [];
  try {
    for (const rate of GATEWAY_RATES) {
      // The default --workers first (what a user runs), then --workers 50: the difference is what
      // the generator's own connection count does to the measured latency.
      for (const variant of OUR_PRECISION_VARIANTS.toReversed()) {
        const item = await attempt(ctx, `gateway (${httpServer}) ${variant.key} @ ${rate}/s`, async () => {
          const gatewaySamples = [];
          const sampleGateway = cpuSampler(gatewaySamples);
          const { result, noise } = await runOurs(ctx, gatewayServer.url, {
            durationSec: ctx.itemSec,
            warmupSec: ctx.warmupSec,
            extra: ["--rps", String(rate), "--category", "mixed", "--api-key", "bench", ...variant.flags],
            sample: () => sampleGateway(gatewayServer.pid),
            sampleMs: 250,
            targetPid: gatewayServer.pid,
          });
          const startMs = Date.parse(result.startedAt);
          const endMs = Date.parse(result.endedAt);
          const gatewayCores = windowCpuCores(gatewaySamples, startMs, endMs);
          const completed = result.requests.total;
          const measuredSec = (endMs - startMs) / 1000;
          const latency = result.latencyMs;
          return {
            achievedPerSec: result.rate.achievedPerSec,
            ratio: result.rate.achievedPerSec / rate,
            latencyMs: pick(latency, ["p50", "p95", "p99", "max"]),
            errors: result.requests.error,
            blocked: result.requests.blocked,
            correctness: result.correctness,
            gatewayCpuCores: gatewayCores,
            gatewayCpuMsPer1k: gatewayCores === null ? null : (gatewayCores * measuredSec * 1e6) / completed,
            generatorTrustworthy: result.generator.trustworthy,
            generatorSendLagP99Ms: result.sendLagMs.p99,
            generatorEventLoopP99Ms: result.generator.eventLoopDelayMs.p99,
            connections: result.transport?.connections?.opened,
            workersCap: result.generator.workers,
            verdict: result.verdict?.level,
            ...noise,
            summary: `P50 ${fixed(latency.p50, 2)} P95 ${fixed(latency.p95, 2)} P99 ${fixed(latency.p99, 2)} ms, gateway ${fixed(100 * gatewayCores)}% of a core`,
          };
        });
        items.push({ rate, httpServer, tool: variant.key, workers: variant.suffix.trim(), ...item });
      }
    }
  } finally {
    await gatewayServer.stop();
  }
  return items;
}

// --- 5. CPU profile of our generator --------------------------------------------------------

export async function profile(ctx) {
  ctx.target = await fastServer(ctx);
  const profileDir = join(ctx.tmpDir, "cpuprofile");
  try {
    // At saturation, like part 1 (50 in flight, rate out of reach): every sample then shows where
    // a request's CPU goes. At a fixed 10k req/s the profile was 85% idle, since V8's sampler sees
    // none of the kernel's loopback work, and ranked start-up code among the top items.
    return await attempt(ctx, "cpu profile ours at saturation", async () => {
      const { result } = await runOurs(ctx, ctx.target.url, {
        durationSec: ctx.itemSec,
        extra: ["--rps", "max", "--category", "normal", "--workers", String(CONNECTIONS)],
        nodeFlags: ["--cpu-prof", "--cpu-prof-dir", profileDir],
      });
      const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));
      if (!file) throw new Error("node wrote no .cpuprofile");
      const ranking = topSelfTime(join(profileDir, file), ctx.root, 15);
      return {
        workers: CONNECTIONS,
        durationSec: ctx.itemSec,
        completedPerSec: result.rate.achievedPerSec,
        ...ranking,
        summary: `top: ${ranking.top[0]?.name} ${fixed(ranking.top[0]?.selfPct, 1)}%`,
      };
    });
  } finally {
    rmSync(profileDir, { recursive: true, force: true });
    await ctx.target.stop();
  }
}

// --- 6. HTTP/2 -------------------------------------------------------------------------------

/** What nginx serves in part 6: the fast target's answer, over h2c (prior knowledge). */
function nginxConfig(dir, port) {
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  http2_max_concurrent_streams 256;
  server {
    listen 127.0.0.1:${port} http2;
    location / { default_type application/json; return 200 '{"success":true,"blocked":false}'; }
  }
}
`;
}

/** nginx when installed (one process, faster than any Node target), else node:http2. */
async function h2Target(ctx) {
  const nginx = which("nginx");
  if (nginx) {
    const dir = join(ctx.tmpDir, "nginx");
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const version = spawnSync(nginx, ["-v"], { encoding: "utf8", timeout: 5000 }).stderr.trim();
    const server = await startNginx(TARGET_CORE, nginx, dir, nginxConfig(dir, port), port);
    return { ...server, label: version.replace(/^nginx version: /, "") || "nginx" };
  }
  const server = await startServer(TARGET_CORE, process.execPath, [
    join(ctx.benchDir, "fast-server.mjs"),
    "0",
    "--h2c",
  ]);
  return { ...server, label: "node:http2 (bench/fast-server.mjs --h2c; nginx not installed)" };
}

/** Part 6: HTTP/2 with prior knowledge, closed loop, CONNECTIONS streams on one connection. */
export async function http2(ctx) {
  const durationSec = ctx.itemSec;
  const bodyFile = join(ctx.tmpDir, "h2load-body.json");
  writeFileSync(bodyFile, REQUEST_BODY);
  const peer = h2load(bodyFile);
  ctx.target = await h2Target(ctx);
  let items;
  try {
    items = await closedLoopRounds(ctx, peer.available ? [peer] : [], durationSec, ["--h2c"], "http2");
  } finally {
    await ctx.target.stop();
  }
  return {
    streams: CONNECTIONS,
    durationSec,
    target: ctx.target.label,
    peer: { key: peer.key, label: peer.label ?? peer.key, available: peer.available, note: peer.note },
    items,
  };
}

function slopePerMinute(points) {
  if (points.length < 2) return null;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  let numerator = 0;
  let denominator = 0;
  for (const [x, y] of points) {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  }
  return denominator > 0 ? (numerator / denominator) * 60 : null;
}

function pick(object, keys) {
  return Object.fromEntries(keys.map((key) => [key, object?.[key]]));
}
