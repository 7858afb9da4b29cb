import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeResultHistograms } from "../../src/metrics/result-histograms.js";
import type { RunResult } from "../../src/metrics/result.js";
import { BIN_PATH, runCli } from "../helpers/cli.js";
import { allowEverything, startLocalServer, type LocalServer } from "../helpers/servers.js";

describe("--shard with --threads: thread t of shard K sends stripe K + N·t of N·T", () => {
  const dir = mkdtempSync(join(tmpdir(), "load-test-shard-threads-"));
  const servers: LocalServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("two shards of two threads each send the unsharded plan's requests, each once", async () => {
    const sharded = await startLocalServer(allowEverything);
    const single = await startLocalServer(allowEverything);
    servers.push(sharded, single);
    const args = (target: string): string[] => [
      ...["--target", target, "--rps", "51", "--duration", "2s", "--quiet"],
    ];
    const startAt = new Date(Date.now() + 4000).toISOString();
    const runs = await Promise.all(
      [0, 1].map((k) =>
        runCli(
          [
            ...args(sharded.url),
            ...["--threads", "2", "--shard", `${k}/2`, "--start-at", startAt],
            ...["--out", join(dir, `s${k}.json`)],
          ],
          { entry: BIN_PATH, timeoutMs: 40_000 },
        ),
      ),
    );
    for (const run of runs) expect([0, 3], run.stderr).toContain(run.code);
    const singleRun = await runCli([...args(single.url), "--threads", "1"], {
      entry: BIN_PATH,
      timeoutMs: 40_000,
    });
    expect([0, 3], singleRun.stderr).toContain(singleRun.code);
    const shards = [0, 1].map((k) => JSON.parse(readFileSync(join(dir, `s${k}.json`), "utf8")) as RunResult);
    // 51 req/s for 2 s is 102 requests: 51 per shard, split 26 + 25 over each shard's threads.
    expect(shards.map((shard) => [shard.requests.sent, shard.generator.threads])).toEqual([
      [51, 2],
      [51, 2],
    ]);
    const bodies = (server: LocalServer): string[] =>
      server.bodies.map((body) => JSON.stringify(body)).sort();
    expect(sharded.bodies).toHaveLength(102);
    expect(bodies(sharded)).toEqual(bodies(single));
    // Each shard's file holds the queue and connect time histograms of both its threads, merged.
    for (const shard of shards) {
      const decoded = decodeResultHistograms(shard, "shard");
      expect(decoded.queueTime?.totalCount).toBe(shard.requests.total);
      expect(shard.transport.connections.opened).toBeGreaterThanOrEqual(2);
      expect(decoded.connect?.totalCount).toBe(shard.transport.connections.opened);
    }
  });
});
