/**
 * Shards as separate test hosts (docs/DISTRIBUTED.md "Testing"): the target in one network
 * namespace, each shard process in another, joined by a bridge (test/helpers/netns.ts), so every
 * request crosses a network stack of its own as between machines. The namespaces share the
 * machine's clock, so `--start-at` is one instant for all; the network between them is what is
 * tested, not clock skew.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLatencyHistogram, summarizeMs } from "../../src/metrics/histogram.js";
import { decodeResultHistograms } from "../../src/metrics/result-histograms.js";
import type { RunResult } from "../../src/metrics/result.js";
import { spreadMs } from "../helpers/arrivals.js";
import { BIN_PATH, runCli } from "../helpers/cli.js";
import { createNetnsLab, type NetnsLab, type TestHost } from "../helpers/netns.js";

const TARGET_SCRIPT = fileURLToPath(new URL("../helpers/netns-target.mjs", import.meta.url));
const RATE = 100;
const DURATION_S = 3;
const PLANNED = RATE * DURATION_S;
const SHARDS = 2;

const read = (path: string): RunResult => JSON.parse(readFileSync(path, "utf8")) as RunResult;

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` on `host` to its end, killed (by its PID) after `timeoutMs`. */
function runOn(lab: NetnsLab, host: TestHost, command: string, args: string[], timeoutMs = 40_000) {
  const { file, args: argv } = lab.command(host, command, args);
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<Exited>((resolve, reject) => {
    const limit = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`${command} ${args.join(" ")} on ${host.namespace} ran over ${timeoutMs} ms\n${stderr}`),
      );
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Target {
  url: string;
  child: ChildProcess;
  logPath: string;
  stop(): Promise<void>;
}

/** The target process on `host`, listening on the host's address; resolves once it listens. */
function startTarget(lab: NetnsLab, host: TestHost, logPath: string): Promise<Target> {
  const { file, args } = lab.command(host, process.execPath, [TARGET_SCRIPT, host.address, logPath]);
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killLater = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killLater);
  };
  return new Promise((resolve, reject) => {
    let seen = "";
    const limit = setTimeout(() => {
      void stop();
      reject(new Error(`target on ${host.namespace} did not listen: ${seen}`));
    }, 15_000);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(seen)?.[1];
      if (!url) return;
      clearTimeout(limit);
      child.stdout?.off("data", onData);
      resolve({ url, child, logPath, stop });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => (seen += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(limit);
      reject(new Error(`target on ${host.namespace} exited (${code}): ${seen}`));
    });
  });
}

interface Access {
  arrivedMs: number;
  from: string;
  body: string;
}

const accessLog = (path: string): Access[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [arrivedMs, from, body] = line.split("\t");
      return {
        arrivedMs: Number(arrivedMs),
        from: from as string,
        body: JSON.parse(body as string) as string,
      };
    });

