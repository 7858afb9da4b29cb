import type * as hdr from "hdr-histogram-js";
import {
  addEncoded,
  createLatencyHistogram,
  encodeHistogram,
  recordMs,
  summarizeMs,
} from "../metrics/histogram.js";

export type {
  ConnectionProtocol,
  ConnectionStats,
  ConnectionsSummary,
  RetriedSummary,
} from "../metrics/result.js";
import type {
  ConnectionProtocol,
  ConnectionStats,
  ConnectionsSummary,
  RetriedSummary,
} from "../metrics/result.js";

/** What one new connection cost and what it negotiated. */
export interface OpenedConnection {
  protocol: ConnectionProtocol;
  /** `TLSv1.3`, `TLSv1.2`, … or `none` over cleartext. */
  tlsVersion: string;
  /** From the start of the attempt (name resolution included) to the TCP connection. */
  connectMs: number;
  /** From the TCP connection to the end of the TLS handshake; undefined over cleartext. */
  tlsHandshakeMs: number | undefined;
  /** The TLS session was resumed from a ticket (RFC 8446 §2.2). */
  resumed: boolean;
}

/** A ConnectionRecorder as plain data (histograms encoded), to merge the threads' connections (`--threads`). */
export interface ConnectionState {
  stats: ConnectionStats;
  failed: number;
  resumed: number;
  responses: number;
  maxResponsesOnOne: number;
  connectTime: string;
  tlsHandshakeTime: string;
  retried: Record<string, number>;
}

/** A transport's connect and TLS handshake times: its own µs HDR histograms, not copies. */
export interface ConnectionTimes {
  connect: hdr.Histogram;
  /** Empty over cleartext. */
  tlsHandshake: hdr.Histogram;
}

/**
 * Per-connection measurements: counts by protocol and TLS version, HDR histograms of connect
 * and handshake times, and reuse (responses per connection). Updated once per connection,
 * except `noteResponse`, which is two increments per response.
 */
export class ConnectionRecorder {
  readonly stats: ConnectionStats = { opened: 0, byProtocol: {}, byTlsVersion: {} };
  failed = 0;
  resumed = 0;
  responses = 0;
  maxResponsesOnOne = 0;
  /** Requests sent again on a new connection, by reason (docs/TRANSPORT.md "Retries"). */
  readonly retried: Record<string, number> = {};
  private readonly connectTime: hdr.Histogram = createLatencyHistogram();
  private readonly tlsHandshakeTime: hdr.Histogram = createLatencyHistogram();

  opened(connection: OpenedConnection): void {
    const stats = this.stats;
    stats.opened++;
    stats.byProtocol[connection.protocol] = (stats.byProtocol[connection.protocol] ?? 0) + 1;
    stats.byTlsVersion[connection.tlsVersion] = (stats.byTlsVersion[connection.tlsVersion] ?? 0) + 1;
    recordMs(this.connectTime, connection.connectMs);
    if (connection.tlsHandshakeMs !== undefined) recordMs(this.tlsHandshakeTime, connection.tlsHandshakeMs);
    if (connection.resumed) this.resumed++;
  }

  failedAttempt(): void {
    this.failed++;
  }

  /** A connection counted as `from` turned out to speak `to` (an HTTP/1.0 server answering http/1.1). */
  relabel(from: ConnectionProtocol, to: ConnectionProtocol): void {
    const byProtocol = this.stats.byProtocol;
    if (!byProtocol[from]) return;
    if (--byProtocol[from] === 0) delete byProtocol[from];
    byProtocol[to] = (byProtocol[to] ?? 0) + 1;
  }

  retry(reason: string): void {
    this.retried[reason] = (this.retried[reason] ?? 0) + 1;
  }

  retriedSummary(): RetriedSummary {
    const byReason = { ...this.retried };
    return { total: Object.values(byReason).reduce((sum, count) => sum + count, 0), byReason };
  }

  /** The connect and handshake histograms themselves, for the results file's `histograms`. */
  times(): ConnectionTimes {
    return { connect: this.connectTime, tlsHandshake: this.tlsHandshakeTime };
  }

  state(): ConnectionState {
    return {
      stats: {
        ...this.stats,
        byProtocol: { ...this.stats.byProtocol },
        byTlsVersion: { ...this.stats.byTlsVersion },
      },
      failed: this.failed,
      resumed: this.resumed,
      responses: this.responses,
      maxResponsesOnOne: this.maxResponsesOnOne,
      connectTime: encodeHistogram(this.connectTime),
      tlsHandshakeTime: encodeHistogram(this.tlsHandshakeTime),
      retried: { ...this.retried },
    };
  }

  /** One recorder holding the connections of several (each thread's transport): exact sums and merged histograms. */
  static merged(states: readonly ConnectionState[]): ConnectionRecorder {
    const merged = new ConnectionRecorder();
    const add = (into: Record<string, number>, from: Record<string, number>): void => {
      for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
    };
    for (const state of states) {
      merged.stats.opened += state.stats.opened;
      add(merged.stats.byProtocol, state.stats.byProtocol);
      add(merged.stats.byTlsVersion, state.stats.byTlsVersion);
      merged.failed += state.failed;
      merged.resumed += state.resumed;
      merged.responses += state.responses;
      merged.maxResponsesOnOne = Math.max(merged.maxResponsesOnOne, state.maxResponsesOnOne);
      addEncoded(merged.connectTime, state.connectTime);
      addEncoded(merged.tlsHandshakeTime, state.tlsHandshakeTime);
      add(merged.retried, state.retried);
    }
    return merged;
  }

  summary(): ConnectionsSummary {
    const opened = this.stats.opened;
    return {
      opened,
      byProtocol: { ...this.stats.byProtocol },
      byTlsVersion: { ...this.stats.byTlsVersion },
      failed: this.failed,
      resumed: this.resumed,
      connectMs: summarizeMs(this.connectTime),
      tlsHandshakeMs: summarizeMs(this.tlsHandshakeTime),
      requestsPerConnection: {
        mean: opened === 0 ? 0 : Math.round((this.responses / opened) * 100) / 100,
        max: this.maxResponsesOnOne,
      },
    };
  }
}
