import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeResultHistograms } from "../../src/metrics/result-histograms.js";
import type { RunResult } from "../../src/metrics/result.js";
import { BIN_PATH, CLI_PATH, runCli } from "../helpers/cli.js";
import { find, startPushgateway, type PushgatewayProcess } from "../helpers/pushgateway.js";
import { allowEverything, json, startLocalServer, type LocalServer } from "../helpers/servers.js";

/**
 * `load-test coordinate` with shard processes (`run --coordinator URL`) on loopback: the real
 * binary, a real target, real signals (docs/DISTRIBUTED.md "The coordinator").
 */

const SECRET = "coord-secret-7f3a9c";

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stderr holds `text` (with the text's match). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
}

const spawned: ChildProcess[] = [];

/** A CLI process with a hard time limit (SIGKILL), its output gathered. */
function start(args: string[], { entry = BIN_PATH, limitMs = 60_000 } = {}): Proc {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  spawned.push(child);
  const proc: Proc = {
    child,
    stdout: "",
    stderr: "",
    done: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal }))),
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = pattern.exec(proc.stderr);
          if (match) resolve(match);
          return match !== null;
        };
        if (check()) return;
        const onData = (): void => {
          if (check()) child.stderr?.off("data", onData);
        };
        child.stderr?.on("data", onData);
        void proc.done.then(() => {
          if (!check()) reject(new Error(`ended without ${pattern}: ${proc.stderr}`));
        });
      }),
  };
  child.stdout?.on("data", (chunk: Buffer) => (proc.stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (proc.stderr += chunk.toString()));
  const limit = setTimeout(() => child.kill("SIGKILL"), limitMs);
  void proc.done.then(() => clearTimeout(limit));
  return proc;
}