describe("shards on separate test hosts (network namespaces) against one target", () => {
  let lab: NetnsLab;
  let dir: string;
  let shardedTarget: Target;
  let singleTarget: Target;
  let shardRuns: Exited[];
  let singleRun: Exited;
  let mergeRun: Exited;
  const shardFiles = Array.from({ length: SHARDS }, (_, k) => `shard-${k}.json`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "load-test-netns-"));
    // Host 0 runs the targets; hosts 1 and 2 run one shard each.
    lab = await createNetnsLab(1 + SHARDS);
    const [targetHost, ...shardHosts] = lab.hosts as [TestHost, ...TestHost[]];
    shardedTarget = await startTarget(lab, targetHost, join(dir, "sharded-access.log"));
    singleTarget = await startTarget(lab, targetHost, join(dir, "single-access.log"));
    const runArgs = (target: string, out: string): string[] => [
      BIN_PATH,
      ...["--target", target, "--rps", String(RATE), "--duration", `${DURATION_S}s`],
      ...["--threads", "1", "--quiet", "--out", out],
    ];
    const startAt = new Date(Date.now() + 5000).toISOString();
    shardRuns = await Promise.all(
      shardHosts.map((host, k) =>
        runOn(lab, host, process.execPath, [
          ...runArgs(shardedTarget.url, join(dir, shardFiles[k] as string)),
          ...["--shard", `${k}/${SHARDS}`, "--start-at", startAt, "--run-id", "netns-test"],
        ]),
      ),
    );
    singleRun = await runOn(
      lab,
      shardHosts[0] as TestHost,
      process.execPath,
      runArgs(singleTarget.url, join(dir, "single.json")),
    );
    await Promise.all([shardedTarget.stop(), singleTarget.stop()]);
    mergeRun = await runCli(
      ["merge", ...shardFiles.map((file) => join(dir, file)), "--out", join(dir, "merged.json")],
      { entry: BIN_PATH },
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all([shardedTarget?.stop(), singleTarget?.stop()]);
    await lab?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("each shard ran on its own host and sent its half; the target logged exactly the unsharded plan", () => {
    for (const run of [...shardRuns, singleRun]) expect([0, 3], run.stderr).toContain(run.code);
    const shards = shardFiles.map((file) => read(join(dir, file)));
    expect(shards.map((shard) => shard.requests.sent)).toEqual(Array(SHARDS).fill(PLANNED / SHARDS));
    for (const shard of shards) expect(shard.startedAt).toBe(shard.startAt?.at);
    const log = accessLog(shardedTarget.logPath);
    expect(log).toHaveLength(PLANNED);
    // Requests came over the bridge from each shard's own address, half from each.
    const byHost = new Map<string, number>();
    for (const access of log) byHost.set(access.from, (byHost.get(access.from) ?? 0) + 1);
    expect(Object.fromEntries(byHost)).toEqual(
      Object.fromEntries(lab.hosts.slice(1).map((host) => [host.address, PLANNED / SHARDS])),
    );
    // The mix picks by the global index: the union of the shards sends the unsharded run's requests.
    const bodies = (path: string): string[] =>
      accessLog(path)
        .map((access) => access.body)
        .sort();
    expect(accessLog(singleTarget.logPath)).toHaveLength(PLANNED);
    expect(bodies(shardedTarget.logPath)).toEqual(bodies(singleTarget.logPath));
  });

  it("the target sees the two hosts' arrivals as one evenly spaced schedule, as from one process", () => {
    const arrivedMs = (path: string): number[] => accessLog(path).map((access) => access.arrivedMs);
    const sharded = spreadMs(arrivedMs(shardedTarget.logPath), RATE);
    const single = spreadMs(arrivedMs(singleTarget.logPath), RATE);
    // Two shards out of step would arrive in pairs (gaps near 0 and near 2 × 10 ms).
    expect(sharded.medianGapMs).toBeGreaterThan(7);
    expect(sharded.medianGapMs).toBeLessThan(13);
    expect(sharded.meanDeviationMs).toBeLessThan(Math.max(2 * single.meanDeviationMs, 3));
  });

  it("merges exactly: the counts are the plan's and the percentiles those of the union of the shards' histograms", () => {
    expect([0, 3], mergeRun.stderr).toContain(mergeRun.code);
    const merged = read(join(dir, "merged.json"));
    expect(mergeRun.code).toBe(merged.verdict.level === "critical" ? 3 : 0);
    expect(merged.merged).toEqual({ shards: [0, 1], count: SHARDS, partial: false });
    expect(merged.requests.sent).toBe(PLANNED);
    expect(merged.requests.total).toBe(PLANNED);
    expect(merged.timeline.reduce((sum, second) => sum + second.completed, 0)).toBe(PLANNED);
    const files = shardFiles.map((file) => join(dir, file));
    const union = (field: "latency" | "serviceTime" | "queueTime" | "connect") => {
      const total = createLatencyHistogram();
      for (const file of files) {
        const histogram = decodeResultHistograms(read(file), file)[field];
        if (histogram) total.add(histogram);
      }
      return summarizeMs(total);
    };
    expect(merged.latencyMs).toEqual(union("latency"));
    expect(merged.serviceTimeMs).toEqual(union("serviceTime"));
    expect(merged.queueTimeMs).toEqual(union("queueTime"));
    expect(merged.transport.connections.connectMs).toEqual(union("connect"));
  });

  it("cleans up: no namespace of the lab is left", async () => {
    expect((await lab.existing()).length).toBe(1 + 1 + SHARDS);
    await lab.cleanup();
    expect(await lab.existing()).toEqual([]);
  });
});
