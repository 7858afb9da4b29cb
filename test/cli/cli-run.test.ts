import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { runCli } from "../helpers/cli.js";
import { allowEverything, delayed, json, startLocalServer, type LocalServer } from "../helpers/servers.js";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function outFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
}

/** A local server that answers everything (closed after the test) and a fresh results path. */
async function targetAndOut(): Promise<{ server: LocalServer; out: string }> {
  const server = await startLocalServer(allowEverything);
  servers.push(server);
  return { server, out: await outFile() };
}

async function readResult(path: string): Promise<RunResult> {
  return JSON.parse(await readFile(path, "utf8")) as RunResult;
}

describe("load-test against real local servers", () => {
  it("sends exactly rate × duration requests, evenly spaced (no per-second bursts)", async () => {
    const { server, out } = await targetAndOut();
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "200",
      "--duration",
      "3s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    expect(cli.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect([0, 3]).toContain(cli.code); // latency levels depend on the machine; the schedule is what is asserted
    expect(server.arrivalsMs).toHaveLength(600);
    const result = await readResult(out);
    expect(result.requests.total).toBe(600);
    expect(result.requests.success).toBe(600);
    expect(result.rate.achievedPerSec).toBeGreaterThan(190);
    expect(result.rate.achievedPerSec).toBeLessThan(205);
    // Evenly spaced: the median gap is the 5 ms interval, and no 100 ms window holds a burst.
    const arrivals = server.arrivalsMs;
    const gaps = arrivals
      .slice(1)
      .map((at, i) => at - (arrivals[i] as number))
      .sort((a, b) => a - b);
    const medianGap = gaps[Math.floor(gaps.length / 2)] as number;
    expect(medianGap).toBeGreaterThan(3.5);
    expect(medianGap).toBeLessThan(6.5);
    const t0 = arrivals[0] as number;
    const perWindow = new Map<number, number>();
    for (const at of arrivals)
      perWindow.set(Math.floor((at - t0) / 100), (perWindow.get(Math.floor((at - t0) / 100)) ?? 0) + 1);
    // 20 expected per 100 ms window; a per-second burst pattern would fill 3 of the 30 windows
    // with 200 each and leave the rest empty. Bounds leave room for a stall on a busy machine.
    const windowCounts = [...Array(30).keys()].map((w) => perWindow.get(w) ?? 0).sort((a, b) => a - b);
    expect(windowCounts.filter((n) => n > 0).length).toBeGreaterThanOrEqual(27);
    expect(windowCounts[15]).toBeGreaterThanOrEqual(16);
    expect(windowCounts[15]).toBeLessThanOrEqual(24);
    expect(windowCounts[29]).toBeLessThan(120);
    expect(result.timeline.length).toBeGreaterThanOrEqual(3);
    const sentInFullSeconds = result.timeline.slice(0, 3).map((entry) => entry.sent);
    for (const sent of sentInFullSeconds) expect(sent).toBeGreaterThanOrEqual(190);
    // Connection reuse: a handful of keep-alive connections, not one per request.
    expect(server.connections).toBeLessThanOrEqual(60); // 600 without reuse; a stall on a busy machine opens a few more
    expect(result.transport.connections.opened).toBe(server.connections);
    expect(result.transport.connections.byProtocol).toEqual({ "http/1.1": server.connections });
  });

  it("sends each request at its due time by default (--pacing precise); --pacing tick is up to 1 ms late", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const ownLagP50Ms: Record<string, number> = {};
    for (const pacing of ["precise", "tick"]) {
      const out = await outFile();
      const args = ["--target", server.url, "--rps", "500", "--duration", "2s", "--category", "normal"];
      const cli = await runCli([
        ...args,
        "--quiet",
        "--out",
        out,
        ...(pacing === "tick" ? ["--pacing", "tick"] : []),
      ]);
      expect([0, 3]).toContain(cli.code);
      const result = await readResult(out);
      expect(result.requests.total).toBe(1000);
      expect(result.generator.pacing).toBe(pacing);
      expect(cli.stdout).toContain(`${pacing} pacing`);
      ownLagP50Ms[pacing] = result.generator.ownSendLagMs.p50;
    }
    // Precise: ~0.05 ms here; tick: 0-1 ms spread over the tick, ~0.6 ms. Room for a busy machine.
    expect(ownLagP50Ms.precise).toBeLessThan(0.4);
    expect(ownLagP50Ms.precise).toBeLessThan(ownLagP50Ms.tick as number);
  });

  it("measures a known delay distribution", async () => {
    // 90% of answers after 5 ms, 10% after 40 ms.
    const server = await startLocalServer(delayed((i) => (i % 10 === 9 ? 40 : 5)));
    servers.push(server);
    const out = await outFile();
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "100",
      "--duration",
      "3s",
      "--warmup",
      "1s",
      "--category",
      "normal",
      "--out",
      out,
      "--quiet",
    ]);
    // P50 above 5 ms is critical in the spec's table.
    expect(cli.code).toBe(3);
    const result = await readResult(out);
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(5);
    expect(result.latencyMs.p50).toBeLessThan(15);
    expect(result.latencyMs.p99).toBeGreaterThanOrEqual(40);
    expect(result.latencyMs.p99).toBeLessThan(150); // generous: a noisy 2-core machine
    // The warm-up traffic is not in the results.
    expect(server.arrivalsMs).toHaveLength(400);
    expect(result.requests.total).toBe(300);
    expect(result.latencyMs.min).toBeGreaterThanOrEqual(5);
    expect(result.serviceTimeMs.p50).toBeGreaterThanOrEqual(5);
  });

  it.each([1, 2])(
    "a warm-up sends ceil(rate × warm-up) requests in its two passes, none of them recorded (--threads %i)",
    async (threads) => {
      const { server, out } = await targetAndOut();
      // 10 req/s for 1.05 s asks for 10.5 requests: 11, split 5 + 6 between the passes (two
      // halves of the time would have sent 6 + 6).
      const cli = await runCli([
        "--target",
        server.url,
        "--rps",
        "10",
        "--duration",
        "1s",
        "--warmup",
        "1050ms",
        "--threads",
        String(threads),
        "--out",
        out,
        "--quiet",
      ]);
      expect([0, 3]).toContain(cli.code);
      expect(server.arrivalsMs).toHaveLength(11 + 10);
      const result = await readResult(out);
      expect(result.requests.total).toBe(10);
      // The warm-up's last request is due at 1 s, then the measured run starts.
      expect((server.arrivalsMs[10] as number) - (server.arrivalsMs[0] as number)).toBeGreaterThan(900);
    },
  );

  it("shows a stalled target in p99: queue waits count from the intended send time (coordinated omission)", async () => {
    // The 50th request stalls for 600 ms; with one worker every request due meanwhile waits behind it.
    const server = await startLocalServer(delayed((i) => (i === 50 ? 600 : 0)));
    servers.push(server);
    const out = await outFile();
    await runCli([
      "--target",
      server.url,
      "--rps",
      "100",
      "--duration",
      "3s",
      "--category",
      "normal",
      "--max-in-flight",
      "1",
      "--out",
      out,
      "--quiet",
    ]);
    const result = await readResult(out);
    // --max-in-flight is the cap's documented name; --workers (its alias) is what the results call it.
    expect(result.generator.workers).toBe(1);
    expect(result.requests.total).toBe(300);
    // About 60 requests were due during the stall: far more than 1% of 300, so p99 carries the stall.
    expect(result.latencyMs.p99).toBeGreaterThan(300);
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(590);
    // The server itself was slow once: service time p99 stays small. A closed-loop tool would report only this.
    expect(result.serviceTimeMs.p99).toBeLessThan(100);
    expect(result.sendLagMs.max).toBeGreaterThan(400);
  });

  it("sends the Authorization header from --api-key or AXONFLOW_CLIENT_ID and never prints the key", async () => {
    const { server, out } = await targetAndOut();
    const secret = "sk-test-SECRET-1234567890";
    const cli = await runCli(
      ["--rps", "20", "--duration", "1s", "--category", "normal", "--out", out, "--header", "X-Tenant: acme"],
      {
        env: { AXONFLOW_ENDPOINT: `${server.url}/`, AXONFLOW_CLIENT_ID: secret },
      },
    );
    expect([0, 3]).toContain(cli.code);
    expect(server.authorizations.every((value) => value === `Bearer ${secret}`)).toBe(true);
    const fileText = await readFile(out, "utf8");
    for (const text of [cli.stdout, cli.stderr, fileText]) expect(text).not.toContain(secret);
    const body = server.bodies[0] as { prompt: string; mode: string };
    expect(typeof body.prompt).toBe("string");
    expect(body.mode).toBe("chat");
  });

  it("strips credentials from the target in results", async () => {
    const { server, out } = await targetAndOut();
    const withCredentials = server.url.replace("http://", "http://admin:hunter2@");
    const cli = await runCli([
      "run",
      "--target",
      withCredentials,
      "--rps",
      "10",
      "--duration",
      "1s",
      "--category",
      "normal",
      "--out",
      out,
    ]);
    expect([0, 3]).toContain(cli.code);
    const result = await readResult(out);
    expect(result.target).toBe(server.url);
    expect(cli.stdout + cli.stderr).not.toContain("hunter2");
  });

  it("classifies HTTP errors by status and counts them against the error rate", async () => {
    let index = 0;
    const server = await startLocalServer((_request, _body, response) => {
      index++;
      if (index % 4 === 0) json(response, 503, { error: "overloaded" });
      else if (index % 4 === 1) json(response, 429, { error: "slow down" });
      else json(response, 200, { success: true });
    });
    servers.push(server);
    const out = await outFile();
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "40",
      "--duration",
      "1s",
      "--category",
      "normal",
      "--out",
      out,
      "--quiet",
    ]);
    expect(cli.code).toBe(3);
    const result = await readResult(out);
    expect(result.errors).toEqual({ http_503: 10, http_429: 10 });
    expect(result.requests.error).toBe(20);
    expect(result.verdict.warnings.some((warning) => warning.startsWith("Error Rate > 0.1%"))).toBe(true);
    expect(cli.stdout).toContain("http_503");
  });
});

