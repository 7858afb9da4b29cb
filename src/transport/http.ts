import { performance } from "node:perf_hooks";
import type { Socket } from "node:net";
import { Client, type Dispatcher } from "undici";
import {
  DEFAULT_TRANSPORT_FLAGS,
  type ProtocolMode,
  type TransportFlags,
} from "../config/transport-options.js";
import {
  ConnectionRecorder,
  type ConnectionProtocol,
  type ConnectionState,
  type ConnectionStats,
  type ConnectionTimes,
  type OpenedConnection,
} from "./connections.js";
import { openConnection, type ConnectorSettings } from "./connector.js";
import {
  analyzeTransportError,
  LoadTestTimeoutError,
  ResetBeforeFirstResponseError,
  type TransportFailure,
} from "./errors.js";
import { InFlightList, type InFlightNode } from "./in-flight.js";
import {
  Http1Connection,
  Http1RequestEncoder,
  IdleCloseLearner,
  PRECONNECTED,
  type Http1Context,
  type ReadingSocket,
} from "./http1.js";
import { Http2Connection, Http2ProtocolError, Http2RequestEncoder } from "./http2.js";
import { FieldSelection } from "./hpack.js";
import { MAX_FRAME_SIZE, SETTINGS } from "./http2-frames.js";
import { clientPreface, handOverPrefaced } from "./http2-session.js";
import { buildTlsSettings, TlsSessionCache } from "./tls.js";

export type { ConnectionState, ConnectionStats, ConnectionTimes } from "./connections.js";

export interface TransportOptions {
  /** `http(s)://host:port` of the target. */
  origin: string;
  /**
   * Connection cap over HTTP/1.1 (one request per connection, so the run passes `--workers`).
   * `flags.connections` lowers it; over HTTP/2 see `maxInFlight`.
   */
  connections: number;
  /** Per-request timeout from the actual send, ms. */
  timeoutMs: number;
  /** Requests in flight at most (`--workers`), split over HTTP/2 connections as streams; default `connections`. */
  maxInFlight?: number;
  /** Protocol, TLS and connection flags (`parseTransportFlags`); default: ALPN negotiation, keep-alive, verified TLS ≥ 1.2. */
  flags?: TransportFlags;
  /**
   * Lower-case names of response fields to hand to each request's callback, from the head or the
   * trailers (gRPC's `grpc-status` comes in trailers), e.g. `["grpc-status", "grpc-message"]`.
   * Only these are read; with none (the default) no field is collected (docs/TRANSPORT.md
   * "Response fields").
   */
  responseHeaders?: readonly string[];
}

export type { PreparedRequest, ResponseCallback, ResponseHeaders } from "./request.js";
import type { PreparedRequest, ResponseCallback } from "./request.js";

export type { TransportSummary } from "../metrics/result.js";
import type { TransportSummary } from "../metrics/result.js";

function protocolOf(connections: ConnectionStats): TransportSummary["protocol"] {
  const protocols = Object.keys(connections.byProtocol) as ConnectionProtocol[];
  return protocols.length === 0 ? null : protocols.length === 1 ? (protocols[0] ?? null) : "mixed";
}

/**
 * The transport summary of several transports with the same flags (one per thread,
 * `--threads`): connections summed, their time histograms merged, the limits added up.
 */
export function mergeTransportSummaries(
  parts: ReadonlyArray<{ summary: TransportSummary; connections: ConnectionState }>,
): TransportSummary {
  const first = (parts[0] as { summary: TransportSummary }).summary;
  const merged = ConnectionRecorder.merged(parts.map((part) => part.connections));
  const connections = merged.summary();
  return {
    ...first,
    protocol: protocolOf(connections),
    retried: merged.retriedSummary(),
    connections: {
      ...first.connections,
      ...connections,
      limit: parts.reduce((sum, part) => sum + part.summary.connections.limit, 0),
      serverMaxStreams: parts.reduce<number | null>((lowest, part) => {
        const limit = part.summary.connections.serverMaxStreams;
        return limit === null ? lowest : lowest === null ? limit : Math.min(lowest, limit);
      }, null),
    },
  };
}

/** What a preflight connection found (`HttpTransport.probe()`). */
export type ProbeResult =
  | {
      ok: true;
      protocol: ConnectionProtocol;
      tlsVersion: string;
      connectMs: number;
      tlsHandshakeMs: number | null;
    }
  | {
      ok: false;
      /**
       * The flag the failure is about: `--http2`, `--h2c` or `--http1` when the server does not
       * speak what the flag asks for (the CLI stops with exit code 2), `--target` for anything
       * else (unreachable, TLS: a run would measure it as errors).
       */
      flag: string;
      failure: TransportFailure;
      /** One line for the CLI, e.g. "--http2: https://127.0.0.1:8443 did not offer h2 via ALPN (it chose http/1.1); …". */
      message: string;
    };

