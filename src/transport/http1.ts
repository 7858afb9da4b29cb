import { performance } from "node:perf_hooks";
import type { Socket } from "node:net";
import { ConnectionClosedError, TransportClosedError, TruncatedBodyError } from "./errors.js";
import type { PreparedRequest } from "./request.js";
import {
  HEADERS_FAIL,
  HEADERS_OK,
  HEADERS_SKIP_BODY,
  Http1ParseError,
  ResponseParser,
  SelectingResponseParser,
  type ResponseEvents,
} from "./llhttp.js";
import { checkedFields, declaresLength } from "./request-fields.js";

/**
 * The HTTP/1.1 hot path (docs/TRANSPORT.md "HTTP/1.1 client"): requests encoded to bytes once
 * per test case, written with one `socket.write` each, and responses parsed by llhttp, the
 * parser undici and node:http use (`llhttp.ts`).
 *
 * Why by hand rather than undici: at saturation undici's per-request JavaScript (request
 * validation, header serialization, `_resume`, a second write for the body: one writev per
 * request) took most of the generator's CPU, and the generator reached 0.78–0.94× autocannon's
 * requests/s (docs/BENCHMARKS.md). A load generator sends the same few requests millions of
 * times, which no general-purpose client optimizes for. undici still carries the first
 * connection whose protocol ALPN has not told yet (no preflight).
 */

/**
 * What a connection reports to, `DispatchHandler`-shaped, so the transport's handler serves
 * undici and both of our clients; `Controller` is the exchange the handler may abort.
 */
export interface ExchangeEvents<Controller> {
  onRequestStart(controller: Controller): void;
  /**
   * Fields of the final response's head (before `onResponseStart`) or of its trailers (before
   * `onResponseEnd`) that the connection was asked to select, as flat [name, value, …] pairs with
   * the selection's lower-case names. Only called when some were asked for and present.
   */
  onResponseFields?(controller: Controller, fields: readonly string[]): void;
  onResponseStart(controller: Controller, statusCode: number): void;
  onResponseData(controller: Controller, chunk: Buffer): void;
  onResponseEnd(controller: Controller): void;
  onResponseError(controller: Controller | undefined, error: Error): void;
}

/** An exchange of either client: whether it ended, and the handler it reports to. */
interface EndingExchange<Controller> {
  ended: boolean;
  readonly handler: ExchangeEvents<Controller>;
}

/** Ends every exchange of `exchanges` not ended yet with `error` (a failed or destroyed connection). */
export function failEach<Exchange extends EndingExchange<Exchange>>(
  exchanges: readonly Exchange[],
  error: Error,
): void {
  for (const exchange of exchanges) {
    if (exchange.ended) continue;
    exchange.ended = true;
    exchange.handler.onResponseError(exchange, error);
  }
}

/** What `close()` callers of a connection wait for: settled together once its sockets are gone. */
export class ClosedSignal {
  private waiters: Array<() => void> = [];

