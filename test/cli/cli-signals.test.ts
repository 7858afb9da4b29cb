/**
 * The tool always ends, says why, and keeps its results (README "Ctrl-C", "Exit codes"): absurd
 * rates, signals at every moment of a run, and a launcher killed by SIGKILL, on the real binary.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterEach, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { afterStderr, BIN_PATH, runCli } from "../helpers/cli.js";
import { allowEverything, delayed, startLocalServer, type LocalServer } from "../helpers/servers.js";

const servers: LocalServer[] = [];
/** Processes a test may leave behind when it fails: ended by PID after each test. */
const leftovers: number[] = [];
afterEach(async () => {
  for (const pid of leftovers.splice(0)) if (isRunning(pid)) process.kill(pid, "SIGKILL");
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(respond = allowEverything): Promise<LocalServer> {
  const started = await startLocalServer(respond);
  servers.push(started);
  return started;
}

async function outFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "load-test-signals-")), "results.json");
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The results file, checked against docs/results.schema.json: written in haste, still the contract. */
async function readResult(path: string): Promise<RunResult> {
  const schema = JSON.parse(
    await readFile(new URL("../../docs/results.schema.json", import.meta.url), "utf8"),
  ) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const result = JSON.parse(await readFile(path, "utf8")) as RunResult;
  expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
  return result;
}

/** State and parent of a process (Linux /proc), undefined once it is gone. */
function procStat(pid: number): { state: string; parent: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the parenthesised command name (which may hold spaces): state, parent, ...
    const [state, parent] = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: state as string, parent: Number(parent) };
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a reparented child may wait for a reaper that never comes). */
function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((child) => procStat(child)?.parent === pid);
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

describe("absurd rates", () => {
  it("--rps 1000000000000 (1e12) is invalid input (exit 2, one line naming --rps and --threads), not a spinning core", async () => {
    const target = await server();
    const cli = await runCli(["--target", target.url, "--rps", "1000000000000", "--duration", "1s"], {
      entry: BIN_PATH,
      timeoutMs: 15_000,
    });
    expect(cli.code).toBe(2);
    const lines = cli.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^load-test: error: --rps: .*per thread.*--threads.*shards/);
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("a ramp or a ladder step at an absurd rate names --stages or --rates", async () => {
    const cli = await runCli(
      ["--target", "http://127.0.0.1:9", "--stages", "1s:1000000000", "--threads", "1"],
      {
        timeoutMs: 15_000,
      },
    );
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^load-test: error: --stages: 1000000000 req\/s is more than/);
    const ladder = await runCli(
      ["ladder", "--target", "http://127.0.0.1:9", "--rates", "10,1000000000", "--threads", "1"],
      {
        timeoutMs: 15_000,
      },
    );
    expect(ladder.code).toBe(2);
    expect(ladder.stderr).toMatch(/^load-test: error: --rates: 1000000000 req\/s is more than/);
  });

  it("a profile's phase at an absurd rate names its field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-signals-"));
    const path = join(dir, "absurd.yaml");
    await writeFile(
      path,
      ["target: http://127.0.0.1:9", "phases:", "  - { name: a, rps: 10, duration: 1s }",
        "  - { name: b, rps: 1e12, duration: 1s }"].join("\n"), // prettier-ignore
    );
    const cli = await runCli(["run", path, "--threads", "1"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^load-test: error: phases\[1\]\.rps: 1000000000000 req\/s is more than/);
  });

  it("SIGTERM during a run at a high rate with many slots is acted on at once", async () => {
    const target = await server();
    const out = await outFile();
    let signalledAtMs = 0;
    let handledAfterMs = Infinity;
    const cli = await runCli(
      ["--target", target.url, "--rps", "20000", "--workers", "5000", "--threads", "1", "--duration", "30s",
        "--out", out], // prettier-ignore
      {
        entry: BIN_PATH,
        timeoutMs: 30_000,
        onSpawn: (launcher) => {
          afterStderr(launcher, "req/s for", () =>
            setTimeout(() => {
              signalledAtMs = Date.now();
              launcher.kill("SIGTERM");
            }, 1500),
          );
          afterStderr(
            launcher,
            "load-test: interrupted",
            () => (handledAfterMs = Date.now() - signalledAtMs),
          );
        },
      },
    );
    expect(cli.code).toBe(130);
    // Within a second on an idle machine; generous for a busy 2-core one.
    expect(handledAfterMs).toBeLessThan(2000);
    const result = await readResult(out);
    expect(result.interrupted).toBe(true);
    expect(result.requests.sent).toBeGreaterThan(0);
  });
});