/** A coordinator on a free loopback port, and its URL once it listens. */
async function coordinator(args: string[], limitMs = 60_000): Promise<{ proc: Proc; url: string }> {
  const proc = start(["coordinate", "--listen", "127.0.0.1:0", ...args], { limitMs });
  const match = await proc.waitFor(/coordinator listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { proc, url: match[1] as string };
}

const shard = (url: string, extra: string[] = [], entry = BIN_PATH): Proc =>
  start(["run", "--coordinator", url, ...extra], { entry });

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(
  JSON.parse(readFileSync(new URL("../../docs/results.schema.json", import.meta.url), "utf8")) as object,
);

/** The coordinator's results file, checked against docs/results.schema.json. */
function read(path: string): RunResult {
  const result = JSON.parse(readFileSync(path, "utf8")) as RunResult;
  expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
  return result;
}

describe("load-test coordinate: a live sharded run", () => {
  let dir: string;
  let target: LocalServer;
  let pushgateway: PushgatewayProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "load-test-coordinate-"));
    target = await startLocalServer(allowEverything);
    pushgateway = await startPushgateway();
  });

  afterAll(async () => {
    for (const child of spawned)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await target.close();
    await pushgateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("merges 3 shards into exactly the unsharded plan's requests, all seen by the target; the key stays secret", async () => {
    const out = join(dir, "three.json");
    const before = target.arrivalsMs.length;
    const { proc, url } = await coordinator([
      "--shards",
      "3",
      "--target",
      target.url,
      "--rps",
      "100",
      "--duration",
      "3s",
      "--category",
      "normal",
      "--api-key",
      SECRET,
      "--run-id",
      "coord-exact",
      "--pushgateway",
      pushgateway.url,
      "--push-interval",
      "0",
      "--out",
      out,
    ]);
    const shards = [shard(url), shard(url), shard(url, ["--shard", "2/3"])];
    const [{ code }, ...shardEnds] = await Promise.all([proc.done, ...shards.map((s) => s.done)]);
    expect(code, proc.stderr).toBe(0);
    shardEnds.forEach((end, k) => expect(end.code, shards[k]?.stderr).toBe(0));
    const result = read(out);
    // 100 req/s for 3 s: the union of the stripes is the plan, each request once.
    expect(result.requests.sent).toBe(300);
    expect(result.requests.total).toBe(300);
    expect(result.requests.success).toBe(300);
    expect(target.arrivalsMs.length - before).toBe(300);
    expect(result.merged).toEqual({ shards: [0, 1, 2], count: 3, partial: false });
    expect(result.runId).toBe("coord-exact");
    expect(result.timeline.reduce((sum, second) => sum + second.completed, 0)).toBe(300);
    // The merged histogram holds every request (bucket-exact sums of the shards' deltas).
    const decoded = decodeResultHistograms(result, out);
    expect(decoded.latency.totalCount).toBe(300);
    expect(decoded.queueTime?.totalCount).toBe(300);
    // One connect time per connection any shard opened (each shard opens its own).
    expect(result.transport.connections.opened).toBeGreaterThanOrEqual(3);
    expect(decoded.connect?.totalCount).toBe(result.transport.connections.opened);
    // The key went to the shards and from them to the target, and nowhere else.
    const seen = target.authorizations.slice(before);
    expect(seen.every((value) => value === `Bearer ${SECRET}`)).toBe(true);
    for (const text of [
      proc.stdout,
      proc.stderr,
      ...shards.flatMap((s) => [s.stdout, s.stderr]),
      readFileSync(out, "utf8"),
    ])
      expect(text).not.toContain(SECRET);
    expect(proc.stderr).toMatch(/shard 2\/3 registered/);
    // One group on the Pushgateway for the whole fleet: the coordinator pushes, the shards do not.
    const pushed = (await pushgateway.scrape()).filter((sample) => sample.labels.run_id === "coord-exact");
    const success = find(pushed, "axonflow_load_test_requests_total", { status: "success" });
    expect(success.map((sample) => sample.value)).toEqual([300]);
    expect(new Set(pushed.map((sample) => sample.labels.instance ?? "")).size).toBe(1);
  }, 60_000);

  it("names a shard killed mid-run with the second it was lost, marks the result partial and exits 3", async () => {
    const out = join(dir, "killed.json");
    const { proc, url } = await coordinator([
      "--shards",
      "3",
      "--target",
      target.url,
      "--rps",
      "60",
      "--duration",
      "6s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    const survivors = [shard(url, ["--shard", "0/3"]), shard(url, ["--shard", "1/3"])];
    // The sending process itself (no bin.js parent in between), killed with no chance to say goodbye.
    const victim = shard(url, ["--shard", "2/3"], CLI_PATH);
    await victim.waitFor(/shard 2\/3 started/);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    victim.child.kill("SIGKILL");
    const [{ code }, ...ends] = await Promise.all([proc.done, ...survivors.map((s) => s.done)]);
    expect(code, proc.stderr).toBe(3);
    ends.forEach((end, k) => expect(end.code, `${proc.stderr}\n${survivors[k]?.stderr ?? ""}`).toBe(0));
    const lostLine = /shard 2\/3 lost at second (\d+) \(connection closed\)/.exec(proc.stderr);
    expect(lostLine, proc.stderr).not.toBeNull();
    const result = read(out);
    expect(result.merged?.partial).toBe(true);
    expect(result.merged?.shards).toEqual([0, 1]);
    const lost = result.merged?.lost?.[0];
    expect(lost?.index).toBe(2);
    expect(lost?.reason).toBe("connection closed");
    // Killed about 2 s into its schedule: second 1 to 3 (start-up and a loaded machine).
    expect(lost?.second).toBeGreaterThanOrEqual(1);
    expect(lost?.second).toBeLessThanOrEqual(4);
    expect(String(lost?.second)).toBe(lostLine?.[1]);
    expect(result.verdict.level).toBe("critical");
    expect(result.verdict.warnings.join("\n")).toMatch(/Partial: shard 2\/3 lost at second \d+/);
    // Short, and never silently: the two survivors' 240 requests plus what shard 2 reported before.
    expect(result.requests.total).toBeGreaterThanOrEqual(240);
    expect(result.requests.total).toBeLessThan(360);
  }, 60_000);

  it("names a shard that stops reporting (SIGSTOP) after --lost-after; continued, it learns it was dropped", async () => {
    const out = join(dir, "silent.json");
    const { proc, url } = await coordinator([
      "--shards",
      "2",
      "--lost-after",
      "3s",
      "--target",
      target.url,
      "--rps",
      "40",
      "--duration",
      "8s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    const survivor = shard(url, ["--shard", "0/2"]);
    const victim = shard(url, ["--shard", "1/2"], CLI_PATH);
    await victim.waitFor(/shard 1\/2 started/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    victim.child.kill("SIGSTOP");
    const [{ code }, survivorEnd] = await Promise.all([proc.done, survivor.done]);
    victim.child.kill("SIGCONT");
    const victimEnd = await victim.done;
    expect(code, proc.stderr).toBe(3);
    expect(survivorEnd.code, `${proc.stderr}\n${survivor.stderr}`).toBe(0);
    // Continued after the run, it finds the coordinator gone (or its stripe dropped) and stops: exit 1.
    expect(victimEnd.code, victim.stderr).toBe(1);
    expect(proc.stderr).toMatch(/shard 1\/2 lost at second \d+ \(no report for \d+(\.\d)?s\)/);
    const result = read(out);
    expect(result.merged?.partial).toBe(true);
    expect(result.merged?.lost?.[0]).toMatchObject({
      index: 1,
      reason: expect.stringMatching(/^no report for/),
    });
  }, 60_000);

  it("a shard stopped by Ctrl-C hands over its last report, is named lost (interrupted) and exits 130", async () => {
    const out = join(dir, "shard-interrupted.json");
    const { proc, url } = await coordinator([
      "--shards",
      "2",
      "--target",
      target.url,
      "--rps",
      "40",
      "--duration",
      "5s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    const survivor = shard(url, ["--shard", "0/2"]);
    const victim = shard(url, ["--shard", "1/2"], CLI_PATH);
    await victim.waitFor(/shard 1\/2 started/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    victim.child.kill("SIGINT");
    const [{ code }, survivorEnd, victimEnd] = await Promise.all([proc.done, survivor.done, victim.done]);
    expect(code, proc.stderr).toBe(3);
    expect(survivorEnd.code, survivor.stderr).toBe(0);
    expect(victimEnd.code, victim.stderr).toBe(130);
    expect(proc.stderr).toMatch(/shard 1\/2 lost at second \d+ \(interrupted\)/);
    const result = read(out);
    expect(result.merged?.lost?.[0]).toMatchObject({ index: 1, reason: "interrupted" });
    // The survivor's stripe (100) and what the interrupted shard sent up to its last report.
    expect(result.requests.total).toBeGreaterThan(100);
    expect(result.requests.total).toBeLessThan(200);
  }, 60_000);

  it("--start-at on the coordinator: every shard starts its schedule at that instant", async () => {
    const out = join(dir, "start-at.json");
    const before = target.arrivalsMs.length;
    const atEpochMs = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    const { proc, url } = await coordinator([
      "--shards",
      "2",
      "--start-at",
      new Date(atEpochMs).toISOString(),
      "--target",
      target.url,
      "--rps",
      "50",
      "--duration",
      "2s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    const shards = [shard(url), shard(url)];
    const [{ code }, ...ends] = await Promise.all([proc.done, ...shards.map((s) => s.done)]);
    expect(code, proc.stderr).toBe(0);
    ends.forEach((end, k) => expect(end.code, shards[k]?.stderr).toBe(0));
    const result = read(out);
    expect(result.startAt).toEqual({ at: new Date(atEpochMs).toISOString(), lateMs: 0 });
    expect(result.startedAt).toBe(new Date(atEpochMs).toISOString());
    expect(result.requests.total).toBe(100);
    // The first request reached the target at the instant, not after another start-up delay.
    const firstEpochMs = performance.timeOrigin + Math.min(...target.arrivalsMs.slice(before));
    expect(firstEpochMs).toBeGreaterThanOrEqual(atEpochMs - 5);
    expect(firstEpochMs).toBeLessThan(atEpochMs + 250);
  }, 60_000);

  it("stops every shard on Ctrl-C and still writes --out (exit 130)", async () => {
    const out = join(dir, "interrupted.json");
    const { proc, url } = await coordinator([
      "--shards",
      "2",
      "--target",
      target.url,
      "--rps",
      "50",
      "--duration",
      "30s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    const shards = [shard(url), shard(url)];
    await Promise.all(shards.map((s) => s.waitFor(/started/)));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const sentAt = Date.now();
    proc.child.kill("SIGINT");
    const [{ code }, ...ends] = await Promise.all([proc.done, ...shards.map((s) => s.done)]);
    expect(Date.now() - sentAt).toBeLessThan(15_000);
    expect(code, proc.stderr).toBe(130);
    ends.forEach((end, k) => expect(end.code, `${proc.stderr}\n${shards[k]?.stderr ?? ""}`).toBe(0));
    const result = read(out);
    expect(result.interrupted).toBe(true);
    expect(result.requests.total).toBeGreaterThan(0);
    expect(result.requests.total).toBeLessThan(50 * 30);
    expect(result.merged).toEqual({ shards: [0, 1], count: 2, partial: false });
  }, 60_000);

  it("--abort-on-critical stops all shards early (exit 3)", async () => {
    const failing = await startLocalServer((_request, _body, response) =>
      json(response, 500, { error: "down" }),
    );
    try {
      const out = join(dir, "aborted.json");
      const { proc, url } = await coordinator([
        "--shards",
        "2",
        "--target",
        failing.url,
        "--rps",
        "40",
        "--duration",
        "40s",
        "--category",
        "normal",
        "--abort-on-critical",
        "--out",
        out,
      ]);
      const startedAt = Date.now();
      const shards = [shard(url), shard(url)];
      const [{ code }, ...ends] = await Promise.all([proc.done, ...shards.map((s) => s.done)]);
      expect(code, proc.stderr).toBe(3);
      ends.forEach((end, k) => expect(end.code, `${proc.stderr}\n${shards[k]?.stderr ?? ""}`).toBe(0));
      expect(Date.now() - startedAt).toBeLessThan(25_000);
      const result = read(out);
      expect(result.aborted?.reason).toMatch(/critical/);
      expect(result.requests.error).toBeGreaterThan(0);
      expect(result.requests.sent).toBeLessThan(40 * 40 * 0.6);
    } finally {
      await failing.close();
    }
  }, 60_000);

  it("refuses a stripe taken twice or not of the run, then names the missing shard when registration times out", async () => {
    const out = join(dir, "never.json");
    const { proc, url } = await coordinator([
      "--shards",
      "2",
      "--register-timeout",
      "4s",
      "--target",
      target.url,
      "--rps",
      "10",
      "--duration",
      "2s",
      "--out",
      out,
    ]);
    const first = shard(url, ["--shard", "0/2"]);
    await proc.waitFor(/shard 0\/2 registered/);
    const twice = await runCli(["run", "--coordinator", url, "--shard", "0/2"], {
      entry: BIN_PATH,
      timeoutMs: 20_000,
    });
    const foreign = await runCli(["run", "--coordinator", url, "--shard", "1/3"], {
      entry: BIN_PATH,
      timeoutMs: 20_000,
    });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/shard 0\/2 is already registered/);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/shard 1\/3 is not one of this run's 2 shards/);
    const [{ code }, firstEnd] = await Promise.all([proc.done, first.done]);
    expect(code).toBe(2);
    const errors = proc.stderr.split("\n").filter((line) => line.startsWith("load-test: error:"));
    expect(errors).toEqual([
      expect.stringMatching(
        /^load-test: error: coordinate: shard 1\/2 not registered within --register-timeout 4s/,
      ),
    ]);
    // The registered shard learns the coordinator is gone and ends too, without sending.
    expect(firstEnd.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it("a shard refuses run flags of its own (exit 2 naming the flag), before reaching any coordinator", async () => {
    const result = await runCli(["run", "--coordinator", "http://127.0.0.1:9", "--rps", "10"], {
      entry: BIN_PATH,
      timeoutMs: 20_000,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^load-test: error: --rps: a shard takes the run from its coordinator/m);
    const unreachable = await runCli(
      ["run", "--coordinator", "http://127.0.0.1:9", "--register-timeout", "1s"],
      {
        entry: BIN_PATH,
        timeoutMs: 20_000,
      },
    );
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /coordinator http:\/\/127\.0\.0\.1:9 not reachable within --register-timeout/,
    );
    // And the coordinator refuses what it cannot coordinate, before it listens.
    const threads = await runCli(
      [
        "coordinate",
        "--shards",
        "2",
        "--listen",
        "127.0.0.1:0",
        "--target",
        target.url,
        "--rps",
        "10",
        "--threads",
        "2",
      ],
      { entry: BIN_PATH, timeoutMs: 20_000 },
    );
    expect(threads.code).toBe(2);
    expect(threads.stderr).toMatch(/^load-test: error: --threads: /m);
    const phases = await runCli(
      [
        "coordinate",
        fileURLToPath(new URL("../../examples/spec-stages.yaml", import.meta.url)),
        "--shards",
        "2",
        "--listen",
        "127.0.0.1:0",
      ],
      { entry: BIN_PATH, timeoutMs: 20_000 },
    );
    expect(phases.code).toBe(2);
    // The rate bound is per shard (one thread each), not the coordinator's own threads'.
    const bound = (rps: string): Promise<{ code: number | null; stderr: string }> =>
      runCli(
        [
          ...["coordinate", "--shards", "2", "--listen", "127.0.0.1:0", "--register-timeout", "1s"],
          ...["--target", target.url, "--rps", rps, "--duration", "1s"],
        ],
        { entry: BIN_PATH, timeoutMs: 20_000 },
      );
    const within = await bound("150000");
    expect(within.code).toBe(2);
    expect(within.stderr).toMatch(/shards 0\/2, 1\/2 not registered within --register-timeout 1s/);
    const beyond = await bound("250000");
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toMatch(/^load-test: error: --rps: 250000 req\/s is more than 2 shards can send/m);
    expect(phases.stderr.trim()).toMatch(
      /^load-test: error: coordinate runs one phase; this profile has \d+ phases/,
    );
  }, 60_000);
});