describe("generator trust when the target holds the in-flight cap", () => {
  it("a slow target fills --workers: send lag grows, the generator's own lag does not", async () => {
    // 5 slots × 100 ms = 50 req/s of capacity for 100 req/s asked: requests queue behind the cap.
    const server = await startLocalServer(delayed(() => 100));
    servers.push(server);
    const out = await outFile();
    const cli = await runCli([
      "--target",
      server.url,
      "--rps",
      "100",
      "--duration",
      "3s",
      "--workers",
      "5",
      "--threads",
      "1",
      "--category",
      "normal",
      "--quiet",
      "--out",
      out,
    ]);
    expect(cli.code).toBe(3); // critical: the target delivers half the asked rate
    const result = await readResult(out);
    expect(result.sendLagMs.p99).toBeGreaterThan(500); // the queue behind the cap
    expect(result.generator.ownSendLagMs.p99).toBeLessThan(result.sendLagMs.p99 / 10);
    // The queue behind the cap (over 500 ms) never condemns the generator; on a busy machine its
    // own event loop still may, and then the numbers say so.
    if (!result.generator.trustworthy) {
      expect(result.generator.eventLoopDelayMs.p99 > 5 || result.generator.ownSendLagMs.p99 > 5).toBe(true);
      expect(result.generator.ownSendLagMs.p99).toBeLessThan(500);
    }
    expect(result.requests.dropped).toBeGreaterThan(0);
  });
});

