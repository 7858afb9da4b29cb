/**
 * `--monitor`, `--monitor-log` and `demo`'s Target block through the real binary: the reference
 * gateway's /metrics, a log file written during the run, and a source that never answers beside
 * them (docs/MONITOR.md).
 */
import { readdirSync, readFileSync } from "node:fs";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { afterStderr, BIN_PATH, runCli } from "../helpers/cli.js";
import { delayed, startLocalServer, type LocalServer } from "../helpers/servers.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

let gateway: RunningGateway;
let hanging: LocalServer;
let dir: string;
const open: ServerResponse[] = [];

beforeAll(async () => {
  gateway = await startGateway();
  hanging = await startLocalServer((_request, _body, response) => open.push(response));
  dir = await mkdtemp(join(tmpdir(), "load-test-monitor-"));
});

afterAll(async () => {
  for (const response of open) response.destroy();
  await gateway?.close();
  await hanging?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function validator() {
  const schema = JSON.parse(
    await readFile(new URL("../../docs/results.schema.json", import.meta.url), "utf8"),
  ) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe("load-test --monitor", () => {
  it("keeps the target's series from the warm-up on, counts log lines written during the run, and survives a hanging source", async () => {
    const out = join(dir, "r.json");
    const log = join(dir, "app.log");
    await writeFile(log, "ERROR from before the run: not counted\n");
    // The application's log, written while the run lasts.
    let written = 0;
    const writer = setInterval(() => {
      written += 1;
      void appendFile(
        log,
        `${new Date().toISOString()} ERROR upstream failed, api_key=sk-live-0123456789abcdef\nINFO ok\n`,
      );
    }, 700);
    const started = Date.now();
    let result;
    try {
      result = await runCli(
        [
          "--target",
          gateway.url,
          "--rps",
          "50",
          "--duration",
          "3s",
          "--warmup",
          "2s",
          "--monitor",
          `${gateway.url}/metrics`,
          "--monitor",
          `${hanging.url}/metrics`,
          "--monitor-metric",
          'axonflow_gateway_requests_total{outcome="allowed"}',
          "--monitor-log",
          log,
          "--out",
          out,
        ],
        { timeoutMs: 60_000, entry: BIN_PATH },
      );
    } finally {
      clearInterval(writer);
    }
    const elapsedMs = Date.now() - started;
    expect(result.stderr).not.toMatch(/internal error|Error:/);
    expect([0, 3]).toContain(result.code);
    // The hanging source cost no more than its scrape deadline at the end.
    expect(elapsedMs).toBeLessThan(5_000 + 15_000);
    const saved = JSON.parse(await readFile(out, "utf8")) as RunResult;
    const validate = await validator();
    expect(validate(saved), JSON.stringify(validate.errors)).toBe(true);
    const monitor = saved.monitor!;
    expect(monitor.intervalMs).toBe(1000);
    expect(monitor.sources.map((s) => [s.kind, s.name])).toEqual([
      ["scrape", `${gateway.url}/metrics`],
      ["scrape", `${hanging.url}/metrics`],
      ["log", log],
    ]);
    expect(monitor.sources[0]).toMatchObject({ failures: 0, detected: "node" });
    expect(monitor.sources[1]?.failures).toBeGreaterThanOrEqual(1);
    expect(monitor.sources[1]?.lastError).toBe("no answer within 1000 ms");
    const cpu = monitor.series.find((s) => s.name === "cpu");
    expect(cpu?.unit).toBe("cores");
    // From the warm-up (negative t) to the end of the run, about one point a second.
    const memory = monitor.series.find((s) => s.name === "memory_rss");
    expect(memory?.points[0]?.t).toBeLessThan(0);
    expect(memory?.points.at(-1)?.t).toBeGreaterThan(2);
    expect(cpu?.points.length).toBeGreaterThanOrEqual(3);
    const allowed = monitor.series.find((s) => s.name === "axonflow_gateway_requests_total");
    expect(allowed?.unit).toBe("per_sec");
    // The gateway answered ~40 allowed requests a second (80% of 50 are normal cases) in the run.
    const busiest = Math.max(...(allowed?.points.map((p) => p.value) ?? [0]));
    expect(busiest).toBeGreaterThan(20);
    expect(busiest).toBeLessThan(80);
    expect(monitor.summary.cpu).toMatchObject({ limitCores: 1, source: `${gateway.url}/metrics` });
    expect(monitor.summary.memory?.startBytes).toBeGreaterThan(0);
    expect(monitor.summary.pools[0]).toMatchObject({ name: "axonflow_gateway_llm_pool", limit: 256 });
    const logSummary = monitor.summary.logs[0]!;
    expect(logSummary.lines).toBeGreaterThanOrEqual(2);
    expect(logSummary.lines).toBeLessThanOrEqual(written);
    expect(logSummary.firstLines[0]).toMatch(/ERROR upstream failed, api_key=\[redacted\]/);
    expect(JSON.stringify(saved)).not.toContain("sk-live-0123456789abcdef");
    expect(saved.verdict.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\d+ error log line\(s\) in .*app\.log during the run/),
        expect.stringMatching(
          /^monitor: http:\/\/127\.0\.0\.1:\d+\/metrics failed \d+ of \d+ time\(s\) \(no answer within 1000 ms\)/,
        ),
      ]),
    );
    expect(result.stdout).toMatch(
      /^Target {8}CPU peak [\d.]+ of 1 core, mean [\d.]+ \(http:\/\/127\.0\.0\.1:\d+\/metrics\)$/m,
    );
    expect(result.stdout).toMatch(/^ {14}log .*app\.log: \d+ line\(s\) matching \/ERROR\|FATAL\|panic\/$/m);
    expect(result.stdout).toMatch(/^ {14}sources 2 ok, 1 with failures/m);
    expect(result.stdout).not.toContain("sk-live");
  }, 70_000);

  it("a profile's monitor section is read, its fields under the typed flags", async () => {
    const out = join(dir, "profile.json");
    const profile = join(dir, "monitor.yaml");
    await writeFile(
      profile,
      [
        `target: ${gateway.url}`,
        "rps: 20",
        "duration: 2s",
        "monitor:",
        `  scrape: [${gateway.url}/metrics]`,
        "  interval: 5s",
        "  metrics: [axonflow_gateway_requests_total]",
        `outputs: { out: ${JSON.stringify(out)} }`,
      ].join("\n"),
    );
    const result = await runCli(["run", profile, "--monitor-interval", "300ms", "--quiet"], {
      timeoutMs: 40_000,
    });
    // 3 is the verdict on the gateway's answers, not the monitor's business.
    expect([0, 3], result.stderr).toContain(result.code);
    const monitor = (JSON.parse(readFileSync(out, "utf8")) as RunResult).monitor!;
    expect(monitor.intervalMs).toBe(300);
    expect(monitor.sources.map((source) => source.name)).toEqual([`${gateway.url}/metrics`]);
    expect(monitor.series.some((series) => series.name === "axonflow_gateway_requests_total")).toBe(true);
    expect(monitor.series.find((series) => series.name === "cpu")?.points.length).toBeGreaterThanOrEqual(3);
    const bad = await runCli(["run", profile, "--monitor-interval", "5ms"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^load-test: error: --monitor-interval: must be a duration from 100ms/);
  }, 60_000);

  it("a second Ctrl-C still writes the target's series collected so far", async () => {
    // The target answers after 10 s, so the first Ctrl-C waits its grace and the second quits at once.
    const slow = await startLocalServer(delayed(() => 10_000));
    const out = join(dir, "quit.json");
    try {
      const cli = await runCli(
        [
          "--target",
          slow.url,
          "--rps",
          "20",
          "--duration",
          "30s",
          "--timeout",
          "20s",
          "--monitor",
          `${gateway.url}/metrics`,
          "--monitor-interval",
          "200ms",
          "--out",
          out,
        ],
        {
          entry: BIN_PATH,
          timeoutMs: 40_000,
          onSpawn: (launcher) => {
            afterStderr(launcher, "req/s for", () => setTimeout(() => launcher.kill("SIGINT"), 2000));
            afterStderr(launcher, "Ctrl-C again", () => launcher.kill("SIGINT"));
          },
        },
      );
      expect(cli.code, cli.stderr).toBe(130);
      expect(cli.stderr).toContain("interrupted again: writing the results measured so far");
      const saved = JSON.parse(readFileSync(out, "utf8")) as RunResult;
      const validate = await validator();
      expect(validate(saved), JSON.stringify(validate.errors)).toBe(true);
      expect(saved.interrupted).toBe(true);
      const monitor = saved.monitor!;
      expect(monitor.note).toMatch(/^quit at once/);
      expect(monitor.sources[0]).toMatchObject({ name: `${gateway.url}/metrics`, failures: 0 });
      expect(monitor.sources[0]?.attempts).toBeGreaterThanOrEqual(3);
      // At 200 ms over the 2 s before the first Ctrl-C: several points, all within the run.
      const cpu = monitor.series.find((s) => s.name === "cpu")!;
      expect(cpu.points.length).toBeGreaterThanOrEqual(3);
      const memory = monitor.series.find((s) => s.name === "memory_rss")!;
      expect(memory.points.length).toBeGreaterThanOrEqual(3);
      expect(monitor.summary.cpu).toMatchObject({ limitCores: 1, source: `${gateway.url}/metrics` });
    } finally {
      await slow.close();
    }
  }, 60_000);

  it("a second Ctrl-C in a ladder's second step writes that step's series so far", async () => {
    // The first step is answered at once; the second step's requests hang for 10 s.
    const slow = await startLocalServer(delayed((index) => (index < 40 ? 0 : 10_000)));
    const out = join(dir, "ladder-quit.json");
    try {
      const cli = await runCli(
        ["ladder", "--target", slow.url, "--rates", "20,40", "--step", "2s", "--pause", "0s",
          "--timeout", "20s", "--monitor", `${gateway.url}/metrics`, "--monitor-interval", "200ms",
          "--out", out], // prettier-ignore
        {
          entry: BIN_PATH,
          timeoutMs: 40_000,
          onSpawn: (launcher) => {
            afterStderr(launcher, "step 2/2", () => setTimeout(() => launcher.kill("SIGINT"), 1500));
            afterStderr(launcher, "Ctrl-C again", () => launcher.kill("SIGINT"));
          },
        },
      );
      expect(cli.code, cli.stderr).toBe(130);
      const ladder = JSON.parse(readFileSync(out, "utf8")) as { steps: Array<{ result: RunResult }> };
      expect(ladder.steps).toHaveLength(2);
      const [first, second] = ladder.steps.map((step) => step.result.monitor!);
      // The first step ended as usual; the second was quit at once and has what had been sent.
      expect(first?.note).toBeUndefined();
      expect(second?.note).toMatch(/^quit at once/);
      expect(second?.series.find((s) => s.name === "memory_rss")?.points.length).toBeGreaterThanOrEqual(3);
      // Each step's window is its own: the second step's points start after the first's.
      const lastOfFirst = first!.series.find((s) => s.name === "memory_rss")!.points.at(-1)!;
      const firstOfSecond = second!.series.find((s) => s.name === "memory_rss")!.points[0]!;
      const firstStart = Date.parse(ladder.steps[0]!.result.startedAt);
      const secondStart = Date.parse(ladder.steps[1]!.result.startedAt);
      expect(secondStart + firstOfSecond.t * 1000).toBeGreaterThan(firstStart + lastOfFirst.t * 1000);
    } finally {
      await slow.close();
    }
  }, 60_000);

  it("bad monitor flags are one line naming the flag, exit 2, before anything is sent", async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["--monitor", "ftp://127.0.0.1/metrics"],
        /^load-test: error: --monitor: expected an http:\/\/ or https:\/\/ URL/,
      ],
      [["--monitor-query", "cpu=up"], /^load-test: error: --monitor-query: needs --monitor-prometheus URL/],
      [
        ["--monitor-prometheus", "http://127.0.0.1:9090", "--monitor-query", "=up"],
        /^load-test: error: --monitor-query: expected NAME=PROMQL/,
      ],
      [
        ["--monitor", `${gateway.url}/metrics`, "--monitor-interval", "5ms"],
        /^load-test: error: --monitor-interval: must be a duration from 100ms/,
      ],
      [
        ["--monitor", `${gateway.url}/metrics`, "--monitor-metric", "x{a=b}"],
        /^load-test: error: --monitor-metric: cannot read the label matcher/,
      ],
      [
        ["--monitor-log", "/tmp/x.log", "--monitor-log-pattern", "("],
        /^load-test: error: --monitor-log-pattern: not a regular expression/,
      ],
    ];
    const sentBefore = gateway.stats().requests;
    for (const [flags, message] of cases) {
      const result = await runCli(["--target", gateway.url, "--rps", "10", "--duration", "1s", ...flags]);
      expect(result.code, flags.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n"), flags.join(" ")).toHaveLength(1);
      expect(result.stderr, flags.join(" ")).toMatch(message);
    }
    expect(gateway.stats().requests).toEqual(sentBefore);
    const serve = await runCli(["serve", "--port", "0", "--llm-concurrency", "0"]);
    expect(serve.code).toBe(2);
    expect(serve.stderr.trim()).toBe(
      'load-test: error: --llm-concurrency: must be a whole number of at least 1, got "0"',
    );
  }, 60_000);
});

