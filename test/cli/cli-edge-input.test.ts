import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { runCli } from "../helpers/cli.js";
import { allowEverything, closedPort, startLocalServer, type LocalServer } from "../helpers/servers.js";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(): Promise<LocalServer> {
  const started = await startLocalServer(allowEverything);
  servers.push(started);
  return started;
}

async function tempFile(name: string, text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "load-test-edge-")), name);
  await writeFile(path, text);
  return path;
}

/** Exit 2, one line naming `flag`, nothing on stdout, no request at the target. */
function expectRefused(cli: { code: number | null; stdout: string; stderr: string }, flag: string): void {
  expect(cli.code).toBe(2);
  expect(cli.stdout).toBe("");
  expect(cli.stderr.trim().split("\n")).toHaveLength(1);
  expect(cli.stderr).toContain(flag);
  expect(cli.stderr).not.toMatch(/\n\s+at /);
}

describe("input refused before anything is sent", () => {
  it.each([
    ["CR/LF in a --header value", ["--header", "X-Trace: a\r\nInjected: 1"], "--header"],
    ["LF in a --header value", ["--header", "X-Trace: a\nb"], "--header"],
    ["a control character in a --header value", ["--header", "X-Trace: a\u0007b"], "--header"],
    ["LF in --api-key", ["--api-key", "key\nX-Injected: 1"], "--api-key"],
    ["--rps 0x10", ["--rps", "0x10"], "--rps"],
    ["--rps 1e3", ["--rps", "1e3"], "--rps"],
    ["--rps Infinity", ["--rps", "Infinity"], "--rps"],
    ["--workers 0x10", ["--workers", "0x10"], "--workers"],
    ["--threads 0b1", ["--threads", "0b1"], "--threads"],
    ["--connections 1e1", ["--connections", "1e1"], "--connections"],
    ["--coldstart-window 0x1", ["--coldstart-window", "0x1"], "--coldstart-window"],
    ["--max-requests-per-connection 0x10", ["--max-requests-per-connection", "0x10"], "--max-requests"],
    ["--duration beyond 2^31 ms", ["--duration", "600h"], "--duration"],
    ["--timeout beyond 2^31 ms", ["--timeout", "1000h"], "--timeout"],
    ["--warmup beyond 2^31 ms", ["--warmup", "2147484s"], "--warmup"],
  ])("%s", async (_name, extra, flag) => {
    const target = await server();
    const args = ["--target", target.url, "--rps", "5", "--duration", "1s", "--quiet"];
    // The later --rps/--duration win (commander keeps the last value).
    const cli = await runCli([...args, ...extra], { timeoutMs: 15_000 });
    expectRefused(cli, flag);
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it.each([
    ["stages beyond 2^31 ms in total", ["--stages", "300h:1,300h:1"], "--stages"],
    ["a stage target in hex", ["--stages", "1s:0x10"], "--stages"],
    ["--start-rps in hex", ["--stages", "1s:5", "--start-rps", "0x1"], "--start-rps"],
  ])("%s", async (_name, extra, flag) => {
    const target = await server();
    const cli = await runCli(["--target", target.url, "--quiet", ...extra], { timeoutMs: 15_000 });
    expectRefused(cli, flag);
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("ladder: --rates in hex and a --pause beyond 2^31 ms", async () => {
    const target = await server();
    const hex = await runCli(["ladder", "--target", target.url, "--rates", "0x5", "--step", "1s"], {
      timeoutMs: 15_000,
    });
    expectRefused(hex, "--rates");
    const pause = await runCli(
      ["ladder", "--target", target.url, "--rates", "5", "--step", "1s", "--pause", "1000h"],
      { timeoutMs: 15_000 },
    );
    expectRefused(pause, "--pause");
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it.each([
    ["a literal header with CR/LF", 'headers: { X-Trace: "a\\r\\nInjected: 1" }', "headers.X-Trace"],
    [
      "a header from the environment with LF",
      "headers: { X-Trace: { env: EDGE_HEADER } }",
      "headers.X-Trace",
    ],
    ["a bearer token with LF", "auth: { bearerEnv: EDGE_HEADER }", "auth.bearerEnv"],
    ["a duration beyond 2^31 ms", "timeout: 1000h", "timeout"],
  ])("profile: %s", async (_name, line, field) => {
    const target = await server();
    const profile = await tempFile(
      "p.yaml",
      [`target: ${target.url}`, "rps: 5", "duration: 1s", line].join("\n"),
    );
    const cli = await runCli(["run", profile, "--quiet"], {
      timeoutMs: 15_000,
      env: { EDGE_HEADER: "secret-value\nInjected: 1" },
    });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(field);
    expect(cli.stderr).not.toContain("secret-value");
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("profile: a custom case's header with CR/LF", async () => {
    const target = await server();
    const profile = await tempFile(
      "p.yaml",
      [
        `target: ${target.url}`,
        "rps: 5",
        "duration: 1s",
        "cases:",
        '  - { name: a, category: api, method: GET, path: /, headers: { X-Trace: "a\\nb" }, expect: { status: 200 } }',
      ].join("\n"),
    );
    const cli = await runCli(["run", profile, "--quiet"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/cases.*X-Trace/);
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("profile: a YAML alias bomb is exit 2 with one line, not an internal error", async () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (const [index, name] of ["b", "c", "d", "e", "f", "g"].entries()) {
      const previous = index === 0 ? "a" : (["b", "c", "d", "e", "f"][index - 1] as string);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(", ")}]`);
    }
    const profile = await tempFile(
      "bomb.yaml",
      [...levels, "target: http://127.0.0.1:9", "rps: 5", "duration: 1s"].join("\n"),
    );
    const cli = await runCli(["run", profile], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split("\n")).toHaveLength(1);
    expect(cli.stderr).toMatch(/bomb\.yaml: .*YAML aliases/);
    expect(cli.stderr).not.toContain("internal error");
  });
});

describe("durations and rates as reported", () => {
  it("--rps 0.5 --duration 3s lasts 3 s, and its duration and rate agree", async () => {
    const target = await server();
    const out = join(await mkdtemp(join(tmpdir(), "load-test-edge-")), "r.json");
    const cli = await runCli(
      ["--target", target.url, "--rps", "0.5", "--duration", "3s", "--quiet", "--out", out],
      { timeoutMs: 20_000 },
    );
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.requests.total).toBe(2); // sent at 0 s and 2 s
    expect(result.durationSec).toBeGreaterThanOrEqual(3);
    expect(result.durationSec).toBeLessThan(4.5);
    expect(result.rate.achievedPerSec).toBeCloseTo(result.requests.total / result.durationSec, 2);
    expect(cli.stdout).toContain("0.5 req/s for 3s");
  });

  it("the summary header shows the duration and a rate below 1 req/s as they were", async () => {
    const target = await server();
    const whole = await runCli(["--target", target.url, "--rps", "10", "--duration", "1s", "--quiet"], {
      timeoutMs: 15_000,
    });
    expect(whole.stdout).toContain("10 req/s for 1s");
    const slow = await runCli(["--target", target.url, "--rps", "0.0001", "--duration", "1s", "--quiet"], {
      timeoutMs: 15_000,
    });
    expect(slow.stdout).toContain("0.0001 req/s for 1s");
    expect(slow.stdout).toContain("of 0.0001 asked");
    expect(slow.stdout).not.toContain("0 req/s for 0s");
  });
});

describe("ladder against a dead port", () => {
  it("says unreachable, measures no saturation, stops after the first step and exits 3", async () => {
    const port = await closedPort();
    const out = join(await mkdtemp(join(tmpdir(), "load-test-edge-")), "ladder.json");
    const cli = await runCli(
      [
        "ladder",
        "--target",
        `http://127.0.0.1:${port}`,
        "--rates",
        "5,10",
        "--step",
        "1s",
        "--pause",
        "0s",
        "--quiet",
        "--out",
        out,
      ],
      { timeoutMs: 20_000 },
    );
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(`--target http://127.0.0.1:${port}: unreachable`);
    expect(cli.stdout).toMatch(
      /step 1\/2: 5 req\/s -> unreachable \(5 of 5 requests failed: connect_refused\)/,
    );
    expect(cli.stdout).not.toContain("step 2/2");
    expect(cli.stdout).toContain("Saturation: not measured (the target was unreachable)");
    expect(cli.stdout).toMatch(/\| 5 \| n\/a \| n\/a \| n\/a \|.*\| Unreachable \|/);
    const ladder = JSON.parse(await readFile(out, "utf8")) as {
      saturatedAtPerSec: number | null;
      unreachable: { ratePerSec: number; reason: string } | null;
      steps: unknown[];
    };
    expect(ladder.saturatedAtPerSec).toBeNull();
    expect(ladder.unreachable?.ratePerSec).toBe(5);
    expect(ladder.steps).toHaveLength(1);
  });
});
