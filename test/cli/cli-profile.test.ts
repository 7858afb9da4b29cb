import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { runCli } from "../helpers/cli.js";

let gateway: RunningGateway;
let dir: string;
beforeAll(async () => {
  gateway = await startGateway({ llmLatencyMs: { min: 1, max: 2 } });
  dir = await mkdtemp(join(tmpdir(), "load-test-profile-"));
});
afterAll(async () => {
  await gateway.close();
});

async function profileFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe("load-test run profile.yaml", () => {
  it("runs custom cases for a plain REST API with their own expectations; CLI flags override the file", async () => {
    await writeFile(
      join(dir, "cases.jsonl"),
      [
        { name: "blocked", category: "security", method: "POST", path: "/v1/execute", body: { prompt: "1; DROP TABLE users", mode: "chat" }, expect: { status: [403], blocked: true } },
        { name: "missing", category: "negative", method: "GET", path: "/nope", expect: { status: 404 } },
      ].map((line) => JSON.stringify(line)).join("\n"),
    ); // prettier-ignore
    const out = join(dir, "rest.json");
    const path = await profileFile(
      "rest.yaml",
      [
        `target: ${gateway.url}`,
        "auth: { bearerEnv: TEST_PROFILE_TOKEN }",
        "rps: 5",
        "duration: 30s",
        "cases:",
        "  - { name: health, category: health, method: GET, path: /health, expect: { status: 200, json: { $.status: ok } } }",
        "  - { name: chat, category: api, weight: 2, method: POST, path: /v1/execute, body: { prompt: hi, mode: chat }, expect: { json: { $.success: true } } }",
        "casesFile: cases.jsonl",
        "defaultThresholds: false",
        "thresholds: { correctness: [rate==1], error_rate: [rate==0] }",
        `outputs: { out: ${JSON.stringify(out)} }`,
      ].join("\n"),
    );
    // --rps and --duration typed on the command line win over the file's 5 req/s for 30 s;
    // --pacing, which a profile has no field for, applies to its phases.
    const cli = await runCli(
      ["run", path, "--rps", "40", "--duration", "1s", "--pacing", "tick", "--quiet"],
      {
        env: { TEST_PROFILE_TOKEN: "profile-secret-token" },
      },
    );
    expect(cli.stderr).toBe(`results written to ${out}\n`);
    expect(cli.code).toBe(0);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.requests.total).toBe(40);
    expect(result.generator.pacing).toBe("tick");
    expect(Object.keys(result.categories).sort()).toEqual(["api", "health", "negative", "security"]);
    expect(result.correctness).toBe(1);
    // The expected 404 counts as success, not as an error of the target.
    expect(result.requests.error).toBe(0);
    expect(result.verdict.checks.map((check) => check.name)).toEqual([
      "threshold correctness rate==1",
      "threshold error_rate rate==0",
    ]);
    expect(JSON.stringify(result) + cli.stdout).not.toContain("profile-secret-token");
  });

  it("a profile whose expectations fail is judged by its own thresholds", async () => {
    const path = await profileFile(
      "wrong.yaml",
      [
        `target: ${gateway.url}`,
        "rps: 20",
        "duration: 1s",
        "cases:",
        // The gateway answers 200 to /health: expecting 503 must fail correctness.
        "  - { name: health, category: health, method: GET, path: /health, expect: { status: 503 } }",
        "defaultThresholds: false",
        "thresholds: { correctness: [{ threshold: rate==1, level: degraded }] }",
      ].join("\n"),
    );
    const cli = await runCli(["run", path, "--quiet"]);
    expect(cli.code).toBe(3);
    expect(cli.stdout).toContain("correctness rate==1: failed");
  });

  it("runs named phases with a pause, each reported on its own", async () => {
    const out = join(dir, "phases.json");
    const path = await profileFile(
      "phases.yaml",
      [
        `target: ${gateway.url}`,
        "auth: { bearerEnv: UNSET_VARIABLE_FOR_TEST, default: demo-org }",
        "phases:",
        "  - { name: capacity, rps: 30, duration: 1s, pauseAfter: 500ms }",
        "  - { name: policy, rps: 20, duration: 1s, category: security }",
        `outputs: { out: ${JSON.stringify(out)} }`,
      ].join("\n"),
    );
    const cli = await runCli(["run", path, "--quiet"]);
    expect([0, 3]).toContain(cli.code);
    const result = JSON.parse(await readFile(out, "utf8")) as {
      kind: string;
      phases: Array<{ name: string; result: RunResult }>;
    };
    expect(result.kind).toBe("phases");
    expect(result.phases.map((phase) => [phase.name, phase.result.requests.total])).toEqual([
      ["capacity", 30],
      ["policy", 20],
    ]);
    expect(result.phases[1]?.result.requests.blocked).toBe(20);
    expect(cli.stdout.match(/Results Interpretation/g)).toHaveLength(2);
  });

  it("reports every problem of a broken profile at once, with field paths, exit 2", async () => {
    const path = await profileFile(
      "broken.yaml",
      ["target: ftp://nowhere", "rps: -5", "duration: soon", "stages: 30s:10", "workerz: 3"].join("\n"),
    );
    const cli = await runCli(["run", path]);
    expect(cli.code).toBe(2);
    for (const field of ["target", "rps", "duration", "workerz"]) expect(cli.stderr).toContain(field);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  });

  it("a missing profile file is one clear line", async () => {
    const cli = await runCli(["run", join(dir, "does-not-exist.yaml")]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("does-not-exist.yaml");
  });
});

describe("thresholds on the command line", () => {
  it("--abort-on-critical stops a clearly critical run early and still writes results", async () => {
    const out = join(dir, "aborted.json");
    // Without an API key (--api-key '') every request is a 401: error rate 100%, critical; the run would last 60 s.
    const cli = await runCli(
      [
        "--api-key",
        "",
        "--target",
        gateway.url,
        "--rps",
        "50",
        "--duration",
        "60s",
        "--abort-on-critical",
        "--out",
        out,
        "--quiet",
      ],
      { timeoutMs: 30_000 },
    );
    expect(cli.code).toBe(3);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.aborted?.reason).toMatch(/critical after \d+s/);
    expect(result.durationSec).toBeLessThan(20);
    expect(result.interrupted).toBe(false);
    expect(cli.stdout).toContain("Stopped early");
  });

  it("--threshold replaces the spec's bound of the same selector and names the level", async () => {
    const out = join(dir, "threshold.json");
    const cli = await runCli([
      "--target", gateway.url, "--api-key", "k", "--rps", "20", "--duration", "1s", "--category", "normal",
      "--threshold", "latency:p(50)<0.001@degraded", "--out", out, "--quiet",
    ]); // prettier-ignore
    expect(cli.code).toBe(3);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    const check = result.verdict.checks.find((c) => c.name === "threshold latency p(50)<0.001");
    expect(check?.level).toBe("critical");
  });
});
