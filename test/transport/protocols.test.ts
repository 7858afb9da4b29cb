import { describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport } from "../../src/transport/http.js";
import { allowEverything, startLocalServer } from "../helpers/servers.js";
import { localhostPkiForFile } from "../helpers/tls.js";
import { sendMany, startServer, transportFor, type TestServer } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * Protocol negotiation and connection control against real loopback servers: ALPN (h2, or
 * http/1.1 as a fallback), --http1, --http2, --h2c, --connections, --no-keepalive and
 * --max-requests-per-connection. One CA for the file.
 */
const tls = localhostPkiForFile();
const cleanups = cleanupAfterEach();

async function server(kind: Parameters<typeof startServer>[0], delayMs = 0): Promise<TestServer> {
  const started = await startServer(
    kind,
    kind === "h2c" ? { delayMs } : { key: tls.leaf.key, cert: tls.leaf.cert, delayMs },
  );
  cleanups.push(() => started.close());
  return started;
}

function transport(url: string, workers: number, raw: RawTransportFlags = {}): HttpTransport {
  const https = url.startsWith("https:");
  const flags = parseTransportFlags(https ? { ca: tls.pki.ca.certFile, ...raw } : raw, new URL(url), workers);
  const created = transportFor(url, workers, flags);
  cleanups.push(() => created.close());
  return created;
}

const statuses = (outcomes: Array<{ error: Error | null; status: number }>) =>
  outcomes.map((outcome) => (outcome.error ? analyzeTransportError(outcome.error).key : outcome.status));

describe("ALPN negotiation over TLS, like a browser", () => {
  it("an h2-only TLS 1.3 server: one connection carries every request as a stream", async () => {
    const target = await server("h2");
    const client = transport(target.url, 50);
    const outcomes = await sendMany(client, 200, 50);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary.mode).toBe("auto");
    expect(summary.protocol).toBe("h2");
    // 50 in flight -> the default is one multiplexed connection (one per 100 streams, 1..4).
    expect(summary.connections.opened).toBe(1);
    expect(summary.connections.limit).toBe(1);
    expect(summary.connections.streamsPerConnection).toBe(50);
    expect(summary.connections.byProtocol).toEqual({ h2: 1 });
    expect(summary.connections.byTlsVersion).toEqual({ "TLSv1.3": 1 });
    expect(summary.connections.requestsPerConnection).toEqual({ mean: 200, max: 200 });
    expect(summary.connections.connectMs.max).toBeGreaterThan(0);
    expect(summary.connections.tlsHandshakeMs.max).toBeGreaterThan(0);
    expect(summary.tls).toMatchObject({ minVersion: "TLSv1.2", verified: true, extraCa: true });
    expect(target.sessions).toBe(1);
    expect(target.requests).toBe(200);
    expect(target.maxConcurrentPerConnection).toBeGreaterThan(1); // streams really were multiplexed
    expect(target.secureConnections.map((c) => [c.alpn, c.tlsVersion])).toEqual([["h2", "TLSv1.3"]]);
    expect(client.warnings()).toEqual([]);
  });

  it("--connections 3 over h2: three connections share the streams", async () => {
    const target = await server("h2");
    const client = transport(target.url, 30, { connections: "3" });
    const outcomes = await sendMany(client, 90, 30);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary.connections.opened).toBe(3);
    expect(summary.connections.limit).toBe(3);
    expect(summary.connections.streamsPerConnection).toBe(10);
    expect(target.sessions).toBe(3);
    for (const count of target.requestsPerConnection) expect(count).toBeGreaterThan(0);
  });

  it("an HTTP/1.1-only TLS server: ALPN falls back to http/1.1, never pipelined, connections ≤ workers", async () => {
    const target = await server("https");
    const client = transport(target.url, 8);
    const outcomes = await sendMany(client, 120, 8);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary.protocol).toBe("http/1.1");
    expect(summary.connections.streamsPerConnection).toBeNull();
    expect(summary.connections.limit).toBe(8);
    expect(summary.connections.opened).toBeLessThanOrEqual(8);
    expect(summary.connections.opened).toBe(target.connections);
    expect(summary.connections.byTlsVersion).toEqual({ "TLSv1.3": summary.connections.opened });
    // The h2-sized pipelining never reaches an HTTP/1.1 connection.
    expect(target.maxConcurrentPerConnection).toBe(1);
    expect(target.secureConnections.every((c) => c.alpn === "http/1.1")).toBe(true);
  });

  it("a server offering both gets h2 by default, and HTTP/1.1 with --http1", async () => {
    const target = await server("h2+http1");
    const negotiated = transport(target.url, 4);
    await sendMany(negotiated, 8, 4);
    expect(negotiated.transportSummary().connections.byProtocol).toEqual({ h2: 1 });

    const forced = transport(target.url, 4, { http1: true });
    const outcomes = await sendMany(forced, 8, 4);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = forced.transportSummary();
    expect(summary.mode).toBe("http1");
    expect(summary.protocol).toBe("http/1.1");
    expect(target.secureConnections.slice(1).every((c) => c.alpn === "http/1.1")).toBe(true);
  });

  it("the probe reports protocol and TLS version; the run then uses the probe's connection", async () => {
    const target = await server("h2");
    const client = transport(target.url, 4, { http2: true });
    const probe = await client.probe();
    expect(probe).toMatchObject({ ok: true, protocol: "h2", tlsVersion: "TLSv1.3" });
    expect(client.transportSummary().connections.opened).toBe(0);
    const outcomes = await sendMany(client, 10, 4);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    expect(client.transportSummary().connections.byProtocol).toEqual({ h2: 1 });
    expect(target.connections).toBe(1); // no extra connection for the probe
  });

  it("over cleartext HTTP/1.1 too: the server sees exactly the connections the results count", async () => {
    const target = await startLocalServer(allowEverything);
    cleanups.push(() => target.close());
    const client = transport(target.url, 5);
    expect(await client.probe()).toMatchObject({ ok: true, protocol: "http/1.1", tlsVersion: "none" });
    // The first request rides on the probe's connection and is answered at once.
    const startedMs = performance.now();
    expect(statuses(await sendMany(client, 1, 1))).toEqual([200]);
    expect(performance.now() - startedMs).toBeLessThan(1000);
    await sendMany(client, 20, 5);
    expect(client.transportSummary().connections.opened).toBe(target.connections);
  });
});

