import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { startGateway, type RunningGateway } from "../../src/target/gateway.js";
import { afterStderr, runCli } from "../helpers/cli.js";

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ llmLatencyMs: { min: 5, max: 15 } });
});
afterAll(async () => {
  await gateway.close();
});

async function runCategory(
  category: string,
  extra: string[] = [],
): Promise<{ code: number | null; result: RunResult; stdout: string }> {
  const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
  const cli = await runCli(
    [
      "--target",
      gateway.url,
      "--rps",
      "50",
      "--duration",
      "2s",
      "--category",
      category,
      "--api-key",
      "ci-org",
      "--out",
      out,
      "--quiet",
      ...extra,
    ],
    { timeoutMs: 30_000 },
  );
  return { code: cli.code, result: JSON.parse(await readFile(out, "utf8")) as RunResult, stdout: cli.stdout };
}

describe("the core CLI against the reference policy gateway", () => {
  it.each([
    ["normal", { success: 100, blocked: 0 }],
    ["security", { success: 0, blocked: 100 }],
    ["policy", { success: 0, blocked: 100 }],
    ["llm", { success: 100, blocked: 0 }],
  ])("category %s: every request judged correctly (100%% correctness)", async (category, expected) => {
    const { result } = await runCategory(category);
    expect(result.requests.total).toBe(100);
    expect(result.requests.success).toBe(expected.success);
    expect(result.requests.blocked).toBe(expected.blocked);
    expect(result.requests.error).toBe(0);
    expect(result.correctness).toBe(1);
    expect(result.categories[category]?.correctness).toBe(1);
    expect(Object.keys(result.categories)).toEqual([category]);
    const failedChecks = result.verdict.checks.filter(
      (check) => check.name.startsWith("correctness") && check.level !== "target",
    );
    expect(failedChecks).toEqual([]);
  });

  it("llm requests carry the mock provider's latency", async () => {
    const { result } = await runCategory("llm");
    expect(result.latencyMs.min).toBeGreaterThanOrEqual(5);
  });

  it("mixed: ~20% blocked, 100% correct, block rate check passes", async () => {
    const { result, stdout } = await runCategory("mixed");
    expect(result.requests.blocked).toBe(20);
    expect(result.correctness).toBe(1);
    expect(result.verdict.checks.find((check) => check.name === "blocked_rate")?.level).toBe("target");
    expect(stdout).toContain("✅ Blocked Rate: 20%");
    expect(stdout).toContain("✅ Correctness (security): 100%");
  });

  it("without the API key the gateway answers 401: every request is an error", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
    const cli = await runCli([
      "--target",
      gateway.url,
      "--rps",
      "20",
      "--duration",
      "1s",
      "--out",
      out,
      "--quiet",
    ]);
    expect(cli.code).toBe(3);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.errors).toEqual({ http_401: 20 });
    expect(result.correctness).toBe(0);
  });
});

describe("load-test demo", () => {
  it("starts the gateway, runs a mixed load test with the verdict, and stops the gateway", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "demo.json");
    const cli = await runCli(["demo", "--duration", "2s", "--warmup", "1s", "--out", out], {
      timeoutMs: 60_000,
    });
    expect([0, 3]).toContain(cli.code);
    const pid = Number(/reference gateway \(pid (\d+)\)/.exec(cli.stderr)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
    expect(cli.stdout).toContain("Results Interpretation");
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.requests.total).toBe(200);
    expect(result.correctness).toBe(1);
    expect(result.requests.blocked).toBe(40);
  });

  it("Ctrl-C during the demo still prints results and stops the gateway", async () => {
    let pid = 0;
    const cli = await runCli(["demo", "--duration", "60s", "--warmup", "0s"], {
      timeoutMs: 30_000,
      onSpawn: (child) =>
        afterStderr(child, "req/s for", () => {
          setTimeout(() => child.kill("SIGINT"), 1500);
        }),
    });
    pid = Number(/reference gateway \(pid (\d+)\)/.exec(cli.stderr)?.[1]);
    expect(cli.code).toBe(130);
    expect(cli.stdout).toContain("(INTERRUPTED)");
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  it("rejects bad demo input before starting anything", async () => {
    const cli = await runCli(["demo", "--rps", "0"]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("--rps");
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
