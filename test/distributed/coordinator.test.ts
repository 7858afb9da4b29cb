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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A run of the "normal" category at `rps` for `duration`: the flags a coordinator hands its shards. */
const load = (target: string, rps: number, duration: string): string[] => [
  ...["--target", target, "--rps", String(rps), "--duration", duration, "--category", "normal"],
];

/**
 * Shard `spec` (`K/N`) as the sending process itself (no bin.js parent in between), sent `signal`
 * once it has sent for `afterMs`.
 */
async function signalled(url: string, spec: string, signal: NodeJS.Signals, afterMs: number): Promise<Proc> {
  const sender = shard(url, ["--shard", spec], CLI_PATH);
  await sender.waitFor(new RegExp(`shard ${spec.replace("/", "\\/")} started`));
  await sleep(afterMs);
  sender.child.kill(signal);
  return sender;
}

/** Waits for the coordinator and `shards` to end; each shard must exit 0. The coordinator's exit code. */
async function ended(proc: Proc, shards: Proc[]): Promise<number | null> {
  const [{ code }, ...ends] = await Promise.all([proc.done, ...shards.map((s) => s.done)]);
  ends.forEach((end, k) => expect(end.code, `${proc.stderr}\n${shards[k]?.stderr ?? ""}`).toBe(0));
  return code;
}

/** The CLI run to its end, for commands that end on their own within seconds. */
const cli = (args: string[]): ReturnType<typeof runCli> =>
  runCli(args, { entry: BIN_PATH, timeoutMs: 20_000 });

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

  /** A coordinator of `shards` shards with these flags, writing `dir/name` (`out`). */
  async function coordinated(
    name: string,
    shards: number,
    flags: string[],
  ): Promise<{ proc: Proc; url: string; out: string }> {
    const out = join(dir, name);
    return { ...(await coordinator(["--shards", String(shards), ...flags, "--out", out])), out };
  }

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
    const before = target.arrivalsMs.length;
    const { proc, url, out } = await coordinated("three.json", 3, [
      ...load(target.url, 100, "3s"),
      ...["--api-key", SECRET, "--run-id", "coord-exact"],
      ...["--pushgateway", pushgateway.url, "--push-interval", "0"],
    ]);
    const shards = [shard(url), shard(url), shard(url, ["--shard", "2/3"])];
    expect(await ended(proc, shards), proc.stderr).toBe(0);
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
    const { proc, url, out } = await coordinated("killed.json", 3, load(target.url, 60, "6s"));
    const survivors = [shard(url, ["--shard", "0/3"]), shard(url, ["--shard", "1/3"])];
    // Killed with no chance to say goodbye.
    await signalled(url, "2/3", "SIGKILL", 2000);
    expect(await ended(proc, survivors), proc.stderr).toBe(3);
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
    const { proc, url, out } = await coordinated("silent.json", 2, [
      ...["--lost-after", "3s"],
      ...load(target.url, 40, "8s"),
    ]);
    const survivor = shard(url, ["--shard", "0/2"]);
    const victim = await signalled(url, "1/2", "SIGSTOP", 1500);
    expect(await ended(proc, [survivor]), proc.stderr).toBe(3);
    victim.child.kill("SIGCONT");
    const victimEnd = await victim.done;
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
    const { proc, url, out } = await coordinated("shard-interrupted.json", 2, load(target.url, 40, "5s"));
    const survivor = shard(url, ["--shard", "0/2"]);
    const victim = await signalled(url, "1/2", "SIGINT", 1500);
    const [code, victimEnd] = await Promise.all([ended(proc, [survivor]), victim.done]);
    expect(code, proc.stderr).toBe(3);
    expect(victimEnd.code, victim.stderr).toBe(130);
    expect(proc.stderr).toMatch(/shard 1\/2 lost at second \d+ \(interrupted\)/);
    const result = read(out);
    expect(result.merged?.lost?.[0]).toMatchObject({ index: 1, reason: "interrupted" });
    // The survivor's stripe (100) and what the interrupted shard sent up to its last report.
    expect(result.requests.total).toBeGreaterThan(100);
    expect(result.requests.total).toBeLessThan(200);
  }, 60_000);

  it("--start-at on the coordinator: every shard starts its schedule at that instant", async () => {
    const before = target.arrivalsMs.length;
    const atEpochMs = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    const { proc, url, out } = await coordinated("start-at.json", 2, [
      ...["--start-at", new Date(atEpochMs).toISOString()],
      ...load(target.url, 50, "2s"),
    ]);
    expect(await ended(proc, [shard(url), shard(url)]), proc.stderr).toBe(0);
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
    const { proc, url, out } = await coordinated("interrupted.json", 2, load(target.url, 50, "30s"));
    const shards = [shard(url), shard(url)];
    await Promise.all(shards.map((s) => s.waitFor(/started/)));
    await sleep(1500);
    const sentAt = Date.now();
    proc.child.kill("SIGINT");
    const code = await ended(proc, shards);
    expect(Date.now() - sentAt).toBeLessThan(15_000);
    expect(code, proc.stderr).toBe(130);
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
      const { proc, url, out } = await coordinated("aborted.json", 2, [
        ...load(failing.url, 40, "40s"),
        "--abort-on-critical",
      ]);
      const startedAt = Date.now();
      expect(await ended(proc, [shard(url), shard(url)]), proc.stderr).toBe(3);
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
    const { proc, url, out } = await coordinated("never.json", 2, [
      ...["--register-timeout", "4s", "--target", target.url, "--rps", "10", "--duration", "2s"],
    ]);
    const first = shard(url, ["--shard", "0/2"]);
    await proc.waitFor(/shard 0\/2 registered/);
    const twice = await cli(["run", "--coordinator", url, "--shard", "0/2"]);
    const foreign = await cli(["run", "--coordinator", url, "--shard", "1/3"]);
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
    const result = await cli(["run", "--coordinator", "http://127.0.0.1:9", "--rps", "10"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^load-test: error: --rps: a shard takes the run from its coordinator/m);
    const unreachable = await cli(["run", "--coordinator", "http://127.0.0.1:9", "--register-timeout", "1s"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /coordinator http:\/\/127\.0\.0\.1:9 not reachable within --register-timeout/,
    );
    // And the coordinator refuses what it cannot coordinate, before it listens.
    const fleet = ["--shards", "2", "--listen", "127.0.0.1:0"];
    const threads = await cli([
      ...["coordinate", ...fleet],
      ...["--target", target.url, "--rps", "10", "--threads", "2"],
    ]);
    expect(threads.code).toBe(2);
    expect(threads.stderr).toMatch(/^load-test: error: --threads: /m);
    const stages = fileURLToPath(new URL("../../examples/spec-stages.yaml", import.meta.url));
    const phases = await cli(["coordinate", stages, ...fleet]);
    expect(phases.code).toBe(2);
    // The rate bound is per shard (one thread each), not the coordinator's own threads'.
    const bound = (rps: string): ReturnType<typeof cli> =>
      cli([
        ...["coordinate", ...fleet, "--register-timeout", "1s"],
        ...["--target", target.url, "--rps", rps, "--duration", "1s"],
      ]);
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