describe("Ctrl-C", () => {
  it("a second Ctrl-C quits at once and still prints and writes what was measured", async () => {
    // Answers after 10 s: the first Ctrl-C then waits its 2 s grace for the requests in flight.
    const target = await server(delayed((index) => (index < 20 ? 0 : 10_000)));
    const out = await outFile();
    const cli = await runCli(
      ["--target", target.url, "--rps", "50", "--duration", "30s", "--timeout", "20s", "--out", out],
      {
        entry: BIN_PATH,
        timeoutMs: 30_000,
        onSpawn: (launcher) => {
          afterStderr(launcher, "req/s for", () => setTimeout(() => launcher.kill("SIGINT"), 1000));
          afterStderr(launcher, "Ctrl-C again", () => launcher.kill("SIGINT"));
        },
      },
    );
    expect(cli.code).toBe(130);
    expect(cli.stderr).toContain("interrupted again: writing the results measured so far");
    expect(cli.stdout).toContain("Results Interpretation");
    expect(cli.stdout).toContain("INTERRUPTED");
    const result = await readResult(out);
    expect(result.interrupted).toBe(true);
    expect(result.requests.total).toBeGreaterThanOrEqual(20);
    // The requests still in flight were abandoned: dropped, as at the end of any interrupted run.
    expect(result.requests.dropped).toBe(result.requests.sent - result.requests.total);
    expect(result.requests.dropped).toBeGreaterThan(0);
  });

  it("a second Ctrl-C during a ladder writes the steps done and the running one", async () => {
    // The first step is answered at once; the second step's requests hang for 10 s.
    const target = await server(delayed((index) => (index < 20 ? 0 : 10_000)));
    const dir = await mkdtemp(join(tmpdir(), "load-test-signals-"));
    const out = join(dir, "ladder.json");
    const cli = await runCli(
      ["ladder", "--target", target.url, "--rates", "20,40", "--step", "1s", "--pause", "0s",
        "--timeout", "20s", "--out", out, "--markdown", join(dir, "table.md")], // prettier-ignore
      {
        entry: BIN_PATH,
        timeoutMs: 30_000,
        onSpawn: (launcher) => {
          afterStderr(launcher, "step 2/2", () => setTimeout(() => launcher.kill("SIGINT"), 500));
          afterStderr(launcher, "Ctrl-C again", () => launcher.kill("SIGINT"));
        },
      },
    );
    expect(cli.code).toBe(130);
    expect(cli.stdout).toContain("Baseline Results");
    const ladder = JSON.parse(await readFile(out, "utf8")) as {
      kind: string;
      interrupted: boolean;
      steps: Array<{ ratePerSec: number; result: RunResult }>;
    };
    expect(ladder.kind).toBe("ladder");
    expect(ladder.interrupted).toBe(true);
    expect(ladder.steps.map((step) => step.ratePerSec)).toEqual([20, 40]);
    expect(ladder.steps[0]?.result.requests.total).toBe(20);
    expect(ladder.steps[1]?.result.interrupted).toBe(true);
    expect(ladder.steps[1]?.result.requests.sent).toBeGreaterThan(0);
    expect((await readFile(join(dir, "table.md"), "utf8")).trim().split("\n")).toHaveLength(4);
  });

  it("a second Ctrl-C in a profile's second phase writes the phases document", async () => {
    const target = await server(delayed((index) => (index < 10 ? 0 : 10_000)));
    const dir = await mkdtemp(join(tmpdir(), "load-test-signals-"));
    const out = join(dir, "phases.json");
    const path = join(dir, "phases.yaml");
    await writeFile(
      path,
      [`target: ${target.url}`, "timeout: 20s", "phases:", "  - { name: first, rps: 10, duration: 1s }",
        "  - { name: second, rps: 20, duration: 20s }", `outputs: { out: ${JSON.stringify(out)} }`].join("\n"), // prettier-ignore
    );
    const cli = await runCli(["run", path], {
      entry: BIN_PATH,
      timeoutMs: 30_000,
      onSpawn: (launcher) => {
        afterStderr(launcher, 'phase 2/2 "second"', () => setTimeout(() => launcher.kill("SIGINT"), 500));
        afterStderr(launcher, "Ctrl-C again", () => launcher.kill("SIGINT"));
      },
    });
    expect(cli.code).toBe(130);
    const document = JSON.parse(await readFile(out, "utf8")) as {
      kind: string;
      interrupted: boolean;
      phases: Array<{ name: string; result: RunResult }>;
    };
    expect(document.kind).toBe("phases");
    expect(document.interrupted).toBe(true);
    expect(document.phases.map((phase) => phase.name)).toEqual(["first", "second"]);
    expect(document.phases[0]?.result.requests.total).toBe(10);
    expect(document.phases[1]?.result.interrupted).toBe(true);
    expect(document.phases[1]?.result.requests.sent).toBeGreaterThan(0);
  });

  it("Ctrl-C in the pause between two phases stops the profile there, and writes it", async () => {
    const target = await server();
    const dir = await mkdtemp(join(tmpdir(), "load-test-signals-"));
    const out = join(dir, "phases.json");
    const path = join(dir, "pause.yaml");
    await writeFile(
      path,
      [`target: ${target.url}`, "phases:", "  - { name: first, rps: 10, duration: 1s, pauseAfter: 3s }",
        "  - { name: second, rps: 20, duration: 10s }", `outputs: { out: ${JSON.stringify(out)} }`].join("\n"), // prettier-ignore
    );
    let signalledAtMs = 0;
    const cli = await runCli(["run", path], {
      entry: BIN_PATH,
      timeoutMs: 30_000,
      onSpawn: (launcher) =>
        afterStderr(launcher, 'pause 3s after "first"', () =>
          setTimeout(() => {
            signalledAtMs = performance.now();
            launcher.kill("SIGINT");
          }, 500),
        ),
    });
    expect(cli.code).toBe(130);
    const document = JSON.parse(await readFile(out, "utf8")) as {
      interrupted: boolean;
      phases: Array<{ name: string; result: RunResult }>;
    };
    expect(document.interrupted).toBe(true);
    expect(document.phases[0]?.result.requests.total).toBe(10);
    expect(document.phases.map((phase) => phase.name)).toEqual(["first", "second"]);
    expect(document.phases[1]?.result.interrupted).toBe(true);
    expect(document.phases[1]?.result.requests.sent).toBe(0);
    expect(target.arrivalsMs.filter((atMs) => atMs > signalledAtMs)).toEqual([]);
  });

  it("Ctrl-C during the warm-up ends the run as interrupted, with no measured request", async () => {
    const target = await server();
    const out = await outFile();
    let signalledAtMs = 0;
    const cli = await runCli(
      ["--target", target.url, "--rps", "100", "--duration", "10s", "--warmup", "5s", "--out", out],
      {
        entry: BIN_PATH,
        timeoutMs: 30_000,
        onSpawn: (launcher) =>
          afterStderr(launcher, "req/s for", () =>
            setTimeout(() => {
              signalledAtMs = performance.now();
              launcher.kill("SIGINT");
            }, 1000),
          ),
      },
    );
    expect(cli.code).toBe(130);
    const result = await readResult(out);
    expect(result.interrupted).toBe(true);
    expect(result.requests.sent).toBe(0);
    expect(result.requests.total).toBe(0);
    expect(result.requests.dropped).toBe(0);
    // Nothing reached the target after the interrupt (give it 100 ms for requests on the wire).
    expect(target.arrivalsMs.filter((atMs) => atMs > signalledAtMs + 100)).toEqual([]);
  });
});

