import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { parseTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport } from "../../src/transport/http.js";
import { MAX_RETRIES } from "../../src/transport/http2.js";
import { MAX_STREAM_ID, startRawH2Server, type RawServerOptions } from "../helpers/h2-raw-server.js";
import { sendMany, transportFor, type Outcome } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * Connection recycling over HTTP/2 (RFC 9113 §6.8, §8.7; docs/TRANSPORT.md "Retries"): a
 * graceful GOAWAY is normal server behaviour, so the streams it did not process are sent again
 * on a new connection, a bounded number of times, within their timeout; what a server really
 * refused stays an error. The server is a raw one (test/helpers/h2-raw-server.ts) so the test
 * chooses the last stream id and the moment of each GOAWAY.
 */
const cleanups = cleanupAfterEach();

async function rawServer(options: RawServerOptions): Promise<Awaited<ReturnType<typeof startRawH2Server>>> {
  const server = await startRawH2Server(options);
  cleanups.push(() => server.close());
  return server;
}

function h2c(url: string, workers: number, timeoutMs = 2_000): HttpTransport {
  const created = transportFor(
    url,
    workers,
    parseTransportFlags({ h2c: true }, new URL(url), workers),
    timeoutMs,
  );
  cleanups.push(() => created.close());
  return created;
}

const keyOf = (outcome: Outcome): string | number =>
  outcome.error ? analyzeTransportError(outcome.error).key : outcome.status;

