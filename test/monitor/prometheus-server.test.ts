/**
 * `--monitor-prometheus` against a real Prometheus server (Debian `prometheus`), started here on a
 * loopback port with its own config and data directory, scraping the reference gateway.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../../src/monitor/collector.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { startPrometheus, type PrometheusProcess } from "../helpers/pushgateway.js";

let gateway: RunningGateway;
let prometheus: PrometheusProcess;
let dataDir: string;

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not true within ${timeoutMs} ms`);
}

beforeAll(async () => {
  gateway = await startGateway();
  dataDir = await mkdtemp(join(tmpdir(), "load-test-prom-"));
  prometheus = await startPrometheus(`127.0.0.1:${gateway.port}`, dataDir);
  // Two scrapes of the gateway, so rate() has something to say.
  await until(async () => ((await prometheus.query("count_over_time(up[1m])"))[0]?.value ?? 0) >= 2, 20_000);
}, 40_000);

afterAll(async () => {
  await prometheus?.stop();
  await gateway?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("--monitor-prometheus with --monitor-query", () => {
  it("instant queries while it runs, the range over the window at the end, a bad query noted", async () => {
    const collector = new Collector({
      scrapeUrls: [],
      intervalMs: 1000,
      metricPatterns: [],
      prometheus: {
        url: prometheus.url,
        queries: [
          { name: "gateway_cpu", query: "sum by (instance) (rate(process_cpu_seconds_total[5s]))" },
          { name: "gateway_rss", query: "process_resident_memory_bytes" },
          { name: "broken", query: "rate(process_cpu_seconds_total[" },
        ],
      },
      logFiles: [],
      logPattern: "ERROR",
    });
    const fromMs = Date.now();
    for (let i = 0; i < 3; i += 1) {
      await collector.tick();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await collector.tick();
    const toMs = Date.now();
    const live = await collector.result({ fromMs, toMs, originMs: fromMs });
    const rss = live.series.find((s) => s.name === "gateway_rss");
    expect(rss?.labels).toMatchObject({ instance: `127.0.0.1:${gateway.port}` });
    // The range query (1 s steps from the window's start) replaced the instant points, which
    // were taken at whatever millisecond each tick ran.
    expect(rss?.points.length).toBeGreaterThanOrEqual(3);
    expect(rss?.points.map((point) => point.t)).toEqual(rss?.points.map((_, k) => k));
    for (const point of rss?.points ?? []) expect(point.value).toBeGreaterThan(10 * 1024 * 1024);
    const cpu = live.series.find((s) => s.name === "gateway_cpu");
    expect(cpu?.points.length).toBeGreaterThanOrEqual(1);
    expect(cpu?.points[0]?.value).toBeGreaterThanOrEqual(0);
    const broken = live.sources.find((s) => s.name.endsWith(" broken"));
    expect(broken).toMatchObject({ kind: "prometheus", attempts: 4, failures: 4 });
    expect(broken?.lastError).toMatch(/HTTP 400|parse error/);
    const rssSource = live.sources.find((s) => s.name.endsWith(" gateway_rss"));
    expect(rssSource).toMatchObject({ failures: 0, series: 1 });
    expect(rssSource?.lastError).toBeUndefined();
    await collector.close();
  }, 30_000);
});