  /** Settled at once when `closedNow`, else at the next `release`. */
  wait(closedNow: boolean): Promise<void> {
    if (closedNow) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

export type Http1Handler = ExchangeEvents<Http1Exchange>;

/** Opens a socket for the connection (the transport's measured connector). */
export type Http1Connect = (callback: (error: Error | null, socket: Socket | null) => void) => void;

/** Request bytes per test case, built on first use: request line, headers, body, in one buffer. */
export class Http1RequestEncoder {
  private readonly keepAlive = new WeakMap<PreparedRequest, Buffer>();
  private readonly close = new WeakMap<PreparedRequest, Buffer>();

  /** @param host the Host header (RFC 9112 §3.2) unless the request sets its own. */
  constructor(private readonly host: string) {}

  /** `lastOnConnection`: says `Connection: close` (RFC 9112 §9.6), as undici does for `reset`. */
  encode(request: PreparedRequest, lastOnConnection: boolean): Buffer {
    const cache = lastOnConnection ? this.close : this.keepAlive;
    let wire = cache.get(request);
    if (wire === undefined) {
      wire = this.build(request, lastOnConnection);
      cache.set(request, wire);
    }
    return wire;
  }

  private build(request: PreparedRequest, lastOnConnection: boolean): Buffer {
    const { body, method, path } = request;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hostGiven = false;
    for (const { name, lowerName, value } of checkedFields(request)) {
      if (lowerName === "host") hostGiven = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!hostGiven) head = head.replace("\r\n", `\r\nhost: ${this.host}\r\n`);
    head += `connection: ${lastOnConnection ? "close" : "keep-alive"}\r\n`;
    const length = body?.length ?? 0;
    if (declaresLength(method, length)) head += `content-length: ${length}\r\n`;
    head += "\r\n";
    const headBytes = Buffer.from(head, "latin1");
    return body && body.length > 0 ? Buffer.concat([headBytes, body]) : headBytes;
  }
}

/** One request on an `Http1Connection`, and the controller its handler may abort. */
export class Http1Exchange {
  /** Written to the socket (a response may be on its way). */
  written = false;
  /** Written while a read was being parsed (from a handler called by the parser). */
  sentWhileReading = false;
  ended = false;
  /** A byte of its response arrived: it was processed, and is never sent again. */
  answered = false;
  /** Its final response head arrived (a close from here on truncates the body). */
  headDone = false;
  bodyBytes = 0;
  /** Sent again once on a new connection (`Http1Connection.fail`); never twice. */
  retried = false;

  constructor(
    readonly connection: Http1Connection,
    readonly wire: Buffer,
    readonly head: boolean,
    readonly lastOnConnection: boolean,
    readonly handler: Http1Handler,
  ) {}

  /** Ends the exchange with `reason`; a written one takes its connection down with it (RFC 9112 §9.3). */
  abort(reason: Error): void {
    this.connection.abort(this, reason);
  }
}

/**
 * A connection that sat idle longer than this opens a new one for its next request, as undici
 * does (its default keep-alive timeout, 4 s): servers close idle connections (node:http after
 * 5 s), and a request written as the close arrives would fail as a reset it did not cause.
 * A server that says how long it keeps idle connections (`Keep-Alive: timeout=N`, node:http and
 * our gateway do) is taken at its word less KEEP_ALIVE_HINT_MARGIN_MS, up to 10 minutes, as
 * undici does (its keepAliveTimeoutThreshold and keepAliveMaxTimeout).
 */
export const IDLE_REUSE_LIMIT_MS = 4_000;
const KEEP_ALIVE_HINT_MARGIN_MS = 2_000;
const KEEP_ALIVE_HINT_MAX_MS = 600_000;
/** The least margin kept below an observed idle close (`IdleCloseLearner`). */
const IDLE_CLOSE_MIN_MARGIN_MS = 100;
/**
 * Closes after less idle time than this teach nothing: they are not an idle timeout (a server
 * that drops a busy connection, or one closing as each new request arrives), and learning from
 * them would turn off reuse for the rest of the run.
 */
const IDLE_CLOSE_MIN_OBSERVED_MS = 250;

/**
 * The server's idle timeout as observed (docs/TRANSPORT.md "Idle connections"), shared by the
 * connections of one transport: a server that closed a connection idle for N ms will close the
 * others after about N ms as well, whether or not it said so in a `Keep-Alive` field (nginx's
 * `keepalive_timeout` does not). Connections idle for longer than `limitMs` are not reused: a
 * quarter of N below the shortest idle close seen (at least 100 ms, at most half of N), so that
 * a request is not written as the server's close is on its way. Only closes after at least
 * 250 ms of idle time count (IDLE_CLOSE_MIN_OBSERVED_MS).
 */
export class IdleCloseLearner {
  /** The shortest idle time after which the server closed a connection; Infinity until seen. */
  shortestIdleCloseMs = Number.POSITIVE_INFINITY;
  limitMs = Number.POSITIVE_INFINITY;

  /** The server closed a connection after it had been idle for `idleMs`. */
  observe(idleMs: number): void {
    if (!(idleMs < this.shortestIdleCloseMs) || idleMs < IDLE_CLOSE_MIN_OBSERVED_MS) return;
    this.shortestIdleCloseMs = idleMs;
    const margin = Math.min(
      this.shortestIdleCloseMs / 2,
      Math.max(IDLE_CLOSE_MIN_MARGIN_MS, this.shortestIdleCloseMs / 4),
    );
    this.limitMs = this.shortestIdleCloseMs - margin;
  }
}

/** Why a request was sent again (`transport.retried.byReason`, docs/RESULTS.md). */
export type Http1RetryReason = "idle_close";

/** What the connections of one transport share and report beyond each request's own events. */
export interface Http1Context {
  idleCloses: IdleCloseLearner;
  /** A request is sent again on a new connection (docs/TRANSPORT.md "Retries"). */
  onRetry(reason: Http1RetryReason): void;
  /** The first response on a socket said HTTP/1.0: the connection speaks HTTP/1.0, not 1.1. */
  onHttp10(): void;
  /** Lower-case names of the response fields to hand to handlers (`TransportOptions.responseHeaders`). */
  responseFields?: readonly string[];
}

/** For a connection on its own (tests): learns alone, reports nothing. */
export function standaloneHttp1Context(): Http1Context {
  return { idleCloses: new IdleCloseLearner(), onRetry: () => undefined, onHttp10: () => undefined };
}

/**
 * On a socket opened with `SHARED_ONREAD`: null until a connection reads it, then its reader.
 * (Set by the connector, so a socket's way of reading is known without Node's internals.)
 */
export const READER = Symbol("http1 reader");
/**
 * On a socket opened ahead of its first request (the preflight probe's, docs/TRANSPORT.md
 * "Preflight"): it sat idle, so a close before it answered is the same idle-close race as on a
 * reused socket (a browser's preconnected socket counts as reused for the same reason).
 */
export const PRECONNECTED = Symbol("preconnected");
export type ReadingSocket = Socket & {
  [READER]?: ((data: Buffer, length: number) => void) | null;
  [PRECONNECTED]?: boolean;
};

/**
 * For `net.connect`'s documented `onread` option: bytes land in one buffer reused for every read
 * of every cleartext socket of the thread (they are parsed before the next read), with no
 * stream machinery or new Buffer per read; `this` is the socket. In a prototype at saturation
 * here it took roughly a tenth off the CPU per request. TLS sockets keep 'data' events.
 */
export const SHARED_ONREAD = {
  buffer: Buffer.allocUnsafe(64 * 1024),
  callback(this: ReadingSocket, bytesRead: number, buffer: Buffer): boolean {
    this[READER]?.(buffer, bytesRead);
    return true; // false would pause the socket
  },
};

/**
 * One HTTP/1.1 connection at a time, requests one after another (no pipelining), reconnecting
 * through `connect` when the server closed the previous one, as an undici `Client` with
 * `pipelining: 1` does.
 */
export class Http1Connection implements ResponseEvents {
  /** Always 1: the transport never pipelines HTTP/1.1. */
  pipelining = 1;
  private socket: ReadingSocket | undefined;
  private parser: ResponseParser | undefined;
  private connecting = false;
  private readonly queue: Http1Exchange[] = [];
  private current: Http1Exchange | undefined;
  /** The current response is an interim 1xx (RFC 9110 §15.2): skipped, not delivered. */
  private interim = false;
  private keepAlive = true;
  /** Inside `parser.execute`: a request written now cannot be answered by the bytes being parsed. */
  private reading = false;
  /** performance.now() when the last response ended (the connection has been idle since). */
  private idleSinceMs = 0;
  /** This socket's limit: the default, or what the server's last Keep-Alive hint allows. */
  private reuseLimitMs: number;
  /** Responses completed on the current socket: once one has, the socket is a reused one. */
  private responsesOnSocket = 0;
  /** The current socket was opened ahead of its first request and sat idle (PRECONNECTED). */
  private preconnected = false;
  /** performance.now() when the current request was written. */
  private writtenAtMs = 0;
  private closing = false;
  private destroyed = false;
  private readonly closed = new ClosedSignal();

  constructor(
    private readonly connect: Http1Connect,
    private readonly context: Http1Context = standaloneHttp1Context(),
    private readonly idleReuseLimitMs: number = IDLE_REUSE_LIMIT_MS,
  ) {
    this.reuseLimitMs = idleReuseLimitMs;
  }

  /** How long this socket may idle and still be reused: its own limit, or less if the server closed sooner. */
  private idleLimitMs(): number {
    return Math.min(this.reuseLimitMs, this.context.idleCloses.limitMs);
  }

  /**
   * Idle past half its reuse limit but not past the limit: a pool that sends on it now keeps it
   * alive, where leaving it longer would have it replaced (a new connection) when next needed.
   */
  wantsRefresh(nowMs: number = performance.now()): boolean {
    if (this.socket === undefined || this.current !== undefined || this.queue.length > 0) return false;
    const idleMs = nowMs - this.idleSinceMs;
    const limitMs = this.idleLimitMs();
    return idleMs > limitMs / 2 && idleMs <= limitMs;
  }

  send(request: PreparedRequest, wire: Buffer, lastOnConnection: boolean, handler: Http1Handler): void {
    const exchange = new Http1Exchange(this, wire, request.method === "HEAD", lastOnConnection, handler);
    if (this.destroyed || this.closing) {
      handler.onResponseError(undefined, new TransportClosedError());
      return;
    }
    this.queue.push(exchange);
    if (this.current === undefined) this.next();
  }

  /** No more requests: the socket ends after the ones queued. */
  close(): Promise<void> {
    this.closing = true;
    if (this.current === undefined && this.queue.length === 0) this.teardown();
    return this.closed.wait(this.socket === undefined && !this.connecting);
  }

  /** Ends every request now and the socket. */
  destroy(): Promise<void> {
    this.destroyed = true;
    this.failAll(new TransportClosedError());
    this.teardown();
    return Promise.resolve();
  }

  /** Called through `Http1Exchange.abort`. */
  abort(exchange: Http1Exchange, reason: Error): void {
    if (exchange.ended) return;
    exchange.ended = true;
    if (exchange === this.current) {
      this.current = undefined;
      // Its response may still arrive: the connection cannot carry another request.
      if (exchange.written) this.teardown();
    } else {
      const index = this.queue.indexOf(exchange);
      if (index >= 0) this.queue.splice(index, 1);
    }
    exchange.handler.onResponseError(exchange, reason);
    this.next();
  }

  private next(): void {
    if (this.current !== undefined || this.destroyed) return;
    const exchange = this.queue.shift();
    if (exchange === undefined) {
      if (this.closing) this.teardown();
      return;
    }
    const nowMs = performance.now();
    if (this.socket !== undefined && nowMs - this.idleSinceMs > this.idleLimitMs()) {
      this.teardown();
    }
    if (this.socket === undefined) {
      this.queue.unshift(exchange);
      this.open();
      return;
    }
    this.current = exchange;
    this.interim = false;
    exchange.handler.onRequestStart(exchange);
    if (exchange.ended) return; // aborted at the start (its deadline had passed); next() ran
    exchange.written = true;
    exchange.sentWhileReading = this.reading;
    this.writtenAtMs = nowMs;
    this.socket.write(exchange.wire);
  }

  private open(): void {
    if (this.connecting) return;
    this.connecting = true;
    this.connect((error, socket) => {
      this.connecting = false;
      if (error || !socket) {
        // As undici: the requests waiting for this connection end with its failure.
        this.failAll(error ?? new ConnectionClosedError("the connection could not be opened"));
        this.closed.release();
        return;
      }
      if (this.destroyed) {
        socket.destroy();
        this.closed.release();
        return;
      }
      this.attach(socket);
      this.next();
    });
  }

  private attach(socket: ReadingSocket): void {
    const select = this.context.responseFields;
    const parser =
      select === undefined || select.length === 0
        ? new ResponseParser(this)
        : new SelectingResponseParser(this, select);
    this.socket = socket;
    this.parser = parser;
    this.idleSinceMs = performance.now();
    this.reuseLimitMs = this.idleReuseLimitMs;
    this.responsesOnSocket = 0;
    this.preconnected = socket[PRECONNECTED] === true;
    const read = (data: Buffer, length: number): void => {
      if (this.socket !== socket) return;
      const exchange = this.current;
      if (exchange === undefined) {
        // Nothing is owed between exchanges: these bytes answer no request, and were they the
        // start of a response (a 408 in two writes) left in the parser, the next one would be misread.
        this.fail(socket, new Http1ParseError("HPE_CB_MESSAGE_BEGIN", "bytes arrived on an idle connection"));
        return;
      }
      // Whatever was written before this read may be answered by it.
      exchange.sentWhileReading = false;
      exchange.answered = true;
      this.reading = true;
      const error = parser.execute(data, length);
      this.reading = false;
      if (error) {
        this.fail(
          socket,
          error.code === "HPE_CB_MESSAGE_BEGIN"
            ? new Http1ParseError(error.code, "a response arrived that answers no request")
            : error,
        );
      }
    };
    if (socket[READER] === null) {
      socket[READER] = read;
    } else {
      socket.on("data", (chunk: Buffer) => read(chunk, chunk.length));
    }
    socket.on("end", () => {
      if (this.socket !== socket) return;
      // A body delimited by the end of the connection ends here (RFC 9112 §6.3): onMessageComplete
      // runs and lets go of the socket. Otherwise the server closed before the end of a response
      // (llhttp says HPE_INVALID_EOF_STATE) or between them.
      parser.finish();
      const exchange = this.current;
      if (exchange?.headDone) {
        this.fail(socket, new TruncatedBodyError(exchange.bodyBytes), false);
      } else if (exchange?.answered) {
        this.fail(
          socket,
          new ConnectionClosedError("the server closed the connection in the middle of a response head"),
          false,
        );
      } else {
        this.fail(
          socket,
          new ConnectionClosedError("the server closed the connection before answering"),
          true,
        );
      }
    });
    socket.on("error", (error: Error & { code?: string }) =>
      this.fail(socket, error, error.code === "ECONNRESET" || error.code === "EPIPE"),
    );
    socket.on("close", () => {
      this.fail(socket, new ConnectionClosedError("the connection closed before the response ended"), true);
      // Not while a request sent again opens the next socket (`fail`): that one is waited for.
      if (!this.connecting && this.socket === undefined) this.closed.release();
    });
  }

  // ResponseEvents: called by the parser from inside `execute` / `finish`.

  onMessageBegin(): boolean {
    // A response that starts in bytes read before its request was written answers nothing
    // (the rest of a read in which the previous response ended and the next request left).
    const exchange = this.current;
    return exchange !== undefined && !exchange.sentWhileReading;
  }

  onHeadersComplete(
    statusCode: number,
    upgrade: boolean,
    keepAlive: boolean,
    keepAliveHintMs: number,
  ): number {
    const exchange = this.current;
    if (exchange === undefined || upgrade) return HEADERS_FAIL; // a protocol switch never asked for
    if (statusCode < 200) {
      this.interim = true;
      return HEADERS_OK;
    }
    if (this.responsesOnSocket === 0 && this.parser?.httpVersion() === "1.0") this.context.onHttp10();
    exchange.headDone = true;
    if (keepAliveHintMs < 0) {
      this.reuseLimitMs = this.idleReuseLimitMs;
      this.keepAlive = keepAlive;
    } else {
      // A hint within the margin leaves no safe idle time: the connection is not reused.
      this.reuseLimitMs = Math.min(keepAliveHintMs - KEEP_ALIVE_HINT_MARGIN_MS, KEEP_ALIVE_HINT_MAX_MS);
      this.keepAlive = keepAlive && this.reuseLimitMs > 0;
    }
    exchange.handler.onResponseStart(exchange, statusCode);
    return exchange.head ? HEADERS_SKIP_BODY : HEADERS_OK;
  }

  onBody(chunk: Buffer): void {
    const exchange = this.current;
    if (exchange !== undefined) {
      exchange.bodyBytes += chunk.length;
      exchange.handler.onResponseData(exchange, chunk);
    }
  }

  onSelectedFields(fields: string[]): void {
    const exchange = this.current;
    // An interim response's fields are not the answer's (RFC 9110 §15.2).
    if (exchange !== undefined && !this.interim) exchange.handler.onResponseFields?.(exchange, fields);
  }

  onMessageComplete(): void {
    if (this.interim) {
      this.interim = false;
      return;
    }
    const exchange = this.current;
    if (exchange === undefined) return;
    this.current = undefined;
    exchange.ended = true;
    this.responsesOnSocket++;
    this.idleSinceMs = performance.now();
    // The handler may send again at once (a closed loop): the state is settled before it runs.
    if (!this.keepAlive || exchange.lastOnConnection) this.teardown();
    exchange.handler.onResponseEnd(exchange);
    this.next();
  }

  /**
   * The socket failed or ended: the request on it fails, except as below; the queued ones get a
   * new connection. `byPeer`: the server closed it (FIN, ECONNRESET, EPIPE), not a parse error.
   *
   * A request that got no byte of response, on a reused (or preconnected) socket that the server
   * closed, was not processed: the server closed the idle connection as the request was on its
   * way (RFC 9112 §9.3.1, §9.6). It is sent again, once, on a new connection, whatever its
   * method, as browsers and undici do for a reused socket (docs/TRANSPORT.md "Retries"). Its
   * deadline and intended send time stay, so the reconnect is part of its latency. A fresh
   * socket that fails, or a request that got part of a response, fails: that is the server's
   * doing.
   */
  private fail(socket: Socket | undefined, error: Error, byPeer = false): void {
    if (socket === undefined || this.socket !== socket) return;
    // Only a close after a response teaches the idle timeout: a preconnected socket's server
    // may keep never-used connections for another time (nginx: client_header_timeout).
    const reused = this.responsesOnSocket > 0;
    const preconnected = this.preconnected;
    this.teardown();
    const exchange = this.current;
    if (exchange === undefined) {
      if (byPeer && reused) this.context.idleCloses.observe(performance.now() - this.idleSinceMs);
      this.next();
      return;
    }
    this.current = undefined;
    if (byPeer && (reused || preconnected) && !exchange.answered && !exchange.retried) {
      if (reused) this.context.idleCloses.observe(this.writtenAtMs - this.idleSinceMs);
      exchange.retried = true;
      exchange.written = false;
      exchange.sentWhileReading = false;
      this.context.onRetry("idle_close");
      this.queue.unshift(exchange);
      this.next();
      return;
    }
    exchange.ended = true;
    exchange.handler.onResponseError(exchange, error);
    this.next();
  }

  private failAll(error: Error): void {
    const exchanges = this.current === undefined ? [] : [this.current];
    exchanges.push(...this.queue.splice(0));
    this.current = undefined;
    failEach(exchanges, error);
  }

  private teardown(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    if (socket[READER]) socket[READER] = null;
    this.parser?.free();
    this.parser = undefined;
    socket.destroy();
  }
}
