import { describe, expect, it } from "vitest";
import { describeConnections, describeTransportErrors } from "../../src/transport/describe.js";
import type { TransportSummary } from "../../src/transport/http.js";

const timing = (p50: number, p99: number) => ({
  min: p50,
  mean: p50,
  p50,
  p90: p99,
  p95: p99,
  p99,
  p999: p99,
  max: p99,
});
const zero = timing(0, 0);

const h2: TransportSummary = {
  mode: "auto",
  protocol: "h2",
  retried: { total: 0, byReason: {} },
  connections: {
    opened: 4,
    failed: 0,
    resumed: 1,
    byProtocol: { h2: 4 },
    byTlsVersion: { "TLSv1.3": 4 },
    connectMs: timing(0.412, 1.25),
    tlsHandshakeMs: timing(3.1, 5),
    requestsPerConnection: { mean: 250, max: 260 },
    limit: 4,
    streamsPerConnection: 64,
    serverMaxStreams: null,
    keepAlive: true,
    maxRequestsPerConnection: null,
  },
  tls: { minVersion: "TLSv1.2", verified: true, servername: null, extraCa: true, clientCertificate: false },
  warnings: [],
};

describe("summary lines", () => {
  it("say what was negotiated, how connections were used and what they cost", () => {
    expect(describeConnections(h2)).toEqual([
      "Connections   4 opened (h2 4), TLSv1.3 4; limit 4 × 64 streams; 250 requests per connection (max 260)",
      "              connect p50 0.41 ms, p99 1.25 ms; TLS handshake p50 3.10 ms, p99 5.00 ms (1 resumed)",
    ]);
  });

  it("cleartext HTTP/1.1 without keep-alive, with failures", () => {
    const h1: TransportSummary = {
      ...h2,
      protocol: "http/1.1",
      tls: null,
      connections: {
        ...h2.connections,
        opened: 10,
        failed: 2,
        byProtocol: { "http/1.1": 10 },
        byTlsVersion: { none: 10 },
        tlsHandshakeMs: zero,
        requestsPerConnection: { mean: 1, max: 1 },
        limit: 10,
        streamsPerConnection: null,
        keepAlive: false,
      },
    };
    expect(describeConnections(h1)).toEqual([
      "Connections   10 opened (http/1.1 10); limit 10; no keep-alive; 1 requests per connection (max 1); 2 failed to open",
      "              connect p50 0.41 ms, p99 1.25 ms",
    ]);
  });

  it("requests sent again on a new connection get a line of their own, only when there are some", () => {
    const retried: TransportSummary = {
      ...h2,
      retried: { total: 3, byReason: { idle_close: 2, goaway: 1 } },
    };
    expect(describeConnections(retried)).toEqual([
      ...describeConnections(h2),
      "              3 requests sent again on a new connection (idle_close 2, goaway 1): the server had not processed them; their latency includes the wait",
    ]);
  });

  it("say how many requests were sent again, by reason, and the server's stream limit when it was lower", () => {
    const recycled: TransportSummary = {
      ...h2,
      connections: { ...h2.connections, serverMaxStreams: 2 },
      retried: { total: 14, byReason: { goaway: 12, refused_stream: 2 } },
    };
    expect(describeConnections(recycled)).toEqual([
      "Connections   4 opened (h2 4), TLSv1.3 4; limit 4 × 2 streams (the server's SETTINGS_MAX_CONCURRENT_STREAMS; 64 asked); 250 requests per connection (max 260)",
      "              connect p50 0.41 ms, p99 1.25 ms; TLS handshake p50 3.10 ms, p99 5.00 ms (1 resumed)",
      "              14 requests sent again on a new connection (goaway 12, refused_stream 2): the server had not processed them; their latency includes the wait",
    ]);
  });

  it("lists error details with counts and reasons, most frequent first", () => {
    expect(
      describeTransportErrors({
        connect_refused: { count: 2, reason: "connect_refused: connection refused (x)" },
        "tls.unknown_ca": { count: 12, reason: "tls: certificate signed by unknown CA (y)" },
      }),
    ).toEqual([
      "  tls.unknown_ca       12  tls: certificate signed by unknown CA (y)",
      "  connect_refused       2  connect_refused: connection refused (x)",
    ]);
  });
});