/** Bodies are read only to classify the response (`"blocked": true`); more than this is counted, not kept. */
const MAX_KEPT_BODY_BYTES = 64 * 1024;
/** Default HTTP/2 connections: one per 100 streams in flight, 1..4 (a browser uses one per origin). */
const DEFAULT_H2_STREAMS_PER_CONNECTION = 100;
const DEFAULT_H2_MAX_CONNECTIONS = 4;
/**
 * HTTP/1.1 with keep-alive: connection attempts in progress at once. Beyond it, requests wait
 * for the first connection that is free or connects (a browser allows 6 per host). Without a
 * bound, a burst at start opens one connection per request, and the handshakes' CPU slows the
 * next ones: 1500 req/s over TLS opened 1000 connections here and stalled the event loop.
 */
const MAX_CONNECTING = 16;
/** The probe's connection is used by the run if it starts within this (servers close idle connections). */
const SPARE_MAX_IDLE_MS = 5_000;

/**
 * One client, i.e. one connection at a time (it reconnects when the server closes it): our
 * `Http1Connection` or `Http2Connection` once the protocol is known, an undici Client for the
 * first connection of an ALPN negotiation without a probe. The transport picks the connection per
 * request itself, rather than through an undici Pool, so an HTTP/2 connection carries many
 * streams while an HTTP/1.1 one never pipelines.
 */
class Connection {
  inFlight = 0;
  /** Requests given to this Client (for --max-requests-per-connection). */
  dispatched = 0;
  retired = false;
  /** Position in `HttpTransport.active` while not retired (O(1) removal). */
  index = -1;
  /** Requests it may carry at once: 1 over HTTP/1.1 (no pipelining), the stream share over HTTP/2. */
  capacity: number;
  /** Responses on the current socket (reuse). */
  responsesOnSocket = 0;
  /** TLS version of the current socket (`none` over cleartext). */
  tlsVersion = "none";
  client!: ProtocolConnection;

  constructor(capacity: number) {
    this.capacity = capacity;
  }
}

/**
 * One connection as the transport drives it, whatever protocol it speaks (as undici drives its
 * HTTP/1.1 and HTTP/2 contexts): a protocol is one adapter below, and `HttpTransport` never asks
 * which one it holds.
 */
interface ProtocolConnection {
  /** Sends one request; `last`: the connection carries no more after it. */
  send(request: PreparedRequest, last: boolean, handler: ExchangeHandler): void;
  /** How many requests it may carry at once (1 over HTTP/1.1, the stream share over HTTP/2). */
  setCapacity(capacity: number): void;
  /** HTTP/1.1: idle past half its reuse limit, so better replaced before the next burst. */
  wantsRefresh(): boolean;
  /** No more requests: ends after those in flight. */
  close(): Promise<void>;
  /** Ends every request now. */
  destroy(): Promise<void>;
}

/** Our HTTP/1.1 client: the case's bytes, built once per case (and once more for `Connection: close`). */
function http1Protocol(client: Http1Connection, encoder: Http1RequestEncoder): ProtocolConnection {
  return {
    send: (request, last, handler) => client.send(request, encoder.encode(request, last), last, handler),
    setCapacity: (capacity) => void (client.pipelining = capacity),
    wantsRefresh: () => client.wantsRefresh(),
    close: () => client.close(),
    destroy: () => client.destroy(),
  };
}

/** Our HTTP/2 client: the case's frames, built once per case. */
function http2Protocol(client: Http2Connection, encoder: Http2RequestEncoder): ProtocolConnection {
  return {
    send: (request, last, handler) => client.send(request, encoder.encode(request), last, handler),
    setCapacity: (capacity) => void (client.pipelining = capacity),
    wantsRefresh: () => false,
    close: () => client.close(),
    destroy: () => client.destroy(),
  };
}

/** undici's Client, for the first connection of an ALPN negotiation without a probe. */
function undiciProtocol(client: Client): ProtocolConnection {
  return {
    send: (request, last, handler) =>
      void client.dispatch(
        {
          path: request.path,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body,
          // Lets undici put a POST on an HTTP/2 connection that already has streams open; it
          // never pipelines over HTTP/1.1 here, because those clients keep `pipelining: 1`.
          idempotent: true,
          reset: last,
        },
        handler,
      ),
    setCapacity: (capacity) => {
      if (client.pipelining !== capacity) client.pipelining = capacity;
    },
    wantsRefresh: () => false,
    close: () => client.close(),
    destroy: () => client.destroy(),
  };
}

/** A head or trailers as undici hands them to a handler: lower-case names, repeated fields as arrays. */
type UndiciHeaders = Record<string, string | string[] | undefined>;

