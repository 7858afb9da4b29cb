import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterEach, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { afterStderr, runCli } from "../helpers/cli.js";
import { allowEverything, delayed, startLocalServer, type LocalServer } from "../helpers/servers.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function validator() {
  const schema = JSON.parse(
    await readFile(new URL("../../docs/results.schema.json", import.meta.url), "utf8"),
  ) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe("results JSON (--out) contract", () => {
  it("validates against docs/results.schema.json and keeps its invariants", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "nested", "results.json");
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "50",
      "--duration",
      "2s",
      "--out",
      out,
      "--quiet",
    ]);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    const validate = await validator();
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
    // An allow-everything target answering the mixed category: security and policy probes went through.
    expect(cli.code).toBe(3);
    const { requests } = result;
    expect(requests.total).toBe(requests.success + requests.blocked + requests.error);
    expect(requests.total).toBe(100);
    expect(result.categories.normal?.requests).toBe(80);
    expect(result.categories.security?.requests).toBe(10);
    expect(result.categories.policy?.requests).toBe(10);
    expect(result.categories.security?.correctness).toBe(0);
    expect(result.categories.normal?.correctness).toBe(1);
    expect(requests.unexpected).toBe(20);
    expect(result.correctness).toBeCloseTo(0.8, 10);
    expect(result.verdict.level).toBe("critical");
    expect(result.verdict.warnings).toContain("Blocked Rate 0%: policy might not be active");
    expect(result.timeline.reduce((sum, entry) => sum + entry.completed, 0)).toBe(100);
    expect(result.timeline.reduce((sum, entry) => sum + entry.sent, 0)).toBe(100);
    expect(cli.stdout).toContain("Results Interpretation: CRITICAL");
    expect(cli.stdout).toContain("❌ Correctness (security): 0%");
  });

  it("Ctrl-C stops sending, waits for requests in flight, prints the summary and writes results marked interrupted", async () => {
    const server = await startLocalServer(delayed(() => 20));
    servers.push(server);
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
    const cli = await runCli(
      ["--target", server.url, "--rps", "50", "--duration", "60s", "--category", "normal", "--out", out],
      {
        timeoutMs: 20_000,
        // Progress lines are printed every 5 s without a TTY; the start line tells the run began.
        onSpawn: (child) =>
          afterStderr(child, "req/s for", () => setTimeout(() => child.kill("SIGINT"), 5600)),
      },
    );
    expect(cli.code).toBe(130);
    expect(cli.stderr).toContain("interrupted");
    // Without a TTY, a plain progress line every 5 s: elapsed/total, rate, percentiles, outcomes, correctness.
    expect(cli.stderr).toMatch(
      /\[5s\/60s\] [\d.]+ req\/s \| p50 [\d.]+ms p95 [\d.]+ms p99 [\d.]+ms \| ok \d+ blocked 0 err 0 .*correct 100%/,
    );
    expect(cli.stdout).toContain("(INTERRUPTED)");
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.interrupted).toBe(true);
    expect(result.durationSec).toBeLessThan(12);
    // Everything the server answered was measured: requests in flight at Ctrl-C were awaited.
    expect(result.requests.total).toBe(server.arrivalsMs.length);
    expect(result.requests.total).toBeGreaterThan(200);
    expect(result.verdict.warnings).toContain("Run interrupted: results cover only the part that ran");
    const validate = await validator();
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
  });

  it("SIGTERM behaves like Ctrl-C", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
    const cli = await runCli(["--target", server.url, "--rps", "20", "--duration", "30s", "--out", out], {
      timeoutMs: 20_000,
      onSpawn: (child) =>
        afterStderr(child, "req/s for", () => setTimeout(() => child.kill("SIGTERM"), 1500)),
    });
    expect(cli.code).toBe(130);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.interrupted).toBe(true);
    expect(result.requests.total).toBeGreaterThan(10);
  });
});
