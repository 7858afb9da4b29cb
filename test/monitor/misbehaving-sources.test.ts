/**
 * Sources that hang, trickle, are too large, are not Prometheus, or refuse: each costs the
 * monitor a failure note within its deadline, never a stall, and the good source beside it is
 * read as usual (docs/MONITOR.md "A source that misbehaves").
 */
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../../src/monitor/collector.js";
import { startMonitor } from "../../src/monitor/monitor.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { closedPort, startLocalServer, type LocalServer } from "../helpers/servers.js";

let gateway: RunningGateway;
let hanging: LocalServer;
let trickle: LocalServer;
let huge: LocalServer;
let html: LocalServer;
let refusedUrl: string;
const open: ServerResponse[] = [];
const timers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  gateway = await startGateway();
  // Accepts the request and never answers.
  hanging = await startLocalServer((_request, _body, response) => open.push(response));
  // Answers at once, then a byte every 100 ms, forever.
  trickle = await startLocalServer((_request, _body, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    open.push(response);
    const timer = setInterval(() => response.write("#"), 100);
    timers.push(timer);
    response.on("close", () => clearInterval(timer));
  });
  // 3 MB of valid metrics: larger than the 1 MB the test allows.
  const big = Array.from({ length: 60_000 }, (_, i) => `big_metric{i="${i}"} ${i}\n`).join("");
  huge = await startLocalServer((_request, _body, response) => response.end(big));
  html = await startLocalServer((_request, _body, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!doctype html><title>login</title>");
  });
  refusedUrl = `http://127.0.0.1:${await closedPort()}/metrics`;
});

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  for (const response of open) response.destroy();
  await Promise.all([gateway, hanging, trickle, huge, html].map((server) => server?.close()));
});

describe("misbehaving monitor sources", () => {
  it("each fails within the deadline with its reason; the good source is read", async () => {
    const collector = new Collector({
      scrapeUrls: [
        `${gateway.url}/metrics`,
        `${hanging.url}/metrics`,
        `${trickle.url}/metrics`,
        `${huge.url}/metrics`,
        `${html.url}/metrics`,
        refusedUrl,
      ],
      intervalMs: 1000,
      metricPatterns: [],
      logFiles: [],
      logPattern: "ERROR",
      timeoutMs: 1000,
      maxBytes: 1024 * 1024,
    });
    const started = performance.now();
    await collector.tick();
    await collector.tick();
    const elapsedMs = performance.now() - started;
    // Two rounds, each bounded by the 1 s deadline (generous slack for a busy machine).
    expect(elapsedMs).toBeLessThan(2 * 1000 + 1500);
    const result = await collector.result({ fromMs: 0, toMs: Date.now() + 1, originMs: 0 });
    const byName = new Map(result.sources.map((source) => [source.name, source]));
    expect(byName.get(`${gateway.url}/metrics`)).toMatchObject({ attempts: 2, failures: 0 });
    expect(byName.get(`${hanging.url}/metrics`)).toMatchObject({
      attempts: 2,
      failures: 2,
      lastError: "no answer within 1000 ms",
    });
    expect(byName.get(`${trickle.url}/metrics`)).toMatchObject({
      failures: 2,
      lastError: "no answer within 1000 ms",
    });
    expect(byName.get(`${huge.url}/metrics`)).toMatchObject({
      failures: 2,
      lastError: "larger than 1048576 bytes",
    });
    expect(byName.get(`${html.url}/metrics`)?.lastError).toBe("not Prometheus text");
    expect(byName.get(refusedUrl)?.lastError).toBe("connection refused");
    expect(result.series.find((s) => s.name === "cpu")?.points).toHaveLength(1);
    await collector.close();
  });

  it("a source still busy from the last round is skipped, not queued", async () => {
    const collector = new Collector({
      scrapeUrls: [`${hanging.url}/slow`],
      intervalMs: 1000,
      metricPatterns: [],
      logFiles: [],
      logPattern: "ERROR",
      timeoutMs: 600,
    });
    const first = collector.tick();
    await collector.tick();
    await first;
    const result = await collector.result({ fromMs: 0, toMs: Date.now(), originMs: 0 });
    expect(result.sources[0]?.attempts).toBe(1);
    await collector.close();
  });

  it("in its worker thread: results and stop stay bounded while a source hangs", async () => {
    const monitor = startMonitor({
      scrapeUrls: [`${gateway.url}/metrics`, `${hanging.url}/metrics`],
      intervalMs: 200,
      metricPatterns: [],
      logFiles: [],
      logPattern: "ERROR",
    });
    const startedMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(monitor.live().cpuCores).toBeGreaterThanOrEqual(0);
    expect(monitor.live().limitCores).toBe(1);
    const answer = await monitor.result({ fromMs: startedMs, toMs: Date.now(), originMs: startedMs });
    if ("failed" in answer) throw new Error(answer.failed);
    const cpu = answer.series.find((s) => s.name === "cpu" && s.labels.source === `${gateway.url}/metrics`);
    expect(cpu?.points.length).toBeGreaterThanOrEqual(3);
    expect(answer.sources.find((s) => s.name === `${hanging.url}/metrics`)?.failures).toBeGreaterThanOrEqual(
      1,
    );
    const stopStarted = performance.now();
    await monitor.stop();
    expect(performance.now() - stopStarted).toBeLessThan(3000);
    expect(await monitor.result({ fromMs: 0, toMs: 1, originMs: 0 })).toEqual({ failed: expect.any(String) });
  });
});