/** A response field name as `TransportOptions.responseHeaders` takes it: a token (RFC 9110 §5.1) in lower case. */
const FIELD_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** The checked, de-duplicated `responseHeaders`. */
function responseFieldNames(names: readonly string[] | undefined): readonly string[] {
  for (const name of names ?? []) {
    if (!FIELD_NAME.test(name))
      throw new TypeError(`responseHeaders: ${JSON.stringify(name)} is not a lower-case field name`);
  }
  return [...new Set(names)];
}

/** What a handler needs of a request's controller (undici's, or an `Http1Exchange`). */
interface Abortable {
  abort(reason: Error): void;
}

/**
 * One in-flight request: the `ExchangeEvents` of our HTTP/1.1 and HTTP/2 clients, and an undici
 * dispatch handler for a connection opened by undici (ALPN discovery without a probe).
 */
class ExchangeHandler implements Dispatcher.DispatchHandler, InFlightNode<ExchangeHandler> {
  controller: Abortable | undefined;
  previousInFlight: ExchangeHandler | undefined = undefined;
  nextInFlight: ExchangeHandler | undefined = undefined;
  statusCode = 0;
  chunks: Buffer[] = [];
  keptBytes = 0;
  /** The selected response fields received so far; null until one arrives. */
  fields: Map<string, string> | null = null;
  done = false;
  timedOut: LoadTestTimeoutError | undefined;
  /** When the request was first written (a retry keeps it: the server's recycling is service). */
  writtenAtMs = Number.NaN;

  /** Undefined while held back until the first connection tells the protocol. */
  connection: Connection | undefined;

  constructor(
    readonly transport: HttpTransport,
    readonly request: PreparedRequest,
    readonly deadlineMs: number,
    readonly callback: ResponseCallback,
  ) {}

  onRequestStart(controller: Abortable): void {
    this.controller = controller;
    if (this.timedOut) controller.abort(this.timedOut);
    else if (Number.isNaN(this.writtenAtMs)) this.writtenAtMs = this.transport.nowMs();
  }

  onRequestRetry(_controller: Abortable, reason: string): void {
    // The controller stays: a timeout while it waits for a stream takes it out of the queue.
    this.statusCode = 0;
    this.chunks = [];
    this.keptBytes = 0;
    this.fields = null;
    this.transport.retriedOnce(reason);
  }

  /** Selected fields from our clients, as [name, value, …] pairs. */
  onResponseFields(_controller: Abortable, pairs: readonly string[]): void {
    const fields = (this.fields ??= new Map());
    for (let i = 0; i < pairs.length; i += 2) {
      const name = pairs[i] as string;
      const value = pairs[i + 1] as string;
      const earlier = fields.get(name);
      fields.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
    }
  }

  /** `headers` only from undici (our clients hand selected fields to `onResponseFields`). */
  onResponseStart(_controller: Abortable, statusCode: number, headers?: UndiciHeaders): void {
    this.statusCode = statusCode;
    if (headers !== undefined) this.pickFields(headers);
    this.transport.responseStarted(this.connection as Connection);
  }

  onResponseData(_controller: Abortable, chunk: Buffer): void {
    if (this.keptBytes < MAX_KEPT_BODY_BYTES) {
      this.chunks.push(chunk);
      this.keptBytes += chunk.length;
    }
  }

  onResponseEnd(_controller?: Abortable, trailers?: UndiciHeaders): void {
    if (this.done) return;
    if (trailers !== undefined) this.pickFields(trailers);
    this.done = true;
    this.transport.settled(this, this.connection);
    const chunks = this.chunks;
    const body =
      chunks.length === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.callback(null, this.statusCode, body, this.writtenAtMs, this.fields);
  }

  /** The selected fields of an undici head or trailers (lower-case names; repeated ones as arrays). */
  private pickFields(headers: UndiciHeaders): void {
    const names = this.transport.responseFields;
    if (names.length === 0) return;
    const pairs: string[] = [];
    for (const name of names) {
      const value = headers[name];
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) pairs.push(name, String(one));
    }
    if (pairs.length > 0) this.onResponseFields(undefined as unknown as Abortable, pairs);
  }

  onResponseError(_controller: Abortable | undefined, error: Error): void {
    if (this.done) return;
    this.done = true;
    this.transport.settled(this, this.connection);
    // undici fails a connection's queued requests in a loop and then asserts the queue is empty:
    // a callback that sends again (the scheduler releasing the next due request) must not run
    // inside that loop. Errors only; responses are delivered synchronously.
    const reported = this.timedOut ?? this.transport.explain(error, this.connection, this.statusCode);
    queueMicrotask(() => this.callback(reported, this.statusCode, null, this.writtenAtMs, this.fields));
  }

  expire(): void {
    if (this.done || this.timedOut) return;
    const phase = this.controller === undefined ? "connect" : this.statusCode === 0 ? "headers" : "body";
    this.timedOut = new LoadTestTimeoutError(this.transport.timeoutMs, phase);
    if (this.controller) {
      this.controller.abort(this.timedOut);
    } else {
      // Still queued for a connection: end it now, at its deadline; it is aborted before being
      // written if the connection ever comes (onRequestStart).
      this.onResponseError(undefined, this.timedOut);
    }
  }
}

