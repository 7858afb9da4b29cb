import { describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport } from "../../src/transport/http.js";
import { startNginx, type NginxOptions, type NginxProcess } from "../helpers/nginx.js";
import { localhostPkiForFile } from "../helpers/tls.js";
import { sendMany, transportFor } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * Our HTTP/2 client against a real nginx that recycles its connections: after
 * `keepalive_requests` requests nginx sends a graceful GOAWAY, and the streams above its last
 * stream id go to a new connection (docs/TRANSPORT.md "Retries"). What we count as success must
 * be what nginx logged: nothing lost, nothing counted twice, no error.
 */
const cleanups = cleanupAfterEach();

const tls = localhostPkiForFile();

async function nginx(options: NginxOptions): Promise<NginxProcess> {
  const server = await startNginx(options);
  cleanups.push(() => server.stop());
  return server;
}

function client(url: string, raw: RawTransportFlags, workers: number): HttpTransport {
  const created = transportFor(url, workers, parseTransportFlags(raw, new URL(url), workers), 10_000);
  cleanups.push(() => created.close());
  return created;
}

async function expectEveryRequestServedOnce(
  server: NginxProcess,
  transport: HttpTransport,
  count: number,
  inFlight: number,
  keepaliveRequests = 100,
): Promise<void> {
  const outcomes = await sendMany(transport, count, inFlight);
  const errors = outcomes
    .filter((outcome) => outcome.error)
    .map((outcome) => analyzeTransportError(outcome.error).key);
  expect(errors).toEqual([]);
  expect(outcomes.filter((outcome) => outcome.status === 200)).toHaveLength(count);
  // nginx writes a line when a response is done; ours ended, so its lines are there.
  const log = await server.accessLog();
  expect(log.filter((line) => line.status === 200 && line.protocol === "HTTP/2.0")).toHaveLength(count);
  const summary = transport.transportSummary();
  // nginx served at most keepalive_requests per connection, so it was recycled and we followed.
  expect(Math.max(...log.map((line) => line.connectionRequests))).toBeLessThanOrEqual(keepaliveRequests);
  expect(summary.connections.opened).toBe(new Set(log.map((line) => line.connection)).size);
  expect(summary.connections.opened).toBeGreaterThanOrEqual(Math.ceil(count / keepaliveRequests));
  // With `inFlight` streams open when the GOAWAY came, some were above its last stream id.
  expect(summary.retried.byReason.goaway ?? 0).toBeGreaterThan(0);
  expect(summary.retried.total).toBe(summary.retried.byReason.goaway);
}

describe("HTTP/2 against nginx recycling connections (keepalive_requests 100)", () => {
  it("h2c: every request served once, no errors, success equal to nginx's access log", async () => {
    const server = await nginx({ listen: "http2", http: "keepalive_requests 100;" });
    await expectEveryRequestServedOnce(server, client(server.url, { h2c: true }, 32), 1_000, 32);
  });

  it("h2 over TLS: the same", async () => {
    const server = await nginx({
      listen: "ssl http2",
      http: "keepalive_requests 100;",
      tls: { certFile: tls.leaf.certFile, keyFile: tls.leaf.keyFile },
    });
    await expectEveryRequestServedOnce(
      server,
      client(server.url, { http2: true, ca: tls.pki.ca.certFile }, 32),
      1_000,
      32,
    );
  });
});

describe("HTTP/2 against nginx with its defaults (keepalive_requests 1000)", () => {
  it("h2c: every request served once across recycled connections", async () => {
    const server = await nginx({ listen: "http2" });
    await expectEveryRequestServedOnce(server, client(server.url, { h2c: true }, 32), 3_000, 32, 1_000);
  });
});
