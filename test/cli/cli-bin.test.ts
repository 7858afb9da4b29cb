import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { afterStderr, BIN_PATH, runCli } from "../helpers/cli.js";
import { allowEverything, startLocalServer, type LocalServer } from "../helpers/servers.js";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Command lines of the processes whose parent is `pid` (Linux /proc). */
async function childCommandLines(pid: number): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // Field 4, after the parenthesised command name (which may hold spaces).
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === pid)
        lines.push((await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").join(" "));
    } catch {
      // The process ended while we looked.
    }
  }
  return lines;
}

async function runThroughBin(env: NodeJS.ProcessEnv = {}) {
  const server = await startLocalServer(allowEverything);
  servers.push(server);
  const out = join(await mkdtemp(join(tmpdir(), "load-test-bin-")), "results.json");
  let children: string[] = [];
  const cli = await runCli(["--target", server.url, "--rps", "100", "--duration", "3s", "--out", out], {
    entry: BIN_PATH,
    env,
    onSpawn: (launcher) =>
      afterStderr(launcher, "req/s for", () => {
        void childCommandLines(launcher.pid as number).then((lines) => (children = lines));
      }),
  });
  return { cli, children, result: JSON.parse(await readFile(out, "utf8")) as RunResult };
}

describe("the load-test executable (dist/cli/bin.js)", () => {
  it("runs the load test in a node started with --no-memory-reducer, and passes its exit code on", async () => {
    const { cli, children, result } = await runThroughBin();
    expect([0, 3]).toContain(cli.code);
    expect(result.requests.total).toBe(300);
    expect(children).toHaveLength(1);
    expect(children[0]).toContain("--no-memory-reducer");
    expect(children[0]).toContain("bin.js --target");
    const invalid = await runCli(["--rps", "0", "--target", "http://127.0.0.1:9", "--duration", "1s"], {
      entry: BIN_PATH,
    });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr.split("\n")[0]).toContain("--rps");
  });

  it("LOAD_TEST_NO_RESPAWN=1 runs it in the same process", async () => {
    const { cli, children, result } = await runThroughBin({ LOAD_TEST_NO_RESPAWN: "1" });
    expect([0, 3]).toContain(cli.code);
    expect(result.requests.total).toBe(300);
    expect(children).toEqual([]);
  });

  it("passes one Ctrl-C on: the run stops, writes its results and exits 130", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const out = join(await mkdtemp(join(tmpdir(), "load-test-bin-")), "results.json");
    const cli = await runCli(["--target", server.url, "--rps", "100", "--duration", "20s", "--out", out], {
      entry: BIN_PATH,
      onSpawn: (launcher) =>
        afterStderr(launcher, "req/s for", () => setTimeout(() => launcher.kill("SIGINT"), 1500)),
    });
    expect(cli.code).toBe(130);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.interrupted).toBe(true);
    expect(result.requests.total).toBeGreaterThan(50);
    expect(result.requests.total).toBeLessThan(2000);
    expect(cli.stdout).toContain("Results Interpretation");
  });

  it("a run over 90 s warns when node has the memory reducer on (main.js), not through the executable", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const args = ["--target", server.url, "--rps", "20", "--duration", "2m", "--category", "normal"];
    const interruptSoon = (child: ChildProcess): void =>
      afterStderr(child, "req/s for", () => setTimeout(() => child.kill("SIGINT"), 300));
    const direct = await runCli(args, { onSpawn: interruptSoon });
    expect(direct.code).toBe(130);
    expect(direct.stderr).toMatch(/warning: node runs with V8's memory reducer.*--no-memory-reducer/);
    const viaBin = await runCli(args, { entry: BIN_PATH, onSpawn: interruptSoon });
    expect(viaBin.code).toBe(130);
    expect(viaBin.stderr).not.toContain("memory reducer");
    // Short runs never meet the reducer's GC: no warning.
    const short = await runCli(["--target", server.url, "--rps", "20", "--duration", "1s", "--quiet"]);
    expect(short.stderr).not.toContain("memory reducer");
  });
});