const noop = (): void => undefined;

/**
 * The HTTP client side (docs/TRANSPORT.md): HTTP/1.1 with keep-alive, or HTTP/2 negotiated by
 * ALPN, or h2c; TLS settings from the flags; per-connection measurements; and one shared
 * timeout sweep instead of a timer per request.
 */
export class HttpTransport {
  readonly timeoutMs: number;
  readonly mode: ProtocolMode;
  private readonly recorder = new ConnectionRecorder();
  /** The lowest SETTINGS_MAX_CONCURRENT_STREAMS a server announced. */
  private serverMaxStreams: number | null = null;
  private readonly noteServerStreams = (limit: number): void => {
    if (this.serverMaxStreams === null || limit < this.serverMaxStreams) this.serverMaxStreams = limit;
  };
  private readonly flags: TransportFlags;
  private readonly connector: ConnectorSettings;
  private readonly inFlight = new InFlightList<ExchangeHandler>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly origin: string;
  /** `h1`/`h2` once known: forced by the flags, by the scheme, or by the first ALPN answer. */
  private family: "h1" | "h2" | undefined;
  private readonly h1Limit: number;
  private readonly h2Limit: number;
  private readonly streamsPerConnection: number;
  /** 0 = unlimited; 1 with --no-keepalive. */
  private readonly maxPerConnection: number;
  private readonly active: Connection[] = [];
  /** HTTP/1.1 connections with a free slot, most recently freed last (hot connections stay hot). */
  private readonly free: Connection[] = [];
  private readonly retiring = new Set<ProtocolConnection>();
  private roundRobin = 0;
  private closed = false;
  /** The first connection of an `auto` TLS run is being opened; `pending` waits for its ALPN answer. */
  private discovering = false;
  private pending: ExchangeHandler[] = [];
  /** HTTP/1.1 requests waiting for a free connection, first in first out (`waitingHead` is the next). */
  private waiting: ExchangeHandler[] = [];
  private waitingHead = 0;
  private pumpScheduled = false;
  /** Connection attempts in progress. */
  private connecting = 0;
  /** Most connection attempts in progress at once (diagnostics and tests). */
  connectingPeak = 0;
  /** Request bytes for the HTTP/1.1 connections, built once per test case. */
  private readonly encoder: Http1RequestEncoder;
  /** What the HTTP/1.1 connections share: the server's idle timeout as observed, and their reports. */
  private readonly h1Context: Http1Context;
  /** Request frames for the HTTP/2 connections, built once per test case. */
  private readonly h2Encoder: Http2RequestEncoder;
  private readonly hostname: string;
  private readonly port: number;
  /** `responseHeaders`: the response fields handed to callbacks. */
  readonly responseFields: readonly string[];
  /** The same for the HTTP/2 connections' HPACK decoding; null without any. */
  private readonly fieldSelection: FieldSelection | null;
  /** The probe's connection, handed to the first Client that connects. */
  private spare: { socket: Socket; info: OpenedConnection; atMs: number } | undefined;

  constructor(
    options: TransportOptions,
    readonly nowMs: () => number,
  ) {
    this.timeoutMs = options.timeoutMs;
    this.origin = options.origin;
    const recorder = this.recorder;
    this.responseFields = responseFieldNames(options.responseHeaders);
    this.fieldSelection = this.responseFields.length === 0 ? null : new FieldSelection(this.responseFields);
    this.h1Context = {
      idleCloses: new IdleCloseLearner(),
      onRetry: (reason) => recorder.retry(reason),
      onHttp10: () => recorder.relabel("http/1.1", "http/1.0"),
      responseFields: this.responseFields,
    };
    const flags = options.flags ?? DEFAULT_TRANSPORT_FLAGS;
    this.flags = flags;
    this.mode = flags.protocol;
    const url = new URL(options.origin);
    const https = url.protocol === "https:";
    this.encoder = new Http1RequestEncoder(url.host);
    this.h2Encoder = new Http2RequestEncoder(https ? "https" : "http", url.host);
    this.hostname = url.hostname.replace(/^\[|\]$/g, "");
    this.port = Number(url.port) || (https ? 443 : 80);
    const maxInFlight = Math.max(1, options.maxInFlight ?? options.connections);
    this.h1Limit = Math.max(1, Math.min(options.connections, flags.connections ?? options.connections));
    this.h2Limit = Math.max(
      1,
      Math.min(
        maxInFlight,
        flags.connections ??
          Math.min(DEFAULT_H2_MAX_CONNECTIONS, Math.ceil(maxInFlight / DEFAULT_H2_STREAMS_PER_CONNECTION)),
      ),
    );
    this.streamsPerConnection = Math.ceil(maxInFlight / this.h2Limit);
    this.maxPerConnection = flags.keepAlive ? (flags.maxRequestsPerConnection ?? 0) : 1;

    if (flags.protocol === "h2c" || flags.protocol === "http2") this.family = "h2";
    else if (flags.protocol === "http1" || !https) this.family = "h1";
    else this.family = undefined; // auto over TLS: the first ALPN answer decides

    this.connector = {
      origin: options.origin,
      tls: https ? buildTlsSettings(flags.tls) : undefined,
      alpn:
        flags.protocol === "http2" ? ["h2"] : flags.protocol === "http1" ? ["http/1.1"] : ["h2", "http/1.1"],
      h2c: flags.protocol === "h2c",
      requireH2: flags.protocol === "http2",
      timeoutMs: options.timeoutMs,
      sessions: new TlsSessionCache(),
    };
  }

