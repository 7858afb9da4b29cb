import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { runCli } from "../helpers/cli.js";
import { closedPort } from "../helpers/servers.js";
import {
  find,
  parseExposition,
  startPushgateway,
  valueOf,
  type PushgatewayProcess,
} from "../helpers/pushgateway.js";

let gateway: RunningGateway;
let pushgateway: PushgatewayProcess;
beforeAll(async () => {
  [gateway, pushgateway] = await Promise.all([
    startGateway({ llmLatencyMs: { min: 1, max: 2 } }),
    startPushgateway(),
  ]);
});
afterAll(async () => {
  await Promise.all([gateway?.close(), pushgateway?.stop()]);
});

describe("the CLI's Prometheus export", () => {
  it("pushes the run's exact figures with the spec's names and labels, and writes the text file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-"));
    const out = join(dir, "results.json");
    const promFile = join(dir, "metrics.prom");
    const cli = await runCli([
      "--target", gateway.url, "--rps", "40", "--duration", "2s", "--api-key", "ci-org",
      "--pushgateway", pushgateway.url, "--push-interval", "500ms",
      "--client", "acme", "--environment", "ci", "--label", "team=perf",
      "--prometheus-file", promFile, "--out", out, "--quiet",
    ]); // prettier-ignore
    expect([0, 3]).toContain(cli.code);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    const samples = await pushgateway.scrape();
    const pushed = find(samples, "axonflow_load_test_requests_total", {
      client: "acme",
      environment: "ci",
      team: "perf",
    });
    expect(pushed.length).toBeGreaterThan(0);
    const runId = pushed[0]?.labels.run_id as string;
    expect(runId).toMatch(/^\d{8}T\d{6}-[0-9a-f]{8}$/);
    const sumStatus = (status: string) =>
      find(samples, "axonflow_load_test_requests_total", { run_id: runId, status }).reduce(
        (sum, s) => sum + s.value,
        0,
      );
    expect(sumStatus("success")).toBe(result.requests.success);
    expect(sumStatus("blocked")).toBe(result.requests.blocked);
    expect(sumStatus("error")).toBe(result.requests.error);
    expect(
      valueOf(samples, "axonflow_load_test_latency_ms", {
        run_id: runId,
        quantile: "0.99",
        test_type: "mixed",
      }),
    ).toBe(result.latencyMs.p99);
    const fileSamples = parseExposition(await readFile(promFile, "utf8"));
    expect(
      valueOf(fileSamples, "axonflow_load_test_latency_ms", { quantile: "0.5", test_type: "mixed" }),
    ).toBe(result.latencyMs.p50);
  });

  it("a Pushgateway that is down never breaks the run: a warning, results written, exit 4 only with --pushgateway-fatal", async () => {
    const port = await closedPort();
    const dir = await mkdtemp(join(tmpdir(), "load-test-"));
    const base = [
      "--target",
      gateway.url,
      "--rps",
      "20",
      "--duration",
      "1s",
      "--category",
      "normal",
      "--api-key",
      "k",
      "--quiet",
    ];
    const lenient = await runCli([
      ...base,
      "--pushgateway",
      `http://127.0.0.1:${port}`,
      "--out",
      join(dir, "a.json"),
    ]);
    expect(lenient.stdout).toMatch(/pushgateway http:\/\/127\.0\.0\.1:\d+ unreachable/);
    expect([0, 3]).toContain(lenient.code);
    const written = JSON.parse(await readFile(join(dir, "a.json"), "utf8")) as RunResult;
    expect(written.requests.total).toBe(20);
    expect(written.verdict.warnings.some((w) => w.includes("unreachable"))).toBe(true);
    const strict = await runCli([
      ...base,
      "--pushgateway",
      `http://127.0.0.1:${port}`,
      "--pushgateway-fatal",
    ]);
    expect([3, 4]).toContain(strict.code);
    if (!strict.stdout.includes("Results Interpretation: CRITICAL")) expect(strict.code).toBe(4);
  });

  it("rejects invalid labels before sending anything", async () => {
    const cli = await runCli([
      "--target",
      gateway.url,
      "--rps",
      "10",
      "--duration",
      "1s",
      "--label",
      "bad-name=x",
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("--label");
  });
});
