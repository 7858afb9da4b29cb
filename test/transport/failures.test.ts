import { constants, createServer as createH2cServer, type ServerHttp2Stream } from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport } from "../../src/transport/http.js";
import { closedPort, json, startLocalServer, type Responder } from "../helpers/servers.js";
import { sendMany, transportFor, type Outcome } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * Failures keep stable kinds and say where they happened: the timeout phase, refused, reset,
 * HTTP/2 RST_STREAM and GOAWAY. Every failing request ends (no hang), within about --timeout.
 */
const cleanups = cleanupAfterEach();

const TIMEOUT_MS = 300;

function transport(url: string, raw: RawTransportFlags = {}, workers = 4): HttpTransport {
  const created = transportFor(url, workers, parseTransportFlags(raw, new URL(url), workers), TIMEOUT_MS);
  cleanups.push(() => created.close());
  return created;
}

async function h1Server(respond: Responder): Promise<string> {
  const server = await startLocalServer(respond);
  cleanups.push(() => server.close());
  return server.url;
}

/** An h2c server whose i-th stream is handled by `onStream(stream, i)`. */
async function h2cServer(onStream: (stream: ServerHttp2Stream, index: number) => void): Promise<string> {
  const server = createH2cServer();
  let index = 0;
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    onStream(stream, index++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const answer = (stream: ServerHttp2Stream): void => {
  stream.respond({ ":status": 200, "content-type": "application/json" });
  stream.end('{"success":true}');
};

function keysOf(outcomes: Outcome[]): Set<string | number> {
  return new Set(outcomes.map((o) => (o.error ? analyzeTransportError(o.error).key : o.status)));
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; tookMs: number }> {
  const startedMs = performance.now();
  const value = await work;
  return { value, tookMs: performance.now() - startedMs };
}

describe("timeouts keep kind timeout and record the phase", () => {
  it("no response headers: timeout.headers, at about --timeout", async () => {
    const url = await h1Server(() => undefined); // reads the request, never answers
    const { value, tookMs } = await timed(sendMany(transport(url), 3, 3));
    expect(keysOf(value)).toEqual(new Set(["timeout.headers"]));
    expect(analyzeTransportError(value[0]?.error).reason).toBe(
      "timeout: no response headers within --timeout 300ms (LOAD_TEST_TIMEOUT)",
    );
    expect(tookMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(tookMs).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it("headers but no end of body: timeout.body", async () => {
    const url = await h1Server((_request, _body, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"partial":');
    });
    const { value } = await timed(sendMany(transport(url), 2, 2));
    expect(keysOf(value)).toEqual(new Set(["timeout.body"]));
  });

  it("a TLS handshake that never completes: timeout.connect for the request and those waiting for ALPN", async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => {
      sockets.add(socket);
      socket.resume(); // accepts TCP, never answers the ClientHello
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const url = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const client = transport(url);
    const { value, tookMs } = await timed(sendMany(client, 4, 4));
    expect(keysOf(value)).toEqual(new Set(["timeout.connect"]));
    expect(tookMs).toBeLessThan(TIMEOUT_MS + 1500);
    expect(client.inFlightCount).toBe(0);
  });

  it("over HTTP/2 a timed-out stream is cancelled and the connection carries on", async () => {
    const url = await h2cServer((stream, index) => {
      if (index > 0) answer(stream); // the first stream is never answered
    });
    const client = transport(url, { h2c: true });
    const outcomes = await sendMany(client, 5, 1);
    expect(outcomes.map((o) => (o.error ? analyzeTransportError(o.error).key : o.status))).toEqual([
      "timeout.headers",
      200,
      200,
      200,
      200,
    ]);
    expect(client.transportSummary().connections.opened).toBe(1);
  });

  it("abortAll() ends every request in flight at once", async () => {
    const url = await h1Server(() => undefined);
    const client = transportFor(url, 4, undefined, 60_000);
    cleanups.push(() => client.close());
    const pending = sendMany(client, 4, 4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.inFlightCount).toBe(4);
    client.abortAll();
    const { value, tookMs } = await timed(pending);
    expect(tookMs).toBeLessThan(1000);
    expect(value.every((o) => o.error && analyzeTransportError(o.error).kind === "timeout")).toBe(true);
  });
});

describe("connection failures", () => {
  it("nothing listening: connect_refused, counted as failed connections", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const client = transport(url);
    const { value, tookMs } = await timed(sendMany(client, 6, 3));
    expect(keysOf(value)).toEqual(new Set(["connect_refused"]));
    expect(analyzeTransportError(value[0]?.error).reason).toMatch(
      /^connect_refused: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
    );
    expect(tookMs).toBeLessThan(2000);
    expect(client.transportSummary().connections).toMatchObject({ opened: 0 });
    expect(client.transportSummary().connections.failed).toBeGreaterThan(0);
  });

  it("the server drops the connection mid-request: reset", async () => {
    const url = await h1Server((request) => request.socket.destroy());
    const outcomes = await sendMany(transport(url), 4, 2);
    for (const key of keysOf(outcomes)) expect(String(key)).toMatch(/^reset\./);
  });

  it("HTTP/2 RST_STREAM: protocol.rst_stream, and other streams still succeed", async () => {
    const url = await h2cServer((stream, index) => {
      if (index % 2 === 0) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      else answer(stream);
    });
    const outcomes = await sendMany(transport(url, { h2c: true }), 6, 1);
    expect(outcomes.map((o) => (o.error ? analyzeTransportError(o.error).key : o.status))).toEqual([
      "protocol.rst_stream",
      200,
      "protocol.rst_stream",
      200,
      "protocol.rst_stream",
      200,
    ]);
    expect(analyzeTransportError(outcomes[0]?.error).reason).toMatch(
      /^protocol: the server reset the HTTP\/2 stream \(.*NGHTTP2_INTERNAL_ERROR\)$/,
    );
  });

  it("HTTP/2 GOAWAY: protocol.goaway, then a new connection", async () => {
    const url = await h2cServer((stream, index) => {
      if (index === 0) stream.session?.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      else answer(stream);
    });
    const client = transport(url, { h2c: true });
    const outcomes = await sendMany(client, 4, 1);
    expect(outcomes.map((o) => (o.error ? analyzeTransportError(o.error).key : o.status))).toEqual([
      "protocol.goaway",
      200,
      200,
      200,
    ]);
    expect(client.transportSummary().connections.opened).toBe(2);
  });

  it("a plain HTTP server answers normally through the same transport (control)", async () => {
    const url = await h1Server((_request, _body, response) => json(response, 200, { ok: true }));
    expect(keysOf(await sendMany(transport(url), 4, 2))).toEqual(new Set([200]));
  });
});