  /** The connection measurements as plain data, for merging the threads' transports. */
  connectionState(): ConnectionState {
    return this.recorder.state();
  }

  /** The connect and handshake time histograms (docs/RESULTS.md "Histograms"). */
  connectionTimes(): ConnectionTimes {
    return this.recorder.times();
  }

  /** Connection counts in the results' historical shape (opened, byProtocol, byTlsVersion). */
  get stats(): ConnectionStats {
    return this.recorder.stats;
  }

  send(request: PreparedRequest, callback: ResponseCallback): void {
    const handler = new ExchangeHandler(this, request, this.nowMs() + this.timeoutMs, callback);
    this.inFlight.add(handler);
    this.armSweep();
    if (this.family === undefined) {
      // ALPN not answered yet. Like a browser, the first request opens one connection and the
      // others wait for its answer, instead of each opening a connection that would turn out
      // to be one multiplexed HTTP/2 connection, or queueing behind one HTTP/1.1 connection.
      if (this.discovering) {
        this.pending.push(handler);
        return;
      }
      this.discovering = true;
    }
    const connection = this.waitingHead === this.waiting.length ? this.acquire() : undefined;
    if (connection) this.dispatch(handler, connection);
    else this.waiting.push(handler); // behind the requests already waiting (HTTP/1.1 only)
  }

  private dispatch(handler: ExchangeHandler, connection: Connection): void {
    const request = handler.request;
    handler.connection = connection;
    connection.inFlight++;
    // The last request a connection may carry says so (`Connection: close` over HTTP/1.1).
    const last = this.maxPerConnection !== 0 && ++connection.dispatched >= this.maxPerConnection;
    try {
      connection.client.send(request, last, handler);
    } catch (error) {
      handler.onResponseError(undefined, error as Error);
    }
    if (last) this.retire(connection);
  }

  /** Called by a handler when it ends, so the sweep forgets it and its connection has room again. */
  settled(handler: ExchangeHandler, connection: Connection | undefined): void {
    this.inFlight.remove(handler);
    if (connection === undefined) return; // ended while held back (timeout, failed first connection)
    // Push on the transition from full to not full only, so a connection is in `free` at most once.
    if (--connection.inFlight === connection.capacity - 1 && !connection.retired && this.family === "h1") {
      this.free.push(connection);
      this.schedulePump();
    }
  }

  /**
   * Error path only: a new TLS 1.3 connection closed before any response is, most often, the
   * server rejecting the client certificate after the handshake; say so instead of "reset".
   */
  explain(error: Error, connection: Connection | undefined, statusCode: number): Error {
    if (
      statusCode === 0 &&
      connection !== undefined &&
      connection.responsesOnSocket === 0 &&
      connection.tlsVersion === "TLSv1.3"
    ) {
      const code = (error as { code?: string }).code;
      if (
        code === "LOAD_TEST_CONNECTION_CLOSED" ||
        code === "UND_ERR_SOCKET" || // the undici connection of an ALPN discovery
        code === "ECONNRESET" ||
        code === "EPIPE"
      ) {
        if (!/GOAWAY/.test(error.message)) return new ResetBeforeFirstResponseError(error);
      }
    }
    return error;
  }

  /** Called by a handler whose request is sent again (docs/TRANSPORT.md "Retries"). */
  retriedOnce(reason: string): void {
    this.recorder.retry(reason);
  }