describe("HTTP/2 GOAWAY: unprocessed streams are sent again", () => {
  it("two-step shutdown: streams up to the last id finish on the old connection, the rest go to a new one", async () => {
    const server = await rawServer({
      onHeaders(connection, streamId) {
        if (connection.index > 0) {
          connection.respond(streamId, 200, `new ${streamId}`);
          return;
        }
        if (connection.streams.length < 4) return;
        // All four streams (1, 3, 5, 7) are open: announce the shutdown (last id 2^31-1), then
        // process 1 and 3, then the final GOAWAY naming 3 as the last stream.
        connection.goaway(MAX_STREAM_ID);
        setTimeout(() => {
          connection.respond(1, 200, "old 1");
          connection.respond(3, 200, "old 3");
          connection.goaway(3);
          setTimeout(() => connection.socket.end(), 20);
        }, 20);
      },
    });
    const client = h2c(server.url, 4);
    const outcomes = await sendMany(client, 4, 4);
    expect(outcomes.map(keyOf)).toEqual([200, 200, 200, 200]);
    expect(outcomes.map((outcome) => outcome.body).sort()).toEqual(["new 1", "new 3", "old 1", "old 3"]);
    // Streams 5 and 7 again, as 1 and 3 of the second connection, and nothing else.
    expect(server.connections.map((connection) => connection.streams)).toEqual([
      [1, 3, 5, 7],
      [1, 3],
    ]);
    const summary = client.transportSummary();
    expect(summary.retried).toEqual({ total: 2, byReason: { goaway: 2 } });
    expect(summary.connections.opened).toBe(2);
  });

  it("after the first GOAWAY no new stream goes to the draining connection", async () => {
    const server = await rawServer({
      onHeaders(connection, streamId) {
        if (connection.index === 0 && streamId === 1) {
          connection.goaway(MAX_STREAM_ID);
          // Answered later: meanwhile the next requests must not wait for this connection.
          setTimeout(() => {
            connection.respond(1);
            connection.goaway(1);
            connection.socket.end();
          }, 100);
          return;
        }
        connection.respond(streamId);
      },
    });
    const client = h2c(server.url, 2);
    const outcomes = await sendMany(client, 6, 2);
    expect(outcomes.map(keyOf)).toEqual([200, 200, 200, 200, 200, 200]);
    // Stream 3 may have left before the GOAWAY arrived (2 in flight); nothing after it did.
    const first = server.connections[0]?.streams.length ?? 0;
    expect(first).toBeLessThanOrEqual(2);
    expect(server.connections[1]?.streams).toHaveLength(6 - first);
    expect(server.connections).toHaveLength(2);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it(`a request sent again is bounded: after ${MAX_RETRIES} retries the GOAWAY is its error`, async () => {
    const server = await rawServer({
      onHeaders(connection) {
        // Every connection goes away before processing anything (last stream 0).
        connection.goaway(0);
        connection.socket.end();
      },
    });
    const client = h2c(server.url, 1);
    const outcomes = await sendMany(client, 1, 1);
    expect(outcomes.map(keyOf)).toEqual(["protocol.goaway"]);
    expect(server.headersReceived()).toBe(1 + MAX_RETRIES);
    expect(client.transportSummary().retried).toEqual({
      total: MAX_RETRIES,
      byReason: { goaway: MAX_RETRIES },
    });
  });

  it("a request sent again keeps its deadline: --timeout counts from the first send", async () => {
    const server = await rawServer({
      onHeaders(connection) {
        if (connection.index === 0) {
          // Refused late, then the new connection never answers.
          setTimeout(() => connection.goaway(0), 150);
        }
      },
    });
    const client = h2c(server.url, 1, 400);
    const startMs = performance.now();
    const outcomes = await sendMany(client, 1, 1);
    const elapsedMs = performance.now() - startMs;
    expect(outcomes.map(keyOf)).toEqual(["timeout.headers"]);
    expect(server.headersReceived()).toBe(2);
    // 400 ms from the first send (plus the sweep's period), not 400 ms from the retry.
    expect(elapsedMs).toBeGreaterThanOrEqual(390);
    expect(elapsedMs).toBeLessThan(540);
  });

  it("a stream the GOAWAY covered but never answered is an error: it may have been processed", async () => {
    const server = await rawServer({
      onHeaders(connection) {
        if (connection.streams.length < 2) return;
        // Streams 1 and 3 are covered (last stream 3), then the connection ends unanswered.
        connection.goaway(3);
        connection.socket.end();
      },
    });
    const client = h2c(server.url, 2);
    const outcomes = await sendMany(client, 2, 2);
    expect(outcomes.map(keyOf)).toEqual(["protocol.goaway", "protocol.goaway"]);
    expect(server.headersReceived()).toBe(2);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("a GOAWAY with an error code is the requests' error, not retried", async () => {
    const server = await rawServer({
      onHeaders(connection) {
        connection.goaway(0, 0xb); // ENHANCE_YOUR_CALM
      },
    });
    const client = h2c(server.url, 1);
    const outcomes = await sendMany(client, 2, 1);
    expect(outcomes.map(keyOf)).toEqual(["protocol.goaway", "protocol.goaway"]);
    expect(analyzeTransportError(outcomes[0]?.error).reason).toMatch(/ENHANCE_YOUR_CALM/);
    expect(server.headersReceived()).toBe(2);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("REFUSED_STREAM is sent again (bounded); other RST_STREAM codes are errors", async () => {
    const server = await rawServer({
      onHeaders(connection, streamId) {
        const n = connection.streams.length;
        // Stream 1 refused once, then answered; every attempt of stream 3's request refused;
        // INTERNAL_ERROR for the last request.
        if (n === 1) connection.reset(streamId, 0x7);
        else if (n === 2) connection.respond(streamId);
        else if (n <= 3 + MAX_RETRIES) connection.reset(streamId, 0x7);
        else connection.reset(streamId, 0x2);
      },
    });
    const client = h2c(server.url, 1);
    const outcomes = await sendMany(client, 3, 1);
    expect(outcomes.map(keyOf)).toEqual([200, "protocol.rst_stream", "protocol.rst_stream"]);
    expect(analyzeTransportError(outcomes[1]?.error).reason).toMatch(/REFUSED_STREAM/);
    expect(analyzeTransportError(outcomes[2]?.error).reason).toMatch(/INTERNAL_ERROR/);
    expect(server.headersReceived()).toBe(2 + 1 + MAX_RETRIES + 1);
    expect(client.transportSummary().retried).toEqual({
      total: 1 + MAX_RETRIES,
      byReason: { refused_stream: 1 + MAX_RETRIES },
    });
    expect(server.connections).toHaveLength(1);
  });
});
