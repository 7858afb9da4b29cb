import type { PreparedRequest } from "./request.js";
import { ClosedSignal, failEach, type ExchangeEvents, type Http1Connect } from "./http1.js";
import type { Http2Wire } from "./http2-frames.js";
import { ConnectionClosedError, TransportClosedError } from "./errors.js";
import { Http2Session } from "./http2-session.js";
import type { FieldSelection } from "./hpack.js";

/**
 * The HTTP/2 hot path (RFC 9113; docs/TRANSPORT.md "The HTTP/2 client"): frames written and read
 * straight on the socket, request frames built once per test case, responses read for their
 * status, length and body only.
 *
 * Why by hand rather than undici (which drives node:http2): on this class of machine that path
 * took ~240 µs of CPU per request, against ~10 µs for a prototype that spoke the frames itself,
 * and node:http2 kept every finished stream reachable until the next full GC, so scavenges took
 * 15–28 ms and the generator's own delay made runs untrustworthy from ~500 req/s
 * (docs/BENCHMARKS.md "HTTP/2"). A load generator sends the same few requests millions of times.
 */

export { Http2ProtocolError, Http2RequestEncoder, type Http2Wire } from "./http2-frames.js";

/** Why a request was sent again: the server said it had not processed it (RFC 9113 §8.7). */
export type Http2RetryReason = "goaway" | "refused_stream";

export interface Http2Handler extends ExchangeEvents<Http2Exchange> {
  /**
   * The server did not process the request (a graceful GOAWAY below its stream id, or
   * REFUSED_STREAM): it waits for a stream again, first in line, and `onRequestStart` follows.
   */
  onRequestRetry(controller: Http2Exchange, reason: Http2RetryReason): void;
}

/**
 * Times one request is sent again after the server said it had not processed it, before that
 * answer counts as its error: bounded, so a server that refuses everything still shows as failing
 * (docs/TRANSPORT.md "Retries").
 */
export const MAX_RETRIES = 2;

/** One request on an `Http2Connection`, and the controller its handler may abort. */
export class Http2Exchange {
  session: Http2Session | undefined;
  streamId = 0;
  ended = false;
  /** The final response's status; 0 until its HEADERS came. */
  status = 0;
  /** `content-length` of the response, -1 without one. */
  expectedLength = -1;
  receivedLength = 0;
  /** Received DATA bytes not yet credited back to the server (WINDOW_UPDATE). */
  unackedBytes = 0;
  /** Body bytes already sent; the rest waits for flow-control window. */
  bodySent = 0;
  sendWindow = 0;
  /** Times it was sent again (`MAX_RETRIES`). */
  retries = 0;

  constructor(
    readonly connection: Http2Connection,
    readonly wire: Http2Wire,
    readonly head: boolean,
    readonly lastOnConnection: boolean,
    readonly handler: Http2Handler,
  ) {}

  /** Back to a request not yet on any stream, to be sent again. */
  restart(): void {
    this.session = undefined;
    this.streamId = 0;
    this.expectedLength = -1;
    this.receivedLength = 0;
    this.unackedBytes = 0;
    this.bodySent = 0;
    this.sendWindow = 0;
    this.retries++;
  }

  /** Ends the exchange with `reason`; an open stream is reset (RST_STREAM CANCEL), the connection carries on. */
  abort(reason: Error): void {
    this.connection.abort(this, reason);
  }
}

/**
 * One HTTP/2 connection at a time (a new one after a GOAWAY, or when the server closed it), with
 * up to `pipelining` streams at once (and no more than the server's SETTINGS allow), as an undici
 * `Client` with `allowH2` does. Requests beyond that wait here, in order.
 */
export class Http2Connection {
  /** Streams at once; the transport sets it to its share of --workers. */
  pipelining: number;
  private current: Http2Session | undefined;
  /** Sessions that take no new streams but still have some open. */
  private readonly draining: Http2Session[] = [];
  private connecting = false;
  private queue: Http2Exchange[] = [];
  private queueHead = 0;
  private closing = false;
  private destroyed = false;
  private readonly closed = new ClosedSignal();

  constructor(
    private readonly connect: Http1Connect,
    pipelining: number,
    /** Told each SETTINGS_MAX_CONCURRENT_STREAMS a server announces (the summary names it when it held the run back). */
    private readonly onServerStreamLimit: (limit: number) => void = () => undefined,
    /** Response fields to hand to each request's handler (`TransportOptions.responseHeaders`); null: none. */
    readonly fieldSelection: FieldSelection | null = null,
  ) {
    this.pipelining = pipelining;
  }

  send(request: PreparedRequest, wire: Http2Wire, lastOnConnection: boolean, handler: Http2Handler): void {
    const exchange = new Http2Exchange(this, wire, request.method === "HEAD", lastOnConnection, handler);
    if (this.destroyed || this.closing) {
      handler.onResponseError(undefined, new TransportClosedError());
      return;
    }
    this.queue.push(exchange);
    this.pump();
  }

  /** No more requests: the sockets end after the streams in flight. */
  close(): Promise<void> {
    this.closing = true;
    if (this.queueHead === this.queue.length) {
      this.current?.drain();
      for (const session of [...this.draining]) session.drain();
    }
    return this.closed.wait(this.current === undefined && this.draining.length === 0 && !this.connecting);
  }