describe("--http2 against a server without h2 fails clearly", () => {
  it("the probe names --http2 and what the server chose", async () => {
    const target = await server("https");
    const client = transport(target.url, 4, { http2: true });
    const probe = await client.probe();
    expect(probe.ok).toBe(false);
    if (probe.ok) return;
    expect(probe.flag).toBe("--http2");
    expect(probe.failure.key).toBe("protocol.no_h2");
    expect(probe.message).toMatch(/^--http2: https:\/\/127\.0\.0\.1:\d+ did not offer h2 via ALPN/);
  });

  it("without a probe, every request ends with protocol.no_h2 and the run does not hang", async () => {
    const target = await server("https");
    const client = transport(target.url, 4, { http2: true });
    const startedMs = performance.now();
    const outcomes = await sendMany(client, 12, 4);
    expect(performance.now() - startedMs).toBeLessThan(3000);
    expect(new Set(statuses(outcomes))).toEqual(new Set(["protocol.no_h2"]));
    const reason = analyzeTransportError(outcomes[0]?.error).reason;
    expect(reason).toMatch(/--http2: .* did not offer h2 via ALPN/);
    expect(client.transportSummary().connections).toMatchObject({ opened: 0 });
    expect(client.transportSummary().connections.failed).toBeGreaterThan(0);
    expect(target.requests).toBe(0);
  });
});

