/**
 * What the reference gateway gives a monitor (docs/MONITOR.md, docs/GATEWAY.md): process and
 * runtime metrics, the mock provider's pool (in use against its limit, the rest waiting), and
 * `--log`'s access and error log.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parsePage } from "../../src/monitor/exposition.js";
import { createMockProvider, ProviderClosedError } from "../../src/gateway/mock-provider.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";

const gateways: RunningGateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
});

async function gauge(url: string, name: string): Promise<number> {
  const families = parsePage(await (await fetch(`${url}/metrics`)).text());
  return Number(families.find((family) => family.name === name)?.metrics[0]?.value);
}

const execute = (url: string, prompt: string, mode?: string): Promise<Response> =>
  fetch(`${url}/v1/execute`, {
    method: "POST",
    headers: { authorization: "Bearer demo-org", "content-type": "application/json" },
    body: JSON.stringify({ prompt, ...(mode ? { mode } : {}) }),
  });

describe("the mock provider's pool", () => {
  it("answers at most `limit` completions at once; the rest wait in order", async () => {
    const provider = createMockProvider({ min: 50, max: 50 }, () => 0, 2);
    const order: number[] = [];
    const all = [0, 1, 2, 3].map((i) => provider.complete(`p${i}`).then(() => order.push(i)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect([provider.inUse, provider.limit, provider.waiting]).toEqual([2, 2, 2]);
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3]);
    expect([provider.inUse, provider.waiting]).toEqual([0, 0]);
  });

  it("close() rejects the waiting completions too", async () => {
    const provider = createMockProvider({ min: 1000, max: 1000 }, () => 0, 1);
    const running = provider.complete("a");
    const waiting = provider.complete("b");
    provider.close();
    await expect(running).rejects.toBeInstanceOf(ProviderClosedError);
    await expect(waiting).rejects.toBeInstanceOf(ProviderClosedError);
  });

  it("is on /metrics as _in_use, _limit and _waiting gauges beside prom-client's process metrics", async () => {
    const gateway = await startGateway({ llmLatencyMs: { min: 300, max: 300 }, llmConcurrency: 2 });
    gateways.push(gateway);
    expect(await gauge(gateway.url, "axonflow_gateway_llm_pool_limit")).toBe(2);
    const answers = [1, 2, 3].map((i) => execute(gateway.url, `Tell me about topic ${i}`, "llm"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await gauge(gateway.url, "axonflow_gateway_llm_pool_in_use")).toBe(2);
    expect(await gauge(gateway.url, "axonflow_gateway_llm_pool_waiting")).toBe(1);
    for (const answer of await Promise.all(answers)) expect(answer.status).toBe(200);
    expect(await gauge(gateway.url, "axonflow_gateway_llm_pool_in_use")).toBe(0);
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_p99_seconds",
    ])
      expect(await gauge(gateway.url, name), name).toBeGreaterThanOrEqual(0);
  });

  it("llmConcurrency below 1 is refused", async () => {
    await expect(startGateway({ llmConcurrency: 0 })).rejects.toThrow(
      /llmConcurrency must be a positive integer/,
    );
  });
});

describe("serve --log", () => {
  it("appends one line per request, INFO for answers, ERROR for 5xx, and lines on start and stop", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-gwlog-"));
    try {
      const logFile = join(dir, "gateway.log");
      const gateway = await startGateway({ logFile });
      expect((await execute(gateway.url, "What is the weather?")).status).toBe(200);
      expect((await execute(gateway.url, "My card is 4111 1111 1111 1111")).status).toBe(403);
      expect((await fetch(`${gateway.url}/v1/execute`, { method: "POST", body: "{}" })).status).toBe(401);
      await gateway.close();
      const lines = (await readFile(logFile, "utf8")).trim().split("\n");
      expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO gateway listening on 127\.0\.0\.1:\d+$/);
      expect(lines.slice(1, 4)).toEqual([
        expect.stringMatching(/ INFO POST \/v1\/execute 200 allowed [\d.]+ms$/),
        expect.stringMatching(/ INFO POST \/v1\/execute 403 blocked [\d.]+ms$/),
        expect.stringMatching(/ INFO POST \/v1\/execute 401 rejected [\d.]+ms$/),
      ]);
      expect(lines.at(-1)).toMatch(/ INFO gateway stopped$/);
      // The log never holds a request's credentials or prompt.
      expect(lines.join("\n")).not.toMatch(/demo-org|4111/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a 5xx answer is an ERROR line (the provider closed under a waiting request)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-gwlog-"));
    try {
      const logFile = join(dir, "gateway.log");
      const gateway = await startGateway({ logFile, llmLatencyMs: { min: 5000, max: 5000 } });
      const answer = execute(gateway.url, "Summarise this", "llm").catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await gateway.close();
      await answer;
      const text = await readFile(logFile, "utf8");
      expect(text).toMatch(/ ERROR LLM provider mock failed: LLM provider "mock" was closed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