  /** Ends every request now (`TransportClosedError`) and the sockets. */
  destroy(): Promise<void> {
    this.destroyed = true;
    const error = new TransportClosedError();
    this.failQueued(error);
    this.current?.close(error);
    for (const session of [...this.draining]) session.close(error);
    return Promise.resolve();
  }

  /** Called through `Http2Exchange.abort`. */
  abort(exchange: Http2Exchange, reason: Error): void {
    if (exchange.ended) return;
    if (exchange.session !== undefined) {
      exchange.session.cancel(exchange);
    } else {
      const index = this.queue.indexOf(exchange, this.queueHead);
      if (index >= 0) this.queue.splice(index, 1);
    }
    this.streamFailed(exchange, reason);
  }

  /** @internal from a session */
  streamCompleted(exchange: Http2Exchange): void {
    if (exchange.ended) return;
    exchange.ended = true;
    exchange.handler.onResponseEnd(exchange);
    this.afterStream(exchange.session);
  }

  /** @internal from a session, or `abort` */
  streamFailed(exchange: Http2Exchange, error: Error): void {
    if (exchange.ended) return;
    exchange.ended = true;
    exchange.handler.onResponseError(exchange, error);
    this.afterStream(exchange.session);
  }

  /**
   * @internal from a session: streams the server says it did not process (RFC 9113 §6.8, §8.7),
   * in stream order, already forgotten by `session`. They go first in line for the next stream,
   * on a connection that takes new streams, keeping their deadline; past `MAX_RETRIES` (or when
   * the connection is being destroyed) they fail with `error`.
   */
  streamsUnprocessed(
    session: Http2Session,
    exchanges: readonly Http2Exchange[],
    reason: Http2RetryReason,
    error: Error,
  ): void {
    const again: Http2Exchange[] = [];
    for (const exchange of exchanges) {
      if (exchange.ended) continue;
      // A stream with response headers was processed, whatever the server says.
      if (exchange.retries >= MAX_RETRIES || exchange.status !== 0 || this.destroyed) {
        exchange.ended = true;
        exchange.handler.onResponseError(exchange, error);
        continue;
      }
      exchange.restart();
      again.push(exchange);
    }
    if (again.length > 0) {
      this.queue.splice(this.queueHead, 0, ...again);
      for (const exchange of again) exchange.handler.onRequestRetry(exchange, reason);
    }
    this.afterStream(session);
  }

  /** @internal a session's server announced SETTINGS_MAX_CONCURRENT_STREAMS. */
  serverStreamLimit(limit: number): void {
    this.onServerStreamLimit(limit);
  }

  /** @internal the server's SETTINGS may allow more streams. */
  sessionHasRoom(session: Http2Session): void {
    if (session === this.current) this.pump();
  }

  /** @internal GOAWAY: new streams go to a new connection. */
  sessionDraining(session: Http2Session): void {
    if (session === this.current) {
      this.current = undefined;
      this.draining.push(session);
    }
    this.pump();
  }

  /** @internal */
  sessionClosed(session: Http2Session): void {
    if (session === this.current) this.current = undefined;
    const index = this.draining.indexOf(session);
    if (index >= 0) this.draining.splice(index, 1);
    this.pump();
    if (this.current === undefined && this.draining.length === 0 && !this.connecting) this.closed.release();
  }

  private afterStream(session: Http2Session | undefined): void {
    if (session !== undefined && session.draining && session.openStreams === 0) {
      if (session === this.current) this.current = undefined;
      session.drain();
    }
    this.pump();
  }

  /** Starts queued requests while the connection has room; opens one when there is none. */
  private pump(): void {
    if (this.destroyed) return;
    const queue = this.queue;
    while (this.queueHead < queue.length) {
      let session = this.current;
      if (session !== undefined && session.draining) {
        this.current = undefined;
        if (session.openStreams > 0) this.draining.push(session);
        else session.drain();
        session = undefined;
      }
      if (session === undefined) {
        this.open();
        return;
      }
      if (!session.room(this.pipelining)) return;
      const exchange = queue[this.queueHead++] as Http2Exchange;
      if (exchange.ended) continue;
      exchange.handler.onRequestStart(exchange);
      if (exchange.ended) continue; // aborted at the start (its deadline had passed)
      session.start(exchange);
    }
    if (this.queueHead === queue.length) {
      this.queue = [];
      this.queueHead = 0;
      if (this.closing) {
        if (this.current !== undefined && this.current.openStreams === 0) this.current.drain();
      }
    } else if (this.queueHead > 1024) {
      this.queue = queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private open(): void {
    if (this.connecting) return;
    this.connecting = true;
    this.connect((error, socket) => {
      this.connecting = false;
      if (error || !socket) {
        // As undici: the requests waiting for this connection end with its failure.
        this.failQueued(error ?? new ConnectionClosedError("the connection failed"));
        if (this.current === undefined && this.draining.length === 0) this.closed.release();
        return;
      }
      if (this.destroyed) {
        socket.destroy();
        this.closed.release();
        return;
      }
      this.current = new Http2Session(this, socket);
      this.pump();
    });
  }

  private failQueued(error: Error): void {
    const queued = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    failEach(queued, error);
  }
}