describe("--http1 against an h2-only server fails clearly", () => {
  it("the probe names --http1; requests end with tls.no_alpn", async () => {
    const target = await server("h2");
    const client = transport(target.url, 4, { http1: true });
    const probe = await client.probe();
    expect(probe.ok).toBe(false);
    if (!probe.ok) {
      expect(probe.flag).toBe("--http1");
      expect(probe.message).toMatch(/^--http1: https:\/\/127\.0\.0\.1:\d+ does not speak HTTP\/1\.1/);
    }
    const outcomes = await sendMany(client, 4, 2);
    expect(new Set(statuses(outcomes))).toEqual(new Set(["tls.no_alpn"]));
  });
});

describe("--h2c: HTTP/2 over cleartext with prior knowledge", () => {
  it("multiplexes streams on one cleartext connection", async () => {
    // Answers after 5 ms, so the server sees the streams overlap (an answer at once can end each
    // stream before the server reads the next one's frames, which came in the same write).
    const target = await server("h2c", 5);
    const client = transport(target.url, 20, { h2c: true });
    const outcomes = await sendMany(client, 100, 20);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary.mode).toBe("h2c");
    expect(summary.protocol).toBe("h2c");
    expect(summary.tls).toBeNull();
    expect(summary.connections.byTlsVersion).toEqual({ none: 1 });
    expect(summary.connections.tlsHandshakeMs.max).toBe(0);
    expect(target.sessions).toBe(1);
    expect(target.requests).toBe(100);
    expect(target.maxConcurrentPerConnection).toBeGreaterThan(1);
    expect(await client.probe()).toMatchObject({ ok: true, protocol: "h2c", tlsVersion: "none" });
  });

  it("the probe's connection is the run's first: the server sees as many sessions as the results count", async () => {
    const target = await server("h2c", 0);
    const client = transport(target.url, 4, { h2c: true });
    expect(await client.probe()).toMatchObject({ ok: true, protocol: "h2c" });
    const outcomes = await sendMany(client, 20, 4);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    expect(target.sessions).toBe(1);
    expect(client.transportSummary().connections.opened).toBe(1);
  });

  it("against an HTTP/1.1 server: the probe names --h2c, requests end with a protocol error", async () => {
    const target = await startLocalServer(allowEverything);
    cleanups.push(() => target.close());
    const client = transport(target.url, 4, { h2c: true });
    const probe = await client.probe();
    expect(probe.ok).toBe(false);
    if (!probe.ok) {
      expect(probe.flag).toBe("--h2c");
      expect(probe.message).toMatch(/^--h2c: http:\/\/127\.0\.0\.1:\d+ did not answer HTTP\/2/);
    }
    const outcomes = await sendMany(client, 4, 2);
    for (const outcome of outcomes)
      expect(outcome.error && analyzeTransportError(outcome.error).kind).toBe("protocol");
  });
});

