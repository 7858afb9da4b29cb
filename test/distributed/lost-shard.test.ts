import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { BIN_PATH, runCli, type CliResult } from "../helpers/cli.js";
import { allowEverything, startLocalServer, type LocalServer } from "../helpers/servers.js";

const RATE = 50;
const DURATION_S = 4;
const PLANNED = RATE * DURATION_S;

const read = (path: string): RunResult => JSON.parse(readFileSync(path, "utf8")) as RunResult;

/**
 * Two sharded runs of two shards each on loopback; in each, shard 1 is stopped 1.5 s into the
 * schedule: by SIGKILL (a pod killed, nothing written) or by SIGTERM (it writes what it measured).
 */
describe("a shard lost or stopped mid-run (docs/DISTRIBUTED.md, Failure behaviour)", () => {
  let dir: string;
  const servers: LocalServer[] = [];
  const runs: Record<"killed" | "stopped", CliResult[]> = { killed: [], stopped: [] };
  const file = (run: string, k: number): string => join(dir, `${run}-${k}.json`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "load-test-lost-shard-"));
    const startAtMs = Date.now() + 3000;
    const sharded = (run: "killed" | "stopped", signal: NodeJS.Signals) =>
      startLocalServer(allowEverything).then((server) => {
        servers.push(server);
        return Promise.all(
          [0, 1].map((k) =>
            runCli(
              [
                ...["--target", server.url, "--rps", String(RATE), "--duration", `${DURATION_S}s`],
                ...["--threads", "1", "--quiet", "--shard", `${k}/2`, "--run-id", run],
                ...["--start-at", new Date(startAtMs).toISOString(), "--out", file(run, k)],
              ],
              {
                timeoutMs: 40_000,
                // The CLI's own process (no bin.js wrapper): SIGKILL ends it with nothing written.
                onSpawn: (child) => {
                  if (k === 1) setTimeout(() => child.kill(signal), startAtMs + 1500 - Date.now());
                },
              },
            ),
          ),
        );
      });
    [runs.killed, runs.stopped] = await Promise.all([
      sharded("killed", "SIGKILL"),
      sharded("stopped", "SIGTERM"),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a killed shard leaves no file: merge names it missing, --allow-partial merges the rest marked partial", async () => {
    const [survivor, killed] = runs.killed as [CliResult, CliResult];
    expect([0, 3], survivor.stderr).toContain(survivor.code);
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(file("killed", 1))).toBe(false);

    const strict = await runCli(["merge", file("killed", 0)], { entry: BIN_PATH });
    expect(strict.code).toBe(2);
    expect(strict.stderr.trim().split("\n")).toHaveLength(1);
    expect(strict.stderr).toContain("missing shard 1/2");

    const out = join(dir, "killed-merged.json");
    const partial = await runCli(["merge", file("killed", 0), "--allow-partial", "--out", out], {
      entry: BIN_PATH,
    });
    expect([0, 3], partial.stderr).toContain(partial.code);
    const merged = read(out);
    expect(merged.merged).toEqual({ shards: [0], count: 2, partial: true });
    expect(merged.requests.sent).toBe(PLANNED / 2);
    // The run asked only the present shard's share of the rate: not silently short.
    expect(merged.rate.targetPerSec).toBe(RATE / 2);
    expect(merged.verdict.warnings).toContain("Partial: 1 of 2 shards merged");
    expect(partial.stdout).toContain("Partial: 1 of 2 shards merged");
  });

  it("a shard stopped by SIGTERM writes what it measured; the merged run is marked interrupted", async () => {
    const [whole, stopped] = runs.stopped as [CliResult, CliResult];
    expect([0, 3], whole.stderr).toContain(whole.code);
    expect(stopped.code, stopped.stderr).toBe(130);
    const shard = read(file("stopped", 1));
    expect(shard.interrupted).toBe(true);
    expect(shard.requests.sent).toBeGreaterThan(0);
    expect(shard.requests.sent).toBeLessThan(PLANNED / 2);

    const out = join(dir, "stopped-merged.json");
    const merge = await runCli(["merge", file("stopped", 0), file("stopped", 1), "--out", out], {
      entry: BIN_PATH,
    });
    expect([0, 3], merge.stderr).toContain(merge.code);
    const merged = read(out);
    expect(merged.merged).toEqual({ shards: [0, 1], count: 2, partial: false });
    expect(merged.interrupted).toBe(true);
    expect(merged.requests.sent).toBe(PLANNED / 2 + shard.requests.sent);
  });
});