describe("--rps max: a closed loop", () => {
  /** Answers after 20 ms, counting how many requests the server holds at once. */
  function concurrencyCounting() {
    const seen = { now: 0, peak: 0 };
    const answer = delayed(() => 20);
    const respond: Parameters<typeof startLocalServer>[0] = (request, body, response) => {
      seen.now++;
      seen.peak = Math.max(seen.peak, seen.now);
      response.on("finish", () => seen.now--);
      answer(request, body, response);
    };
    return { seen, respond };
  }

  it.each([1, 2])(
    "keeps --workers requests in flight, each sent when an answer frees its slot (%i thread)",
    async (threads) => {
      const { seen, respond } = concurrencyCounting();
      const server = await startLocalServer(respond);
      servers.push(server);
      const out = await outFile();
      const cli = await runCli([
        "--target",
        server.url,
        "--rps",
        "max",
        "--workers",
        "4",
        "--threads",
        String(threads),
        "--duration",
        "2s",
        "--category",
        "normal",
        "--out",
        out,
      ]);
      expect(cli.stderr).toContain("at max rate (closed loop) for 2s");
      expect(cli.stdout).toContain("max rate (closed loop, 4 in flight)");
      expect(cli.stdout).toMatch(/Throughput +[\d.]+ req\/s achieved, closed loop/);
      const result = await readResult(out);
      // 20 ms answers miss the spec's latency table, and 4 in flight serve ~200 req/s: below the
      // methodology's 500 req/s per node (exit 3); nothing else may fail.
      expect(cli.code).toBe(3);
      const missed = result.verdict.checks
        .filter((check) => check.level !== "target")
        .map((check) => check.name);
      expect(missed).toContain("throughput_per_node");
      for (const name of missed) expect(name).toMatch(/^latency_p\d+_ms$|^throughput_per_node$/);
      const capacity = result.verdict.checks.find((check) => check.name === "throughput_per_node");
      expect(capacity?.level).toBe("critical");
      expect(capacity?.value).toBeCloseTo(result.rate.achievedPerSec, 6);
      expect(result.rate.nodes).toBe(1);
      expect(result.rate.closedLoop).toBe(true);
      expect(result.rate.targetPerSec).toBe(0);
      expect(result.generator.threads).toBe(threads);
      // 4 slots × 2 s ÷ 20 ms = 400 at most; a stall on a busy machine costs some.
      expect(result.requests.total).toBeLessThanOrEqual(400);
      expect(result.requests.total).toBeGreaterThanOrEqual(200);
      expect(result.requests.dropped).toBe(0);
      expect(seen.peak).toBe(4);
      expect(result.generator.maxInFlight).toBe(4);
      // Never late: intended = sent, so latency is service time (≥ the server's 20 ms) plus the
      // queue time before the write, microseconds on a free keep-alive connection.
      expect(result.sendLagMs.max).toBe(0);
      expect(result.queueTimeMs.p50).toBeLessThan(0.2);
      expect(Math.abs(result.latencyMs.p50 - result.serviceTimeMs.p50)).toBeLessThanOrEqual(0.2);
      expect(result.latencyMs.min).toBeGreaterThanOrEqual(20);
      expect(result.verdict.checks.find((check) => check.name === "throughput_ratio")?.level).toBe("target");
    },
  );
});
