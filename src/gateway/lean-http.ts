/**
 * A lean HTTP/1.1 server for the reference gateway: net sockets, llhttp's request parser (the
 * WebAssembly build in src/transport/llhttp.ts), and responses written as one string each.
 *
 * Why by hand: node:http costs ~80 µs of CPU per small request on the benchmark machine (its JS
 * internals, IncomingMessage/ServerResponse streams and a writev per response), so the gateway
 * could not hold 10,000 req/s on one core with a low P99. No npm library serves HTTP faster than
 * node:http on Node 20 without native code (uWebSockets.js is a prebuilt binary that cannot be
 * installed here; the pure-JS frameworks sit on node:http). What the gateway serves is small:
 * Content-Length responses, request bodies read whole, so the server only has to get the
 * protocol right, not be general.
 *
 * What it implements (RFC 9112 unless said): persistent connections and `Connection: close`
 * (§9.3, §9.6), HTTP/1.0 with and without keep-alive (§9.3), pipelined requests answered in
 * order (§9.3.2), Content-Length and chunked request bodies (§6.3, §7.1), `Expect: 100-continue`
 * left to the handler (RFC 9110 §10.1.1), HEAD (RFC 9110 §9.3.2), 400 + close on a malformed
 * request and 431 on an oversized head as node:http answers them, the idle keep-alive, headers
 * and request timeouts of node:http, and a lingering close (§9.6) so that a client still sending
 * a refused body reads our answer instead of a reset.
 */
import { performance } from "node:perf_hooks";
import { maxHeaderSize as NODE_MAX_HEADER_SIZE, STATUS_CODES } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { RequestParser, type RequestHead } from "../transport/llhttp.js";
import { BodyCollector } from "./body.js";

/** One request and its response, as a `LeanHandler` sees them. */
export interface LeanExchange {
  readonly method: string;
  readonly url: string;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** A kept header field (see `LeanServerOptions.keepHeaders`), by lower-case name. */
  header(name: string): string | undefined;
  /** True once the response is queued or the connection is gone: later calls do nothing. */
  readonly answered: boolean;
  /** A field written before the ones `respond` is given (node's `setHeader` before `writeHead`). */
  setHeader(name: string, value: string): void;
  /**
   * Queues the whole response: status line, the fields set so far, `fields` (flat name, value
   * list), Date, the connection fields, then the body (none for HEAD, RFC 9110 §9.3.2). The body
   * length is the caller's `content-length` field, so that the fields stay as the caller wrote them.
   */
  respond(status: number, fields: readonly string[], body: string): void;
  /** Sends `100 Continue` now (RFC 9110 §15.2.1). */
  writeContinue(): void;
  /**
   * Collects the body. `onBody` gets it whole (undefined when empty) once the message is
   * complete; `onOverflow` runs instead once it passes `maxBytes`, and the rest is discarded.
   */
  readBody(maxBytes: number, onBody: (body: Buffer | undefined) => void, onOverflow: () => void): void;
  /** Runs once if the connection closes before the response was written. */
  onAbandon(callback: () => void): void;
}

export type LeanHandler = (exchange: LeanExchange) => void;

export interface LeanServerOptions {
  /** Lower-case names of the request fields the handler reads; the others are not decoded. */
  keepHeaders: readonly string[];
  /** Idle time after a response before a persistent connection is closed (node: keepAliveTimeout). */
  keepAliveTimeoutMs: number;
  /** Longest time from a message's first byte to the end of its head: then 408 (node: headersTimeout). */
  headersTimeoutMs: number;
  /** Longest time from a message's first byte to its last: then 408 (node: requestTimeout, 300 s). */
  requestTimeoutMs?: number;
  /** Request line target plus fields, in bytes; default node's `--max-http-header-size` (16 KiB). */
  maxHeaderSize?: number;
  /** How long a closing connection keeps reading (and discarding) before it is destroyed. */
  lingerMs?: number;
}

export interface LeanServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops listening and destroys every connection, idle or busy. Idempotent. */
  close(): Promise<void>;
  /** Open connections (for tests). */
  connectionCount(): number;
}

/** Node's answers to a request it cannot parse; same bytes, so clients see no difference. */
const BAD_REQUEST = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
const HEADERS_TOO_LARGE = "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";
const REQUEST_TIMEOUT = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";
/** node:http's test for an expectation it understands (RFC 9110 §10.1.1). */
const CONTINUE_EXPECTATION = /(?:^|\W)100-continue(?:$|\W)/i;
/** Output queued above this pauses reading: a client pipelining without reading cannot grow it unbounded. */
const HIGH_WATER_BYTES = 256 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
const DEFAULT_LINGER_MS = 2_000;