describe("connection control", () => {
  it("plain HTTP/1.1 keeps connections alive and records reuse", async () => {
    const target = await startLocalServer(allowEverything);
    cleanups.push(() => target.close());
    const client = transport(target.url, 10);
    const outcomes = await sendMany(client, 100, 10);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary).toMatchObject({ mode: "auto", protocol: "http/1.1", tls: null });
    expect(summary.connections.opened).toBe(target.connections);
    expect(summary.connections.opened).toBeLessThanOrEqual(10);
    expect(summary.connections.byTlsVersion).toEqual({ none: summary.connections.opened });
    expect(summary.connections.requestsPerConnection.mean).toBeCloseTo(100 / summary.connections.opened, 1);
    expect(client.stats).toEqual({
      opened: summary.connections.opened,
      byProtocol: { "http/1.1": summary.connections.opened },
      byTlsVersion: { none: summary.connections.opened },
    });
  });

  it("a burst over HTTP/1.1 TLS: at most 16 handshakes at once, the rest wait for a free connection", async () => {
    const target = await startServer("https", {
      key: tls.leaf.key,
      cert: tls.leaf.cert,
      handshakeDelayMs: 30,
    });
    cleanups.push(() => target.close());
    const client = transport(target.url, 200, { servername: "localhost" });
    const outcomes = await sendMany(client, 400, 200);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    expect(client.connectingPeak).toBe(16);
    // Without the bound, 200 requests in flight open 200 connections.
    expect(client.transportSummary().connections.opened).toBeLessThan(200);
    expect(client.transportSummary().connections.opened).toBe(target.connections);
    expect(target.maxConcurrentPerConnection).toBe(1);
    expect(client.inFlightCount).toBe(0);
  });

  it("--connections 2 below --workers 8 over HTTP/1.1: requests wait for one of the two", async () => {
    const target = await server("https");
    const client = transport(target.url, 8, { connections: "2" });
    const outcomes = await sendMany(client, 40, 8);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    expect(client.transportSummary().connections).toMatchObject({ opened: 2, limit: 2 });
    expect(target.maxConcurrentPerConnection).toBe(1);
    expect(target.requestsPerConnection.reduce((a, b) => a + b, 0)).toBe(40);
  });

  it("--no-keepalive over HTTP/1.1 TLS: one connection per request, resumed TLS sessions", async () => {
    const target = await server("https");
    const client = transport(target.url, 4, { keepalive: false });
    const outcomes = await sendMany(client, 20, 4);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary.connections.opened).toBe(20);
    expect(target.connections).toBe(20);
    expect(target.requestsPerConnection).toEqual(Array.from({ length: 20 }, () => 1));
    expect(summary.connections.requestsPerConnection).toEqual({ mean: 1, max: 1 });
    expect(summary.connections.keepAlive).toBe(false);
    // A returning client resumes its TLS session (RFC 8446 §2.2), as a browser does.
    expect(summary.connections.resumed).toBeGreaterThan(0);
    expect(target.secureConnections.filter((c) => c.resumed).length).toBe(summary.connections.resumed);
  });

  it("--no-keepalive over h2: one connection per request", async () => {
    const target = await server("h2");
    const client = transport(target.url, 4, { keepalive: false });
    const outcomes = await sendMany(client, 12, 4);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    expect(client.transportSummary().connections).toMatchObject({
      opened: 12,
      byProtocol: { h2: 12 },
      requestsPerConnection: { mean: 1, max: 1 },
    });
    expect(target.sessions).toBe(12);
  });

  it("--max-requests-per-connection 5 over HTTP/1.1: 25 requests, 5 connections of exactly 5", async () => {
    const target = await server("https");
    const client = transport(target.url, 1, { maxRequestsPerConnection: "5" });
    const outcomes = await sendMany(client, 25, 1);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const summary = client.transportSummary();
    expect(summary.connections.opened).toBe(5);
    expect(summary.connections.requestsPerConnection).toEqual({ mean: 5, max: 5 });
    expect(summary.connections.maxRequestsPerConnection).toBe(5);
    expect(target.requestsPerConnection).toEqual([5, 5, 5, 5, 5]);
  });

  it("--max-requests-per-connection 5 with 4 in flight: no connection carries more than 5", async () => {
    const target = await startLocalServer(allowEverything);
    cleanups.push(() => target.close());
    const client = transport(target.url, 4, { maxRequestsPerConnection: "5" });
    const outcomes = await sendMany(client, 40, 4);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    const { connections } = client.transportSummary();
    expect(connections.requestsPerConnection.max).toBe(5);
    expect(connections.opened).toBe(target.connections);
    expect(connections.opened).toBeGreaterThanOrEqual(8);
    expect(connections.opened).toBeLessThanOrEqual(8 + 4);
  });

  it("--max-requests-per-connection 5 over h2: 25 requests, 5 connections", async () => {
    const target = await server("h2");
    const client = transport(target.url, 1, { maxRequestsPerConnection: "5" });
    const outcomes = await sendMany(client, 25, 1);
    expect(new Set(statuses(outcomes))).toEqual(new Set([200]));
    expect(client.transportSummary().connections).toMatchObject({
      opened: 5,
      requestsPerConnection: { mean: 5, max: 5 },
    });
    expect(target.sessions).toBe(5);
  });
});