describe("killing the command (SIGKILL) ends what it started", () => {
  /** Starts the executable, then kills it with SIGKILL `afterMs` after it printed `text`. */
  function killLauncher(args: string[], text: string, afterMs: number) {
    let cliPid = 0;
    const done = runCli(args, {
      entry: BIN_PATH,
      timeoutMs: 30_000,
      onSpawn: (launcher: ChildProcess) => {
        let seen = "";
        const onData = (chunk: Buffer): void => {
          seen += chunk.toString();
          if (!seen.includes(text) || cliPid !== 0) return;
          cliPid = childrenOf(launcher.pid as number)[0] ?? -1;
          leftovers.push(cliPid);
          setTimeout(() => launcher.kill("SIGKILL"), afterMs);
        };
        launcher.stdout?.on("data", onData);
        launcher.stderr?.on("data", onData);
      },
    });
    return { done, cliPid: () => cliPid };
  }

  it("the load stops and the results are written when load-test itself is killed", async () => {
    const target = await server();
    const out = await outFile();
    const { done, cliPid } = killLauncher(
      ["--target", target.url, "--rps", "200", "--duration", "30s", "--out", out],
      "req/s for",
      1500,
    );
    const killed = await done;
    expect(killed.signal).toBe("SIGKILL");
    expect(cliPid()).toBeGreaterThan(0);
    // The CLI under it (a node of its own) ends within seconds, not at the end of its 30 s.
    expect(await waitUntil(() => !isRunning(cliPid()), 5000)).toBe(true);
    const arrivals = target.arrivalsMs.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(target.arrivalsMs.length).toBe(arrivals);
    expect(await waitUntil(() => existsSync(out), 2000)).toBe(true);
    const result = await readResult(out);
    expect(result.interrupted).toBe(true);
    expect(result.requests.total).toBeGreaterThan(100);
    expect(result.requests.total).toBeLessThan(2000);
  });

  it("load-test serve ends when the executable is killed", async () => {
    const { done, cliPid } = killLauncher(["serve", "--port", "0"], "listening on", 500);
    await done;
    expect(cliPid()).toBeGreaterThan(0);
    expect(await waitUntil(() => !isRunning(cliPid()), 5000)).toBe(true);
  });

  it("the demo's gateway ends when the demo is killed", async () => {
    let gatewayPid = 0;
    const demo = await runCli(["demo", "--rates", "10", "--step", "20s", "--warmup", "0s", "--quiet"], {
      timeoutMs: 30_000,
      onSpawn: (child) => {
        let seen = "";
        child.stderr?.on("data", (chunk: Buffer) => {
          seen += chunk.toString();
          const match = /reference gateway \(pid (\d+)\)/.exec(seen);
          if (match && gatewayPid === 0) {
            gatewayPid = Number(match[1]);
            leftovers.push(gatewayPid);
            setTimeout(() => child.kill("SIGKILL"), 1000);
          }
        });
      },
    });
    expect(demo.signal).toBe("SIGKILL");
    expect(gatewayPid).toBeGreaterThan(0);
    expect(await waitUntil(() => !isRunning(gatewayPid), 5000)).toBe(true);
  });
});