  /** Called by a handler when its response starts: reuse counts per connection. */
  responseStarted(connection: Connection): void {
    const recorder = this.recorder;
    recorder.responses++;
    const onSocket = ++connection.responsesOnSocket;
    if (onSocket > recorder.maxResponsesOnOne) recorder.maxResponsesOnOne = onSocket;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Aborts every request still in flight (end of an interrupted run). */
  abortAll(): void {
    for (const handler of this.inFlight.toArray()) handler.expire();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failPending(new Error("the transport was closed"));
    this.spare?.socket.destroy();
    this.spare = undefined;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const clients = [...this.active.map((connection) => connection.client), ...this.retiring];
    this.active.length = 0;
    this.free.length = 0;
    this.retiring.clear();
    await Promise.all(clients.map((client) => client.destroy().catch(noop)));
  }

  /** Per-connection results: protocol, TLS, connect and handshake times, reuse. */
  transportSummary(): TransportSummary {
    const connections = this.recorder.summary();
    const tlsFlags = this.flags.tls;
    const h2 = this.family === "h2";
    return {
      mode: this.mode,
      protocol: protocolOf(connections),
      retried: this.recorder.retriedSummary(),
      connections: {
        ...connections,
        limit: h2 ? this.h2Limit : this.h1Limit,
        streamsPerConnection: h2 ? this.streamsPerConnection : null,
        serverMaxStreams: h2 ? this.serverMaxStreams : null,
        keepAlive: this.flags.keepAlive,
        maxRequestsPerConnection: this.flags.maxRequestsPerConnection ?? null,
      },
      tls: this.connector.tls
        ? {
            minVersion: tlsFlags.minVersion,
            verified: !tlsFlags.insecure,
            servername: tlsFlags.servername ?? null,
            extraCa: tlsFlags.ca !== undefined,
            clientCertificate: tlsFlags.cert !== undefined,
          }
        : null,
      warnings: this.warnings(),
    };
  }

  /** Lines for the summary's warnings, e.g. that --insecure skipped certificate checks. */
  warnings(): string[] {
    const warnings: string[] = [];
    if (this.connector.tls && this.flags.tls.insecure) {
      warnings.push(
        "--insecure: TLS certificates were not verified (results say nothing about the certificate)",
      );
    }
    return warnings;
  }

  /**
   * One preflight connection with the run's settings: says which protocol and TLS version the
   * server gives, and fails clearly when `--http2` or `--h2c` cannot work. In `auto` mode it also
   * tells the transport the protocol in advance. A connection that works becomes the run's first
   * (counted then), so the server sees no extra one.
   */
  async probe(): Promise<ProbeResult> {
    const { hostname, port } = this;
    const opened = await new Promise<{ error: Error | null; socket: Socket | null; info?: OpenedConnection }>(
      (resolve) =>
        openConnection(this.connector, hostname, port, (error, socket, info) =>
          resolve({ error, socket, info }),
        ),
    );
    if (opened.error || !opened.socket || !opened.info) {
      const failure = analyzeTransportError(opened.error);
      // Only a refusal of the protocol the flag asked for names the flag; anything else (refused,
      // TLS) is about the target, and a run would measure it as errors.
      if (failure.key === "protocol.no_h2") {
        return { ok: false, flag: "--http2", failure, message: failure.reason.replace(/^protocol: /, "") };
      }
      if (failure.key === "tls.no_alpn" && this.mode === "http1") {
        return {
          ok: false,
          flag: "--http1",
          failure,
          message: `--http1: ${this.origin} does not speak HTTP/1.1 (${failure.reason}); drop --http1 to negotiate`,
        };
      }
      return { ok: false, flag: "--target", failure, message: `--target ${this.origin}: ${failure.reason}` };
    }
    const info = opened.info;
    if (this.mode === "h2c") {
      // Prior knowledge: only the server's SETTINGS show it speaks HTTP/2 (RFC 9113 §3.4). The
      // probe sends our own preface, so the run's first connection carries on from there.
      const answer = await h2cPreface(opened.socket, this.timeoutMs);
      if (answer instanceof Error) {
        opened.socket.destroy();
        const failure = analyzeTransportError(answer);
        return {
          ok: false,
          flag: "--h2c",
          failure,
          message: `--h2c: ${this.origin} did not answer HTTP/2 with prior knowledge (${failure.reason}); drop --h2c for HTTP/1.1`,
        };
      }
      handOverPrefaced(opened.socket, answer);
    }
    if (this.closed) {
      opened.socket.destroy();
    } else {
      // Kept for the first connection the run opens (a browser's preconnect): the server sees
      // no extra connection and the results count this one with its real connect times.
      this.spare?.socket.destroy();
      const socket = opened.socket;
      socket.on("error", noop); // until undici takes it over
      this.spare = { socket, info, atMs: performance.now() };
    }
    if (this.family === undefined && !this.closed) this.family = info.protocol === "h2" ? "h2" : "h1";
    return {
      ok: true,
      protocol: info.protocol,
      tlsVersion: info.tlsVersion,
      connectMs: Math.round(info.connectMs * 1000) / 1000,
      tlsHandshakeMs:
        info.tlsHandshakeMs === undefined ? null : Math.round(info.tlsHandshakeMs * 1000) / 1000,
    };
  }

  /**
   * The connection for the next request. HTTP/1.1: a free one, else a new one, else none (the
   * request waits: all connections busy, or MAX_CONNECTING attempts in progress). HTTP/2:
   * round robin over the connections with room.
   */
  private acquire(): Connection | undefined {
    const family = this.family;
    const active = this.active;
    if (family === "h1") {
      const free = this.free;
      // Most recently freed first keeps the fewest connections busy, but then at high rates the
      // cold end of the list idles past the 4 s reuse limit and is replaced in the next burst,
      // when the generator is late already (5k req/s, 64 slots: 109 connections opened in 10 s,
      // send lag max 17 ms; with this, 64 and 4-6 ms). So the least recently freed one goes
      // first once it has idled half its limit: at a steady rate every open connection stays
      // alive; at a low one those past their limit are left for the next burst, as before.
      while (free.length > 0 && (free[0] as Connection).retired) free.shift();
      const oldest = free[0];
      if (oldest !== undefined && free.length > 1 && oldest.client.wantsRefresh()) {
        free.shift();
        return oldest;
      }
      let connection = free.pop();
      while (connection && connection.retired) connection = free.pop();
      if (connection) return connection;
      // Without keep-alive every request needs its own connection: waiting would not help.
      if (active.length < this.h1Limit && (this.connecting < MAX_CONNECTING || this.maxPerConnection === 1)) {
        return this.open(1);
      }
      return undefined;
    }
    if (family === "h2") {
      const count = active.length;
      if (count < this.h2Limit) return this.open(this.streamsPerConnection);
      for (let tries = 0; tries < count; tries++) {
        const connection = active[this.roundRobin++ % count] as Connection;
        if (connection.inFlight < connection.capacity) return connection;
      }
      return active[this.roundRobin++ % count] as Connection;
    }
    // ALPN not answered yet: the one request that opens the first connection.
    return active[0] ?? this.open(Number.POSITIVE_INFINITY);
  }

  private open(capacity: number): Connection {
    const connection = new Connection(capacity);
    const connect = (callback: (error: Error | null, socket: Socket | null) => void): void =>
      this.connect(connection, callback);
    if (this.family === "h1") {
      connection.client = http1Protocol(new Http1Connection(connect, this.h1Context), this.encoder);
    } else if (this.family === "h2") {
      connection.client = http2Protocol(
        new Http2Connection(connect, this.streamsPerConnection, this.noteServerStreams, this.fieldSelection),
        this.h2Encoder,
      );
    } else {
      // ALPN not answered yet (no probe ran): undici's Client speaks whichever protocol the
      // server picks for this first connection; the later ones use our own clients.
      connection.client = undiciProtocol(
        new Client(this.origin, {
          // One in flight until the connection says HTTP/2 (then `connected` raises it), so an
          // HTTP/1.1 connection never pipelines.
          pipelining: 1,
          maxConcurrentStreams: Math.max(100, this.streamsPerConnection),
          // --timeout is enforced by the sweep over all requests; no undici timer per request.
          headersTimeout: 0,
          bodyTimeout: 0,
          connect: (_connectOptions, callback) =>
            connect(callback as (error: Error | null, socket: Socket | null) => void),
        }),
      );
    }
    connection.index = this.active.length;
    this.active.push(connection);
    return connection;
  }

  /** Opens (or takes the probe's) socket for `connection`, measured; undici or `Http1Connection` calls it. */
  private connect(
    connection: Connection,
    callback: (error: Error | null, socket: Socket | null) => void,
  ): void {
    const spare = this.takeSpare();
    if (spare) {
      (spare.socket as ReadingSocket)[PRECONNECTED] = true;
      // Asynchronously, as a real connect: undici calls the connector from its resume loop and
      // would not write the queued requests if the socket arrived inside it.
      queueMicrotask(() => {
        this.connected(connection, spare.info);
        callback(null, spare.socket);
      });
      return;
    }
    if (++this.connecting > this.connectingPeak) this.connectingPeak = this.connecting;
    openConnection(this.connector, this.hostname, this.port, (error, socket, info) => {
      this.connecting--;
      this.schedulePump();
      if (error || !socket || !info) {
        this.recorder.failedAttempt();
        const failure = error ?? new Error("connection failed");
        callback(failure, null);
        // The held-back requests would meet the same failure: they end with it, as undici
        // ends the requests queued on the connection (no hang, no connection storm).
        if (this.discovering) {
          this.discovering = false;
          this.failPending(failure);
        }
        return;
      }
      this.connected(connection, info);
      callback(null, socket);
      if (this.discovering) {
        this.discovering = false;
        this.flushPending();
      }
    });
  }

  /** The probe's connection, if the server has not closed it meanwhile. */
  private takeSpare(): { socket: Socket; info: OpenedConnection; atMs: number } | undefined {
    const spare = this.spare;
    this.spare = undefined;
    if (!spare) return undefined;
    const socket = spare.socket;
    socket.off("error", noop);
    // An idle connection may have been closed by the server without us reading the FIN yet.
    if (
      socket.destroyed ||
      socket.readableEnded ||
      !socket.writable ||
      performance.now() - spare.atMs > SPARE_MAX_IDLE_MS
    ) {
      socket.destroy();
      return undefined;
    }
    return spare;
  }

  /** A connection's socket is up: record it, and size the connection for its protocol. */
  private connected(connection: Connection, info: OpenedConnection): void {
    this.recorder.opened(info);
    connection.responsesOnSocket = 0;
    connection.tlsVersion = info.tlsVersion;
    const h2 = info.protocol !== "http/1.1";
    this.family ??= h2 ? "h2" : "h1";
    const capacity = h2 ? this.streamsPerConnection : 1;
    if (connection.capacity !== capacity) {
      connection.capacity = capacity;
      connection.client.setCapacity(capacity);
      if (!h2 && this.family === "h1" && connection.inFlight < capacity && !connection.retired) {
        this.free.push(connection);
      }
    }
  }

  private flushPending(): void {
    const pending = this.pending;
    this.pending = [];
    for (const handler of pending) {
      if (handler.done) continue;
      const connection = this.waitingHead === this.waiting.length ? this.acquire() : undefined;
      if (connection) this.dispatch(handler, connection);
      else this.waiting.push(handler);
    }
  }

  /**
   * Gives waiting HTTP/1.1 requests the connections that became free or connected. In a
   * microtask: it runs from undici's callbacks, which must not be re-entered (see onResponseError).
   */
  private schedulePump(): void {
    if (this.pumpScheduled || this.waitingHead === this.waiting.length) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const waiting = this.waiting;
    while (this.waitingHead < waiting.length && !this.closed) {
      const handler = waiting[this.waitingHead] as ExchangeHandler;
      if (handler.done) {
        this.waitingHead++; // ended while waiting (timeout)
        continue;
      }
      const connection = this.acquire();
      if (!connection) break;
      this.waitingHead++;
      this.dispatch(handler, connection);
    }
    if (this.waitingHead === waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024) {
      this.waiting = waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  private failPending(error: Error): void {
    const pending = this.pending;
    this.pending = [];
    if (this.closed) {
      pending.push(...this.waiting.slice(this.waitingHead));
      this.waiting = [];
      this.waitingHead = 0;
    }
    for (const handler of pending) {
      handler.onResponseError(undefined, error);
    }
  }

  /** No more requests on this connection: it closes once its last response is in. */
  private retire(connection: Connection): void {
    if (connection.retired) return;
    connection.retired = true;
    const active = this.active;
    const last = active.pop() as Connection;
    if (last !== connection) {
      active[connection.index] = last;
      last.index = connection.index;
    }
    connection.index = -1;
    const client = connection.client;
    this.retiring.add(client);
    client
      .close()
      .catch(noop)
      .finally(() => this.retiring.delete(client));
  }

  private armSweep(): void {
    if (this.sweepTimer) return;
    // The list is in send order, and every request has the same timeout, so the sweep stops at
    // the first handler that is not yet due: O(expired + 1).
    const periodMs = Math.max(5, Math.min(100, Math.floor(this.timeoutMs / 10)));
    this.sweepTimer = setInterval(() => {
      const nowMs = this.nowMs();
      for (let handler = this.inFlight.first(); handler !== undefined;) {
        if (handler.deadlineMs > nowMs) break;
        // expire() may end the request at once, and unlink it: step on first.
        const next = handler.nextInFlight;
        handler.expire();
        handler = next;
      }
      if (this.inFlight.size === 0 && this.sweepTimer) {
        clearInterval(this.sweepTimer);
        this.sweepTimer = undefined;
      }
    }, periodMs);
    this.sweepTimer.unref();
  }
}

/**
 * Sends our HTTP/2 preface on `socket` and reads until the server's first frame is whole: the
 * bytes read when it is SETTINGS (RFC 9113 §3.4), else the error that says why not.
 */
function h2cPreface(socket: Socket, timeoutMs: number): Promise<Buffer | Error> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const finish = (answer: Buffer | Error): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
      resolve(answer);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 9) return;
      const length = received.readUIntBE(0, 3);
      if (received[3] !== SETTINGS || length > MAX_FRAME_SIZE) {
        finish(
          new Http2ProtocolError(
            "ERR_HTTP2_ERROR",
            "HTTP/2 protocol error (PROTOCOL_ERROR): the server did not start with SETTINGS",
          ),
        );
      } else if (received.length >= 9 + length) {
        finish(received);
      }
    };
    const onError = (error: Error): void => finish(error);
    const onEnd = (): void =>
      finish(
        Object.assign(new Error("the server closed the connection"), { code: "ERR_HTTP2_SESSION_ERROR" }),
      );
    const timer = setTimeout(
      () =>
        finish(
          Object.assign(new LoadTestTimeoutError(timeoutMs, "headers"), {
            message: `no HTTP/2 SETTINGS within --timeout ${timeoutMs}ms`,
          }),
        ),
      timeoutMs,
    );
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("end", onEnd);
    socket.write(clientPreface());
  });
}
