/**
 * The monitor's reading of real pages: the reference gateway's /metrics (prom-client) and Debian's
 * prometheus-node-exporter, scraped by the Collector as a run would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../../src/monitor/collector.js";
import { NotPrometheusError, parsePage, readPage } from "../../src/monitor/exposition.js";
import { parseMetricPattern } from "../../src/monitor/pattern.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { startNodeExporter, type NodeExporter } from "../helpers/node-exporter.js";

let gateway: RunningGateway;
let exporter: NodeExporter;

beforeAll(async () => {
  gateway = await startGateway({ llmConcurrency: 7 });
  exporter = await startNodeExporter();
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await exporter?.stop();
});

async function page(url: string): Promise<string> {
  return (await fetch(url)).text();
}

const options = (scrapeUrls: string[], metricPatterns: string[] = []) => ({
  scrapeUrls,
  intervalMs: 1000,
  metricPatterns,
  logFiles: [],
  logPattern: "ERROR",
});

describe("the reference gateway's /metrics", () => {
  it("is a Node.js process with CPU, memory, heap, event-loop lag and the provider's pool", async () => {
    const reading = readPage(parsePage(await page(`${gateway.url}/metrics`)), []);
    expect(reading.detected).toBe("node");
    expect(reading.limitCores).toBe(1);
    const byName = new Map(reading.readings.map((r) => [r.name, r]));
    expect(byName.get("cpu")).toMatchObject({ unit: "cores", counter: true });
    expect(byName.get("memory_rss")?.value).toBeGreaterThan(10 * 1024 * 1024);
    expect(byName.get("heap_used")?.value).toBeGreaterThan(1024 * 1024);
    expect(byName.get("event_loop_lag")?.unit).toBe("ms");
    expect(byName.get("pool_in_use")).toMatchObject({
      value: 0,
      labels: { pool: "axonflow_gateway_llm_pool" },
    });
    expect(byName.get("pool_limit")?.value).toBe(7);
  });

  it("--monitor-metric keeps matching series; counters become rates per second", async () => {
    const collector = new Collector(
      options(
        [`${gateway.url}/metrics`],
        ['axonflow_gateway_requests_total{outcome="allowed"}', "*in_flight*"],
      ),
    );
    await collector.tick();
    for (let i = 0; i < 5; i += 1) {
      await fetch(`${gateway.url}/v1/execute`, {
        method: "POST",
        headers: { authorization: "Bearer t", "content-type": "application/json" },
        body: JSON.stringify({ prompt: "What is the weather like?" }),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await collector.tick();
    const result = await collector.result({ fromMs: 0, toMs: Date.now() + 1, originMs: 0 });
    const allowed = result.series.find((s) => s.name === "axonflow_gateway_requests_total");
    expect(allowed?.labels).toMatchObject({ outcome: "allowed" });
    expect(allowed?.unit).toBe("per_sec");
    expect(allowed?.points).toHaveLength(1);
    // 5 requests in ~0.2-1 s between the two scrapes.
    expect(allowed?.points[0]?.value).toBeGreaterThan(2);
    expect(allowed?.points[0]?.value).toBeLessThan(30);
    expect(result.series.some((s) => s.name === "axonflow_gateway_in_flight_requests")).toBe(true);
    expect(result.series.filter((s) => s.name === "axonflow_gateway_requests_total")).toHaveLength(1);
    expect(result.summary.cpu?.limitCores).toBe(1);
    expect(result.summary.pools).toEqual([
      expect.objectContaining({ name: "axonflow_gateway_llm_pool", peakInUse: 0, limit: 7, atLimit: false }),
    ]);
    await collector.close();
  });
});

describe("Debian's prometheus-node-exporter", () => {
  it("is read as the machine: busy CPU over all cores, their count, memory in use", async () => {
    const reading = readPage(parsePage(await page(exporter.url)), []);
    expect(reading.detected).toBe("node_exporter");
    expect(reading.limitCores).toBeGreaterThanOrEqual(1);
    const names = reading.readings.map((r) => r.name);
    expect(names).toContain("cpu");
    expect(names).toContain("memory_used");
    // node_exporter's own process metrics are not the machine's.
    expect(names).not.toContain("memory_rss");
  });

  it("gives the machine's CPU in cores between two scrapes", async () => {
    const collector = new Collector(
      options([exporter.url], ["node_load1", 'node_cpu_seconds_total{mode="user"}']),
    );
    await collector.tick();
    // Some CPU for the exporter to see.
    const until = Date.now() + 300;
    while (Date.now() < until) Math.sqrt(Math.random());
    await collector.tick();
    const result = await collector.result({ fromMs: 0, toMs: Date.now() + 1, originMs: 0 });
    const cpu = result.series.find((s) => s.name === "cpu");
    expect(cpu?.unit).toBe("cores");
    expect(cpu?.points[0]?.value).toBeGreaterThan(0.1);
    expect(cpu?.points[0]?.value).toBeLessThanOrEqual((result.summary.cpu?.limitCores ?? 0) + 0.5);
    expect(result.series.some((s) => s.name === "node_load1" && s.unit === "")).toBe(true);
    expect(result.series.filter((s) => s.name === "node_cpu_seconds_total").length).toBe(
      result.summary.cpu?.limitCores,
    );
    expect(result.sources[0]).toMatchObject({
      kind: "scrape",
      detected: "node_exporter",
      failures: 0,
      attempts: 2,
    });
    await collector.close();
  });
});

describe("pages that are not Prometheus text", () => {
  it("HTML, JSON and garbage are refused with a reason", () => {
    for (const text of [
      "<!doctype html><html></html>",
      '{"status":"ok"}',
      "hello world this is not metrics\n",
    ]) {
      expect(() => parsePage(text), text).toThrow(NotPrometheusError);
    }
    expect(parsePage("")).toEqual([]);
    // prom-client writes NaN as "Nan"; Prometheus (Go's ParseFloat) reads any case.
    expect(() => parsePage("a Nan\nb +Inf\nc -inf\nd NaN\n")).not.toThrow();
    expect(() => parseMetricPattern("ok")).not.toThrow();
  });
});
