import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport, TransportSummary } from "../../src/transport/http.js";
import { startRawHttp1Server } from "../helpers/raw-http1-server.js";
import { startNginx, type NginxAccess, type NginxOptions, type NginxProcess } from "../helpers/nginx.js";
import { allowEverything, startLocalServer } from "../helpers/servers.js";
import { createTestPki, type PemPair, type TestPki } from "../helpers/tls.js";
import { POST, sendMany, startServer, transportFor, type Outcome } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * Interop: our HTTP/1.1 and HTTP/2 clients against servers we did not write (Debian's nginx over
 * HTTP/1.1, h2c and h2 over TLS 1.3; node:http and node:http2), and raw node:net servers for what
 * those never do (HTTP/1.0, truncated bodies). Each case compares what the transport counted
 * (successes, connections opened, requests per connection) with what the server saw itself
 * (nginx's access log: status, protocol, connection serial, the request's index on it).
 *
 * The HTTP/2 nginx cases set `keepalive_requests 100000`: with nginx's default (1000) a long run
 * meets a GOAWAY, which is the HTTP/2 client's own test (test/transport/http2.test.ts).
 */
const cleanups = cleanupAfterEach();

let pki: TestPki;
let serverCert: PemPair;
beforeAll(async () => {
  pki = await createTestPki("interop CA");
  serverCert = await pki.issue("localhost", { ips: ["127.0.0.1"] });
});
afterAll(async () => {
  await pki.cleanup();
});

async function nginx(options: NginxOptions): Promise<NginxProcess> {
  const server = await startNginx(options);
  cleanups.push(() => server.stop());
  return server;
}

