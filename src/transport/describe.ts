import type { TransportSummary } from "./http.js";

/** `{ "tls.unknown_ca": { count, reason } }`, as `TransportErrorTally.toJSON()` gives it. */
export type TransportErrorDetails = Record<string, { count: number; reason: string }>;

const ms = (value: number): string =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

const counts = (record: Record<string, number>, skip?: string): string =>
  Object.entries(record)
    .filter(([name]) => name !== skip)
    .map(([name, count]) => `${name} ${count}`)
    .join(", ");

/**
 * The summary's connection lines (docs/TRANSPORT.md "What is recorded"): what was negotiated,
 * how connections were used, and what they cost to open. Plain text, no trailing newline.
 */
export function describeConnections(transport: TransportSummary, label = "Connections   "): string[] {
  const c = transport.connections;
  const indent = " ".repeat(label.length);
  const protocols = counts(c.byProtocol);
  const tlsVersions = counts(c.byTlsVersion, "none");
  const usage = [
    c.streamsPerConnection === null
      ? `limit ${c.limit}`
      : c.serverMaxStreams !== null && c.serverMaxStreams < c.streamsPerConnection
        ? // The server's limit, not --workers, capped the streams (docs/TRANSPORT.md "The HTTP/2 client").
          `limit ${c.limit} × ${c.serverMaxStreams} streams (the server's SETTINGS_MAX_CONCURRENT_STREAMS; ${c.streamsPerConnection} asked)`
        : `limit ${c.limit} × ${c.streamsPerConnection} streams`,
    !c.keepAlive
      ? "no keep-alive"
      : c.maxRequestsPerConnection !== null
        ? `closed after ${c.maxRequestsPerConnection} requests`
        : undefined,
    c.opened > 0
      ? `${c.requestsPerConnection.mean} requests per connection (max ${c.requestsPerConnection.max})`
      : undefined,
    c.failed > 0 ? `${c.failed} failed to open` : undefined,
  ].filter((part): part is string => part !== undefined);
  const first =
    `${label}${c.opened} opened${protocols ? ` (${protocols})` : ""}` +
    `${tlsVersions ? `, ${tlsVersions}` : ""}; ${usage.join("; ")}`;
  const lines = [first];
  if (c.opened > 0) {
    const timing = [`connect p50 ${ms(c.connectMs.p50)} ms, p99 ${ms(c.connectMs.p99)} ms`];
    if (transport.tls) {
      timing.push(
        `TLS handshake p50 ${ms(c.tlsHandshakeMs.p50)} ms, p99 ${ms(c.tlsHandshakeMs.p99)} ms` +
          (c.resumed > 0 ? ` (${c.resumed} resumed)` : ""),
      );
    }
    lines.push(`${indent}${timing.join("; ")}`);
  }
  const retried = transport.retried;
  if (retried.total > 0) {
    // Connection recycling is normal server behaviour (docs/TRANSPORT.md "Retries"): say it
    // happened, and that it cost latency, not errors.
    lines.push(
      `${indent}${retried.total} requests sent again on a new connection (${counts(retried.byReason)}): ` +
        "the server had not processed them; their latency includes the wait",
    );
  }
  return lines;
}

/**
 * The error breakdown under the summary's error kinds: one line per `kind.detail` with its
 * count and reason, most frequent first, e.g.
 * `  tls.unknown_ca        12  tls: certificate signed by unknown CA (…) — pass --ca FILE or --insecure`.
 */
export function describeTransportErrors(errors: TransportErrorDetails, indent = "  "): string[] {
  const entries = Object.entries(errors).sort((a, b) => b[1].count - a[1].count);
  const width = Math.max(0, ...entries.map(([key]) => key.length));
  return entries.map(
    ([key, { count, reason }]) => `${indent}${key.padEnd(width)}  ${String(count).padStart(6)}  ${reason}`,
  );
}