const STATUS_LINES = new Map<number, string>();
function statusLine(status: number): string {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "unknown"}\r\n`;
    STATUS_LINES.set(status, line);
  }
  return line;
}

/** The Date field (RFC 9110 §6.6.1), formatted once a second as node:http does. */
let dateSecond = -1;
let dateField = "";
function dateLine(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateField = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateField;
}

export function createLeanServer(options: LeanServerOptions, handler: LeanHandler): LeanServer {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const parserOptions = {
    keep: [...new Set([...options.keepHeaders, "host", "expect"])],
    maxHeaderSize: options.maxHeaderSize ?? NODE_MAX_HEADER_SIZE,
  };
  const keepAliveSec = Math.floor(options.keepAliveTimeoutMs / 1000);
  const keepAliveFields = `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSec}\r\n`;
  const connections = new Set<Connection>();
  let closing = false;
  /** Set by `close()`: resolves it once the last connection has closed. */
  let onAllClosed: (() => void) | undefined;
  /** A coarse clock, advanced by the sweep: timeouts are seconds long, and it costs nothing per request. */
  let now = performance.now();

  class Exchange implements LeanExchange {
    answered = false;
    /** The response bytes once answered; written when every earlier response has been. */
    output: string | null = null;
    /** A `100 Continue` waiting for the earlier responses to go out first. */
    interim = "";
    closeAfter: boolean;
    /** Fields from `setHeader`, flat [name, value, ...]; a name set again replaces its value, as in node. */
    private extra: string[] | undefined;
    private userConnection = false;
    /** Set by `readBody`: the handler wants the body. */
    private body: BodyCollector | undefined;
    private onBody: ((body: Buffer | undefined) => void) | undefined;
    private onOverflow: (() => void) | undefined;
    abandon: (() => void) | undefined;

    constructor(
      private readonly connection: Connection,
      private readonly head: RequestHead,
    ) {
      // CONNECT asks for a tunnel this server does not open: answer it, then close (RFC 9110 §9.3.6).
      this.closeAfter = !head.keepAlive || head.method === "CONNECT";
    }

    get method(): string {
      return this.head.method;
    }
    get url(): string {
      return this.head.url;
    }
    get versionMajor(): number {
      return this.head.versionMajor;
    }
    get versionMinor(): number {
      return this.head.versionMinor;
    }

    header(name: string): string | undefined {
      return this.head.headers.get(name);
    }

    setHeader(name: string, value: string): void {
      if (this.answered) return;
      const extra = (this.extra ??= []);
      const lower = name.toLowerCase();
      let at = 0;
      while (at < extra.length && extra[at]!.toLowerCase() !== lower) at += 2;
      extra[at] = name;
      extra[at + 1] = value;
      // Like node:http: a `connection` field set by the handler replaces the server's own, and
      // "close" in it closes the connection after this response (RFC 9112 §9.6).
      if (lower === "connection") {
        this.userConnection = true;
        if (/(?:^|,)\s*close\s*(?:,|$)/i.test(value)) {
          this.closeAfter = true;
          // Requests after this one will not be answered: do not start on them.
          this.connection.ending = true;
        }
      }
    }

    respond(status: number, fields: readonly string[], body: string): void {
      this.write(status, fields, body, "");
    }

    /** node:http's `writeHead(status); end()`: an empty chunked body after the server's fields. */
    respondEmpty(status: number): void {
      this.write(status, [], "0\r\n\r\n", "Transfer-Encoding: chunked\r\n");
    }

    private write(status: number, fields: readonly string[], body: string, trailing: string): void {
      if (this.answered) return;
      this.answered = true;
      let text = statusLine(status);
      const extra = this.extra;
      if (extra !== undefined)
        for (let i = 0; i < extra.length; i += 2) text += `${extra[i]}: ${extra[i + 1]}\r\n`;
      for (let i = 0; i + 1 < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
      text += dateLine();
      if (!this.userConnection) {
        if (this.closeAfter || closing) {
          this.closeAfter = true;
          text += "Connection: close\r\n";
        } else {
          text += keepAliveFields;
        }
      }
      text += trailing + "\r\n";
      if (this.head.method !== "HEAD") text += body;
      this.output = text;
      this.connection.flush();
    }

    writeContinue(): void {
      if (this.answered || this.connection.closed) return;
      this.interim = CONTINUE;
      this.connection.flush();
    }

    readBody(maxBytes: number, onBody: (body: Buffer | undefined) => void, onOverflow: () => void): void {
      this.body = new BodyCollector(maxBytes);
      this.onBody = onBody;
      this.onOverflow = onOverflow;
    }

    onAbandon(callback: () => void): void {
      this.abandon = callback;
    }

    /** @internal A part of the body, a view into the parser's memory. */
    bodyPart(chunk: Uint8Array): void {
      const body = this.body;
      if (body === undefined || body.overflowed) return;
      if (!body.add(chunk, true)) this.onOverflow?.();
    }

    /** @internal The message is complete. */
    complete(): void {
      const body = this.body;
      if (body === undefined || body.overflowed) return;
      this.onBody?.(body.take());
    }
  }

  class Connection {
    readonly parser: RequestParser;
    /** Requests not yet written out, in arrival order (RFC 9112 §9.3.2: answers go in that order). */
    readonly queue: Exchange[] = [];
    /** The message being parsed, from its head to its end. */
    current: Exchange | null = null;
    inMessage = false;
    messageStartedAt = 0;
    idleSince: number;
    /** Inside `execute`: responses wait for the end of the read and go out in one write. */
    parsing = false;
    /** No more requests are read (a `close` response, a parse error, shutdown). */
    ending = false;
    endingSince = 0;
    closed = false;
    paused = false;

    constructor(readonly socket: Socket) {
      this.idleSince = now;
      this.parser = new RequestParser(parserOptions, {
        onMessageBegin: () => {
          this.inMessage = true;
          this.messageStartedAt = now;
        },
        onHead: (head) => this.onHead(head),
        onBody: (chunk) => this.current?.bodyPart(chunk),
        onMessageComplete: () => {
          const exchange = this.current;
          this.current = null;
          this.inMessage = false;
          exchange?.complete();
        },
      });
      socket.on("data", (data: Buffer) => this.onData(data));
      socket.on("drain", () => this.resume());
      // The client sent FIN. Like node:http (httpAllowHalfOpen false): what is answered has been
      // written, the requests still waiting are abandoned, and our side closes too.
      socket.on("end", () => this.endGracefully());
      // A reset or a write to a closed socket: the connection is gone either way.
      socket.on("error", () => socket.destroy());
      socket.on("close", () => this.onClose());
    }

    private onHead(head: RequestHead): void {
      // Requests pipelined after one that closes the connection are not answered (RFC 9112 §9.6).
      if (this.ending) return;
      const exchange = new Exchange(this, head);
      this.current = exchange;
      this.queue.push(exchange);
      if (exchange.closeAfter) this.ending = true;
      const http11 = head.versionMajor === 1 && head.versionMinor === 1;
      // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400, as node:http answers it.
      if (http11 && !head.headers.has("host")) {
        exchange.setHeader("Connection", "close");
        exchange.respondEmpty(400);
        return;
      }
      // node:http answers an expectation other than 100-continue with 417 (RFC 9110 §10.1.1);
      // HTTP/1.0 clients cannot send Expect meaningfully, so theirs is ignored.
      const expect = head.headers.get("expect");
      if (expect !== undefined && http11 && !CONTINUE_EXPECTATION.test(expect)) {
        exchange.respondEmpty(417);
        return;
      }
      handler(exchange);
    }

    onData(data: Buffer): void {
      if (this.ending && this.current === null) return; // lingering: discard (RFC 9112 §9.6)
      this.parsing = true;
      let error;
      try {
        error = this.parser.execute(data);
      } catch {
        // The handler threw: nothing sensible can be answered on this connection any more.
        this.parsing = false;
        this.socket.destroy();
        return;
      }
      this.parsing = false;
      // Once closing, what follows is ignored, llhttp's HPE_CLOSED_CONNECTION included.
      if (error !== null && !this.closed && (!this.ending || this.current !== null)) {
        if (error.code === "HPE_PAUSED_UPGRADE") {
          // The bytes after an Upgrade/CONNECT request are another protocol, which this server
          // does not speak: answer the request as HTTP/1.1 and close (RFC 9110 §7.8).
          this.ending = true;
        } else {
          this.fail(error.code === "HPE_HEADER_OVERFLOW" ? HEADERS_TOO_LARGE : BAD_REQUEST);
          return;
        }
      }
      this.flush();
    }

    /** A malformed request: after the earlier answers, node's 400 (or 431), then close. */
    fail(answer: string): void {
      const current = this.current;
      this.current = null;
      this.inMessage = false;
      if (current !== null && !current.answered) {
        // Its handler may be waiting for the body: the request is abandoned, our answer replaces it.
        current.answered = true;
        current.closeAfter = true;
        current.output = answer;
        current.abandon?.();
      } else {
        const exchange = new Exchange(this, FAILED_HEAD);
        exchange.answered = true;
        exchange.output = answer;
        this.queue.push(exchange);
      }
      this.ending = true;
      this.flush();
    }

    /** Writes every answered response at the head of the queue, in one write. */
    flush(): void {
      if (this.parsing || this.closed) return;
      let text = "";
      let close = false;
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.interim !== "") {
          text += head.interim;
          head.interim = "";
        }
        if (head.output === null) break;
        this.queue.shift();
        text += head.output;
        if (head.closeAfter) {
          close = true;
          break;
        }
      }
      if (text.length > 0) this.socket.write(text);
      if (close) {
        this.endGracefully();
        return;
      }
      if (this.queue.length === 0 && !this.inMessage) this.idleSince = now;
      if (this.socket.writableLength > HIGH_WATER_BYTES && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
    }

    private resume(): void {
      if (!this.paused || this.closed) return;
      this.paused = false;
      this.socket.resume();
    }

    /** FIN after the last answer, then read and discard (RFC 9112 §9.6) until the client closes. */
    endGracefully(): void {
      if (this.closed) return;
      this.ending = true;
      this.endingSince = now;
      this.current = null;
      // Requests pipelined behind the closing answer go unanswered (RFC 9112 §9.6).
      for (const exchange of this.queue.splice(0)) {
        if (exchange.output === null) {
          exchange.answered = true;
          exchange.abandon?.();
        }
      }
      this.socket.end();
      this.resume();
    }

    private onClose(): void {
      if (this.closed) return;
      this.closed = true;
      connections.delete(this);
      if (connections.size === 0) onAllClosed?.();
      this.parser.free();
      const pending = this.queue.splice(0);
      for (const exchange of pending) {
        if (exchange.output === null) {
          exchange.answered = true;
          exchange.abandon?.();
        }
      }
      if (this.current !== null && !this.current.answered) {
        this.current.answered = true;
        this.current.abandon?.();
      }
      this.current = null;
    }

    /** The periodic check of node:http's timeouts. */
    sweep(): void {
      if (this.closed) return;
      if (this.ending && this.queue.length === 0 && this.current === null) {
        if (now - this.endingSince >= lingerMs) this.socket.destroy();
        return;
      }
      if (this.inMessage) {
        const limit = this.current === null ? options.headersTimeoutMs : requestTimeoutMs;
        if (now - this.messageStartedAt >= limit) this.fail(REQUEST_TIMEOUT);
        return;
      }
      if (this.queue.length === 0 && now - this.idleSince >= options.keepAliveTimeoutMs) {
        this.socket.destroy();
      }
    }
  }

  const FAILED_HEAD: RequestHead = {
    method: "GET",
    url: "",
    versionMajor: 1,
    versionMinor: 1,
    keepAlive: false,
    upgrade: false,
    headers: new Map(),
  };

  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    connections.add(new Connection(socket));
  });

  // Fine enough for second-long timeouts, and short ones in tests.
  const sweepMs = Math.max(
    10,
    Math.min(1000, options.keepAliveTimeoutMs / 4, options.headersTimeoutMs / 4, lingerMs / 4),
  );
  const sweeper = setInterval(() => {
    now = performance.now();
    for (const connection of connections) connection.sweep();
  }, sweepMs);
  sweeper.unref();

  let closed: Promise<void> | undefined;
  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (error: Error): void => {
          clearInterval(sweeper);
          reject(error);
        };
        server.once("error", onError);
        server.listen({ host, port }, () => {
          server.off("error", onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(sweeper);
        const allClosed =
          connections.size === 0
            ? Promise.resolve()
            : new Promise<void>((resolve) => (onAllClosed = resolve));
        const stopped = new Promise<void>((resolve, reject) =>
          server.close((error) => (error ? reject(error) : resolve())),
        );
        for (const connection of connections) connection.socket.destroy();
        await Promise.all([stopped, allClosed]);
      })();
      return closed;
    },
    connectionCount: () => connections.size,
  };
}