function transport(url: string, raw: RawTransportFlags = {}, workers = 1): HttpTransport {
  const created = transportFor(url, workers, parseTransportFlags(raw, new URL(url), workers), 5_000);
  cleanups.push(() => created.close());
  return created;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** nginx writes a log line once the response is out, maybe after the client has it: wait for `count` (bounded). */
async function accessLog(server: NginxProcess, count: number): Promise<NginxAccess[]> {
  const deadlineMs = performance.now() + 5_000;
  for (;;) {
    const lines = await server.accessLog();
    if (lines.length >= count || performance.now() > deadlineMs) return lines;
    await sleep(20);
  }
}

const outcomeOf = (outcome: Outcome): string | number =>
  outcome.error ? analyzeTransportError(outcome.error).key : outcome.status;

/** Counts the errors by key, and the successes as `200`. */
function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = String(outcomeOf(outcome));
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** What the access log says about connections: how many, and requests on each. */
function logConnections(lines: NginxAccess[]): { opened: number; max: number } {
  const perConnection = new Map<number, number>();
  for (const line of lines) {
    perConnection.set(
      line.connection,
      Math.max(perConnection.get(line.connection) ?? 0, line.connectionRequests),
    );
  }
  return { opened: perConnection.size, max: Math.max(0, ...perConnection.values()) };
}

/** Our counts against nginx's: every request we call a success it logged as 200, over as many connections. */
function expectSameAsNginx(summary: TransportSummary, outcomes: Outcome[], lines: NginxAccess[]): void {
  const successes = outcomes.filter((outcome) => outcome.error === null && outcome.status === 200).length;
  expect(lines.filter((line) => line.status === 200)).toHaveLength(successes);
  const seen = logConnections(lines);
  expect(summary.connections.opened).toBe(seen.opened);
  expect(summary.connections.requestsPerConnection.max).toBe(seen.max);
  expect(summary.connections.failed).toBe(0);
}

describe("nginx over HTTP/1.1", () => {
  it("8 workers, 400 requests: all succeed, and nginx saw as many connections and requests per connection", async () => {
    const server = await nginx({ listen: "" });
    const client = transport(server.url, {}, 8);
    const outcomes = await sendMany(client, 400, 8, POST);
    expect(tally(outcomes)).toEqual({ 200: 400 });
    const lines = await accessLog(server, 400);
    expect(new Set(lines.map((line) => line.protocol))).toEqual(new Set(["HTTP/1.1"]));
    const summary = client.transportSummary();
    expectSameAsNginx(summary, outcomes, lines);
    expect(summary).toMatchObject({ protocol: "http/1.1", retried: { total: 0 } });
    expect(summary.connections.opened).toBeLessThanOrEqual(8);
  });

  it("keepalive_requests 100: 250 requests over 3 connections (100, 100, 50), no error", async () => {
    const server = await nginx({ listen: "", http: "keepalive_requests 100;" });
    const client = transport(server.url);
    const outcomes = await sendMany(client, 250, 1, POST);
    expect(tally(outcomes)).toEqual({ 200: 250 });
    const lines = await accessLog(server, 250);
    expectSameAsNginx(client.transportSummary(), outcomes, lines);
    const perConnection = new Map<number, number>();
    for (const line of lines) perConnection.set(line.connection, line.connectionRequests);
    expect([...perConnection.values()]).toEqual([100, 100, 50]);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("keepalive_timeout 1s at ~1 req/s: the server's idle closes are never errors, and nginx logs each request once", async () => {
    // The idle-close race: a request written as nginx closes the connection it idled on. nginx
    // never sees it (nothing in its log); the client sends it again on a new connection, and
    // from the closes it sees learns to retire idle connections before nginx does. The gaps
    // between sends sweep across nginx's 1 s, where the race is; the last two are clearly
    // past it, so nginx closes at least one connection whatever the timing.
    const server = await nginx({ listen: "", http: "keepalive_timeout 1s;" });
    const client = transport(server.url);
    const gapsMs = [996, 998, 1_000, 1_002, 1_004, 1_100, 1_200];
    const outcomes: Outcome[] = [];
    for (const gapMs of [...gapsMs, 0]) {
      const sentAtMs = performance.now();
      outcomes.push(...(await sendMany(client, 1, 1, POST)));
      await sleep(Math.max(0, gapMs - (performance.now() - sentAtMs)));
    }
    expect(tally(outcomes)).toEqual({ 200: 8 });
    const lines = await accessLog(server, 8);
    expect(lines).toHaveLength(8);
    expectSameAsNginx(client.transportSummary(), outcomes, lines);
    expect(logConnections(lines).opened).toBeGreaterThanOrEqual(2);
  }, 30_000);
});

describe("nginx over HTTP/2", () => {
  it("h2c (prior knowledge), 16 streams: all succeed over one connection, as nginx logged", async () => {
    const server = await nginx({ listen: "http2", http: "keepalive_requests 100000;" });
    const client = transport(server.url, { h2c: true }, 16);
    const outcomes = await sendMany(client, 400, 16, POST);
    expect(tally(outcomes)).toEqual({ 200: 400 });
    const lines = await accessLog(server, 400);
    expect(new Set(lines.map((line) => line.protocol))).toEqual(new Set(["HTTP/2.0"]));
    const summary = client.transportSummary();
    expectSameAsNginx(summary, outcomes, lines);
    expect(summary).toMatchObject({ protocol: "h2c", connections: { opened: 1, byProtocol: { h2c: 1 } } });
  });

  it("h2 over TLS 1.3 (--http2 --tls-min 1.3): negotiated as asked, counts as nginx's", async () => {
    const server = await nginx({
      listen: "ssl http2",
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile },
      http: "keepalive_requests 100000;",
    });
    const client = transport(server.url, { http2: true, tlsMin: "1.3", ca: pki.ca.certFile }, 16);
    const outcomes = await sendMany(client, 300, 16, POST);
    expect(tally(outcomes)).toEqual({ 200: 300 });
    const lines = await accessLog(server, 300);
    expect(new Set(lines.map((line) => line.protocol))).toEqual(new Set(["HTTP/2.0"]));
    const summary = client.transportSummary();
    expectSameAsNginx(summary, outcomes, lines);
    expect(summary).toMatchObject({
      protocol: "h2",
      connections: { opened: 1, byProtocol: { h2: 1 }, byTlsVersion: { "TLSv1.3": 1 } },
      tls: { minVersion: "TLSv1.3", verified: true },
    });
  });

  it("h2 over TLS by ALPN after the preflight probe: the probe's connection is the run's first, nginx sees one", async () => {
    const server = await nginx({
      listen: "ssl http2",
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile },
      http: "keepalive_requests 100000;",
    });
    const client = transport(server.url, { ca: pki.ca.certFile }, 4);
    expect(await client.probe()).toMatchObject({ ok: true, protocol: "h2", tlsVersion: "TLSv1.3" });
    const outcomes = await sendMany(client, 100, 4, POST);
    expect(tally(outcomes)).toEqual({ 200: 100 });
    const lines = await accessLog(server, 100);
    expectSameAsNginx(client.transportSummary(), outcomes, lines);
    expect(client.transportSummary().connections.opened).toBe(1);
  });
});

describe("node:http and node:http2", () => {
  it("node:http, 4 workers: as many requests and connections as the server counted", async () => {
    const server = await startLocalServer(allowEverything);
    cleanups.push(() => server.close());
    const client = transport(server.url, {}, 4);
    const outcomes = await sendMany(client, 200, 4, POST);
    expect(tally(outcomes)).toEqual({ 200: 200 });
    expect(server.arrivalsMs).toHaveLength(200);
    expect(client.transportSummary().connections).toMatchObject({ opened: server.connections, failed: 0 });
  });

  it("node:http2 (h2c), 8 streams: the server's sessions and requests per session are ours", async () => {
    const server = await startServer("h2c");
    cleanups.push(() => server.close());
    const client = transport(server.url, { h2c: true }, 8);
    const outcomes = await sendMany(client, 200, 8, POST);
    expect(tally(outcomes)).toEqual({ 200: 200 });
    expect(server.requests).toBe(200);
    const summary = client.transportSummary();
    expect(summary.connections.opened).toBe(server.sessions);
    expect(summary.connections.requestsPerConnection.max).toBe(Math.max(...server.requestsPerConnection));
  });
});

/** A raw server answering every request with `respond`, closed after the test. */
async function rawServer(respond: Parameters<typeof startRawHttp1Server>[0]) {
  const server = await startRawHttp1Server(respond);
  cleanups.push(server.close);
  return server;
}

describe("raw servers: what nginx and node never send", () => {
  it("HTTP/1.0 responses: connections counted as http/1.0, one per request, no error", async () => {
    const server = await rawServer((socket) => socket.end("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"));
    const client = transport(server.url, {}, 2);
    const outcomes = await sendMany(client, 20, 2, POST);
    expect(tally(outcomes)).toEqual({ 200: 20 });
    expect(server.state).toEqual({ connections: 20, requests: 20 });
    expect(client.transportSummary()).toMatchObject({
      protocol: "http/1.0",
      connections: { opened: 20, byProtocol: { "http/1.0": 20 } },
    });
  });

  it("a content-length longer than the body, then a close: protocol.truncated_body, never retried", async () => {
    const server = await rawServer((socket) =>
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"success":'),
    );
    const client = transport(server.url);
    const outcomes = await sendMany(client, 5, 1, POST);
    expect(tally(outcomes)).toEqual({ "protocol.truncated_body": 5 });
    expect(server.state).toEqual({ connections: 5, requests: 5 });
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("a server closing a reused connection as the next request arrives: each sent again once, every one answered", async () => {
    // The idle-close race made deterministic: the server answers the first request on a
    // connection, and closes the connection when the second arrives, unanswered.
    const server = await rawServer((socket, index, onConnection) => {
      if (onConnection === 0)
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nr${String(index).padStart(3, "0")}`);
      else socket.end();
    });
    const client = transport(server.url);
    const outcomes = await sendMany(client, 10, 1, POST);
    expect(tally(outcomes)).toEqual({ 200: 10 });
    // Requests 2..10 each reached a connection that closed on them, then a new one.
    expect(server.state).toEqual({ connections: 10, requests: 19 });
    expect(client.transportSummary()).toMatchObject({
      retried: { total: 9, byReason: { idle_close: 9 } },
      connections: { opened: 10, failed: 0 },
    });
  });
});