/** Monitor processes (monitor-process.js) among `root`'s descendants, now. */
function monitorProcessesUnder(root: number): number {
  const parentOf = new Map<number, number>();
  const commandOf = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      parentOf.set(Number(entry), Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]));
      commandOf.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, "utf8"));
    } catch {
      // ended meanwhile
    }
  }
  const under = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p))
      if (p === root) return true;
    return false;
  };
  return [...commandOf].filter(([pid, command]) => command.includes("monitor-process.js") && under(pid))
    .length;
}

describe("load-test demo", () => {
  it("monitors its gateway: the last step's summary has the Target block", async () => {
    let most = 0;
    let sampler: NodeJS.Timeout | undefined;
    const result = await runCli(["demo", "--rates", "20", "--step", "2s", "--warmup", "1s", "--quiet"], {
      timeoutMs: 60_000,
      entry: BIN_PATH,
      onSpawn: (child) => {
        sampler = setInterval(() => (most = Math.max(most, monitorProcessesUnder(child.pid as number))), 200);
      },
    });
    clearInterval(sampler);
    // 0, or 3 on a machine busy enough to make even the first step critical: the block is there either way.
    expect([0, 3], result.stderr).toContain(result.code);
    // One monitor, for the gateway: the flags' check before the gateway starts starts none.
    expect(most).toBe(1);
    expect(result.stdout).toMatch(
      /^Target {8}CPU peak [\d.]+ of 1 core, mean [\d.]+ \(http:\/\/127\.0\.0\.1:\d+\/metrics\)$/m,
    );
    expect(result.stdout).toMatch(/^ {14}pool axonflow_gateway_llm_pool peak \d+ of 256$/m);
    const without = await runCli(
      ["demo", "--rates", "20", "--step", "1s", "--warmup", "0s", "--quiet", "--no-monitor"],
      {
        timeoutMs: 60_000,
        entry: BIN_PATH,
      },
    );
    expect([0, 3], without.stderr).toContain(without.code);
    expect(without.stdout).not.toMatch(/^Target/m);
  }, 130_000);
});
