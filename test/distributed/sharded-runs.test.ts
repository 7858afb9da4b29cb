import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLatencyHistogram, summarizeMs } from "../../src/metrics/histogram.js";
import { decodeResultHistograms } from "../../src/metrics/result-histograms.js";
import type { RunResult } from "../../src/metrics/result.js";
import { spreadMs } from "../helpers/arrivals.js";
import { BIN_PATH, runCli, type CliResult } from "../helpers/cli.js";
import { allowEverything, startLocalServer, type LocalServer } from "../helpers/servers.js";

const RATE = 100;
const DURATION_S = 3;
const PLANNED = RATE * DURATION_S;
const SHARDS = 3;

const read = (path: string): RunResult => JSON.parse(readFileSync(path, "utf8")) as RunResult;

describe("sharded runs as processes against one local target", () => {
  let dir: string;
  let shardedTarget: LocalServer;
  let singleTarget: LocalServer;
  let shardRuns: CliResult[];
  let singleRun: CliResult;

  const runArgs = (target: string, out: string): string[] => [
    "--target",
    target,
    "--rps",
    String(RATE),
    "--duration",
    `${DURATION_S}s`,
    "--threads",
    "1",
    "--quiet",
    "--out",
    out,
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "load-test-shards-"));
    shardedTarget = await startLocalServer(allowEverything);
    singleTarget = await startLocalServer(allowEverything);
    // One absolute instant for all (`+5s` would be read by each process against its own clock).
    const startAt = new Date(Date.now() + 5000).toISOString();
    // Shard 2 takes its index from the environment, as a Kubernetes Indexed Job's pod does.
    shardRuns = await Promise.all(
      Array.from({ length: SHARDS }, (_, k) =>
        runCli(
          [
            ...runArgs(shardedTarget.url, join(dir, `shard-${k}.json`)),
            ...(k < 2 ? ["--shard", `${k}/${SHARDS}`] : []),
            "--start-at",
            startAt,
            "--run-id",
            "shard-test",
            "--threshold",
            "latency:p(99)<5000",
          ],
          {
            entry: BIN_PATH,
            timeoutMs: 40_000,
            env: k < 2 ? {} : { JOB_COMPLETION_INDEX: String(k), LOAD_TEST_SHARDS: String(SHARDS) },
          },
        ),
      ),
    );
    singleRun = await runCli(runArgs(singleTarget.url, join(dir, "single.json")), {
      entry: BIN_PATH,
      timeoutMs: 40_000,
    });
  }, 90_000);

  afterAll(async () => {
    await shardedTarget?.close();
    await singleTarget?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends exactly the unsharded plan, each shard its third, with the mix of the unsharded run", () => {
    for (const run of [...shardRuns, singleRun]) expect([0, 3], run.stderr).toContain(run.code);
    const shards = Array.from({ length: SHARDS }, (_, k) => read(join(dir, `shard-${k}.json`)));
    expect(shards.map((shard) => shard.shard)).toEqual(
      Array.from({ length: SHARDS }, (_, index) => ({ index, count: SHARDS })),
    );
    expect(shards.map((shard) => shard.runId)).toEqual(Array(SHARDS).fill("shard-test"));
    expect(shards.map((shard) => shard.requests.sent)).toEqual(Array(SHARDS).fill(PLANNED / SHARDS));
    expect(shardedTarget.arrivalsMs.length).toBe(PLANNED);
    expect(singleTarget.arrivalsMs.length).toBe(PLANNED);
    // The mix picks by the global index: the union of the shards sends the unsharded run's requests.
    const bodies = (server: LocalServer): string[] =>
      server.bodies.map((body) => JSON.stringify(body)).sort();
    expect(bodies(shardedTarget)).toEqual(bodies(singleTarget));
    // One shared start: every shard's schedule began at the --start-at instant, none late.
    expect(new Set(shards.map((shard) => shard.startAt?.at)).size).toBe(1);
    for (const shard of shards) expect(shard.startedAt).toBe(shard.startAt?.at);
  });

  it("the target sees the shards' arrivals as one evenly spaced schedule, as from one process", () => {
    const sharded = spreadMs(shardedTarget.arrivalsMs, RATE);
    const single = spreadMs(singleTarget.arrivalsMs, RATE);
    // Three shards out of step would arrive in bursts (gaps near 0 and near 3 × 10 ms).
    expect(sharded.medianGapMs).toBeGreaterThan(7);
    expect(sharded.medianGapMs).toBeLessThan(13);
    expect(sharded.meanDeviationMs).toBeLessThan(Math.max(2 * single.meanDeviationMs, 3));
  });

  it("merges exactly: the merged percentiles are those of the union of the shards' histograms", async () => {
    const files = Array.from({ length: SHARDS }, (_, k) => join(dir, `shard-${k}.json`));
    const out = join(dir, "merged.json");
    const merge = await runCli(["merge", ...files, "--out", out, "--html", join(dir, "merged.html")], {
      entry: BIN_PATH,
    });
    expect([0, 3], merge.stderr).toContain(merge.code);
    const merged = read(out);
    expect(merge.code).toBe(merged.verdict.level === "critical" ? 3 : 0);
    expect(merge.stdout).toContain("Results Interpretation");
    expect(merged.requests.sent).toBe(PLANNED);
    expect(merged.requests.total).toBe(PLANNED);
    expect(merged.merged).toEqual({ shards: [0, 1, 2], count: SHARDS, partial: false });
    const union = createLatencyHistogram();
    for (const file of files) union.add(decodeResultHistograms(read(file), file).latency);
    expect(merged.latencyMs).toEqual(summarizeMs(union));
    expect(decodeResultHistograms(merged, out).latency.totalCount).toBe(PLANNED);
    // The per-second timeline, aligned by wall-clock second, adds up to the run.
    // The shards' threshold, judged again on the merged histograms.
    const check = merged.verdict.checks.find((item) => item.name === "threshold latency p(99)<5000");
    expect(check?.value).toBe(merged.latencyMs.p99);
    expect(merged.timeline.reduce((sum, second) => sum + second.completed, 0)).toBe(PLANNED);
  });

  it("merging one file gives that file's numbers", async () => {
    const file = join(dir, "single.json");
    const out = join(dir, "single-merged.json");
    const merge = await runCli(["merge", file, "--out", out], { entry: BIN_PATH });
    expect([0, 3]).toContain(merge.code);
    const { latencyMs, requests, verdict } = read(out);
    const original = read(file);
    expect({ latencyMs, requests, level: verdict.level }).toEqual({
      latencyMs: original.latencyMs,
      requests: original.requests,
      level: original.verdict.level,
    });
  });

  it("a missing or duplicate shard is invalid input; --allow-partial merges and marks it partial", async () => {
    const shard = (k: number): string => join(dir, `shard-${k}.json`);
    const missing = await runCli(["merge", shard(0), shard(2)], { entry: BIN_PATH });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("missing shard 1/3");
    const twice = await runCli(["merge", shard(0), shard(1), shard(1)], { entry: BIN_PATH });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("given twice");
    const other = await runCli(["merge", shard(0), join(dir, "single.json")], { entry: BIN_PATH });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("not a shard of the same test");
    const out = join(dir, "partial.json");
    const partial = await runCli(["merge", shard(0), shard(2), "--allow-partial", "--out", out], {
      entry: BIN_PATH,
    });
    expect([0, 3], partial.stderr).toContain(partial.code);
    const merged = read(out);
    expect(merged.merged).toEqual({ shards: [0, 2], count: SHARDS, partial: true });
    expect(merged.requests.sent).toBe((2 * PLANNED) / SHARDS);
    expect(merged.verdict.warnings).toContain("Partial: 2 of 3 shards merged");
  });

  it("--start-at in the past or unparsable is invalid input: exit 2, one line naming the flag", async () => {
    for (const when of ["2020-01-01T00:00:00Z", "soon"]) {
      const run = await runCli(
        ["--target", shardedTarget.url, "--rps", "10", "--duration", "1s", "--start-at", when],
        { entry: BIN_PATH },
      );
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).toMatch(/--start-at/);
    }
  });

  it("a shard that starts after --start-at (a long warm-up) says so in its results and summary", async () => {
    const out = join(dir, "late.json");
    const run = await runCli(
      [
        ...["--target", shardedTarget.url, "--rps", "10", "--duration", "1s", "--threads", "1"],
        ...["--warmup", "1s", "--start-at", "+200ms", "--out", out],
      ],
      { entry: BIN_PATH },
    );
    expect([0, 3], run.stderr).toContain(run.code);
    const result = read(out);
    expect(result.startAt?.lateMs).toBeGreaterThan(300);
    expect(run.stdout).toMatch(/Started \d+ ms after --start-at/);
    expect(result.verdict.warnings.some((warning) => warning.includes("after --start-at"))).toBe(true);
  });
});
