import type { Socket } from "node:net";
import { errors } from "undici";
import type { PreparedRequest } from "./http.js";
import type { ExchangeEvents, Http1Connect } from "./http1.js";
import { decodeResponseBlock, encodeRequestBlock, HpackError } from "./hpack.js";
import { checkedFields, declaresLength } from "./request-fields.js";

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

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

// Frame types (RFC 9113 §6) and flags.
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

// SETTINGS parameters (§6.5.2).
const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

/** Error codes (§7), named as nghttp2 names them in node:http2's messages. */
const ERROR_NAMES = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
];
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const FRAME_SIZE_ERROR = 0x6;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;
const errorName = (code: number): string => ERROR_NAMES[code] ?? `0x${code.toString(16)}`;

/** The frame size every peer accepts (§4.2); we neither send nor accept larger ones. */
const MAX_FRAME_SIZE = 16_384;
const MAX_WINDOW = 2 ** 31 - 1;
/** Our receive window per stream and per connection: large, so a fast server is never held back. */
const RECEIVE_WINDOW = 16 * 1024 * 1024;
/** Received bytes are credited back (WINDOW_UPDATE) once this many are owed. */
const WINDOW_REFILL = RECEIVE_WINDOW / 2;
const MAX_STREAM_ID = 2 ** 31 - 1;

/** A stream or session failure, coded as node:http2 codes it, so errors.ts classifies it alike. */
export class Http2ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Http2Handler = ExchangeEvents<Http2Exchange>;

/**
 * A request's frames, built once per test case with stream id 0: HEADERS (+ CONTINUATION) and,
 * with a body, DATA frames of at most MAX_FRAME_SIZE, the last with END_STREAM.
 */
export interface Http2Wire {
  frames: Buffer;
  /** Offsets of every frame header in `frames` (the stream id is written at offset + 5). */
  frameOffsets: number[];
  /** Bytes of `frames` that are HEADERS/CONTINUATION (not flow-controlled). */
  headersLength: number;
  body: Buffer | undefined;
}

function frameHeader(
  target: Buffer,
  at: number,
  length: number,
  type: number,
  flags: number,
  id: number,
): void {
  target[at] = length >>> 16;
  target[at + 1] = (length >>> 8) & 0xff;
  target[at + 2] = length & 0xff;
  target[at + 3] = type;
  target[at + 4] = flags;
  target.writeUInt32BE(id, at + 5);
}

function frame(type: number, flags: number, id: number, payload: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(9 + payload.length);
  frameHeader(bytes, 0, payload.length, type, flags, id);
  bytes.set(payload, 9);
  return bytes;
}

function u32(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/** Request frames per test case, built on first use. */
export class Http2RequestEncoder {
  private readonly cache = new WeakMap<PreparedRequest, Http2Wire>();

  /** @param authority `:authority` (RFC 9113 §8.3.1) unless the request sets a Host header. */
  constructor(
    private readonly scheme: "http" | "https",
    private readonly authority: string,
  ) {}

  encode(request: PreparedRequest): Http2Wire {
    let wire = this.cache.get(request);
    if (wire === undefined) {
      wire = this.build(request);
      this.cache.set(request, wire);
    }
    return wire;
  }

  private build(request: PreparedRequest): Http2Wire {
    const { body, method, path } = request;
    let authority = this.authority;
    const fields: Array<[string, string]> = [];
    for (const { lowerName, value } of checkedFields(request)) {
      // HTTP/2 carries the host in :authority (RFC 9113 §8.3.1); field names are lower case (§8.2.1).
      if (lowerName === "host") authority = value;
      else fields.push([lowerName, value]);
    }
    const length = body?.length ?? 0;
    if (declaresLength(method, length)) fields.push(["content-length", String(length)]);
    const block = encodeRequestBlock(method, this.scheme, authority, path, fields);
    const headerFrames = Math.max(1, Math.ceil(block.length / MAX_FRAME_SIZE));
    const dataFrames = length === 0 ? 0 : Math.ceil(length / MAX_FRAME_SIZE);
    const frames = Buffer.allocUnsafe(9 * (headerFrames + dataFrames) + block.length + length);
    const frameOffsets: number[] = [];
    let at = 0;
    for (let i = 0; i < headerFrames; i++) {
      const chunk = block.subarray(i * MAX_FRAME_SIZE, (i + 1) * MAX_FRAME_SIZE);
      const last = i === headerFrames - 1;
      const flags = (last ? END_HEADERS : 0) | (i === 0 && length === 0 ? END_STREAM : 0);
      frameOffsets.push(at);
      frameHeader(frames, at, chunk.length, i === 0 ? HEADERS : CONTINUATION, flags, 0);
      frames.set(chunk, at + 9);
      at += 9 + chunk.length;
    }
    const headersLength = at;
    for (let i = 0; i < dataFrames && body; i++) {
      const chunk = body.subarray(i * MAX_FRAME_SIZE, (i + 1) * MAX_FRAME_SIZE);
      frameOffsets.push(at);
      frameHeader(frames, at, chunk.length, DATA, i === dataFrames - 1 ? END_STREAM : 0, 0);
      frames.set(chunk, at + 9);
      at += 9 + chunk.length;
    }
    return { frames, frameOffsets, headersLength, body: length > 0 ? body : undefined };
  }
}

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

  constructor(
    readonly connection: Http2Connection,
    readonly wire: Http2Wire,
    readonly head: boolean,
    readonly lastOnConnection: boolean,
    readonly handler: Http2Handler,
  ) {}

  /** Ends the exchange with `reason`; an open stream is reset (RST_STREAM CANCEL), the connection carries on. */
  abort(reason: Error): void {
    this.connection.abort(this, reason);
  }
}

/** One HTTP/2 connection (socket): its frames, streams and windows. */
export class Http2Session {
  /** Open streams by id: a plain object (dictionary elements), not a Map (docs/BENCHMARKS.md "A Map that kept every request"). */
  private readonly streams: Record<number, Http2Exchange | undefined> = Object.create(null) as Record<
    number,
    Http2Exchange | undefined
  >;
  openStreams = 0;
  private nextStreamId = 1;
  peerMaxStreams = Number.POSITIVE_INFINITY;
  private peerInitialWindow = 65_535;
  private sendWindow = 65_535;
  private unackedBytes = 0;
  /** Streams whose body waits for window, in order. */
  private blocked: Http2Exchange[] = [];
  /** No new streams: GOAWAY received, ids exhausted, or its last request was sent. */
  draining = false;
  /** What the streams still open fail with when the socket closes after a GOAWAY. */
  private goawayError: Error | undefined;
  private settingsReceived = false;
  closed = false;
  private leftover: Buffer | undefined;
  /** A header block whose CONTINUATION frames are still coming (§6.10). */
  private continuation: { streamId: number; flags: number; chunks: Buffer[] } | undefined;
  private output: Buffer[] = [];
  private flushQueued = false;
  private readonly flushOutput = (): void => this.flush();

  constructor(
    readonly connection: Http2Connection,
    readonly socket: Socket,
  ) {
    const settings = Buffer.allocUnsafe(18);
    settings.writeUInt16BE(SETTINGS_HEADER_TABLE_SIZE, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 6);
    settings.writeUInt32BE(0, 8);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 12);
    settings.writeUInt32BE(RECEIVE_WINDOW, 14);
    this.write(PREFACE);
    this.write(frame(SETTINGS, 0, 0, settings));
    this.write(frame(WINDOW_UPDATE, 0, 0, u32(RECEIVE_WINDOW - 65_535)));
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("end", () => this.close(new errors.SocketError("other side closed")));
    socket.on("error", (error: Error) => this.close(error));
    socket.on("close", () => this.close(new errors.SocketError("closed")));
  }

  /**
   * Streams it may still open now: one until the server's SETTINGS say its limit (more could be
   * refused, RFC 9113 §5.1.2), then up to `limit` and that limit.
   */
  room(limit: number): boolean {
    if (this.draining || this.closed) return false;
    return this.openStreams < (this.settingsReceived ? Math.min(limit, this.peerMaxStreams) : 1);
  }

  start(exchange: Http2Exchange): void {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    if (this.nextStreamId > MAX_STREAM_ID) this.draining = true;
    if (exchange.lastOnConnection) this.draining = true;
    exchange.session = this;
    exchange.streamId = id;
    exchange.sendWindow = this.peerInitialWindow;
    this.streams[id] = exchange;
    this.openStreams++;
    const wire = exchange.wire;
    const bodyLength = wire.body?.length ?? 0;
    const whole = bodyLength <= this.sendWindow && bodyLength <= exchange.sendWindow;
    const length = whole ? wire.frames.length : wire.headersLength;
    const bytes = Buffer.allocUnsafe(length);
    wire.frames.copy(bytes, 0, 0, length);
    for (const offset of wire.frameOffsets) {
      if (offset >= length) break;
      bytes.writeUInt32BE(id, offset + 5);
    }
    this.write(bytes);
    if (bodyLength === 0) return;
    if (whole) {
      this.sendWindow -= bodyLength;
      exchange.sendWindow -= bodyLength;
      exchange.bodySent = bodyLength;
    } else {
      this.blocked.push(exchange);
      this.sendBlocked();
    }
  }

  /** Resets a stream the client gave up on (its timeout): RST_STREAM CANCEL (§8.7). */
  cancel(exchange: Http2Exchange): void {
    if (this.streams[exchange.streamId] !== exchange) return;
    this.forget(exchange);
    if (!this.closed) this.write(frame(RST_STREAM, 0, exchange.streamId, u32(CANCEL)));
  }

  /** Ends the socket once its streams are done (no new ones). */
  drain(): void {
    this.draining = true;
    if (this.openStreams === 0) this.shutdown();
  }

  /** Closes the socket now; the streams still open fail with `error`. */
  close(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.flush();
    this.socket.destroy();
    const failure = this.goawayError ?? error;
    const open = Object.values(this.streams);
    for (const exchange of open) {
      if (exchange === undefined) continue;
      this.forget(exchange);
      this.connection.streamFailed(exchange, failure);
    }
    this.blocked = [];
    this.connection.sessionClosed(this);
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    // After what was just written (a last WINDOW_UPDATE or RST_STREAM); a server that stopped
    // reading after its GOAWAY must not keep the socket open.
    this.socket.destroySoon();
    this.connection.sessionClosed(this);
  }

  private forget(exchange: Http2Exchange): void {
    delete this.streams[exchange.streamId];
    this.openStreams--;
    if (exchange.bodySent < (exchange.wire.body?.length ?? 0)) {
      const index = this.blocked.indexOf(exchange);
      if (index >= 0) this.blocked.splice(index, 1);
    }
  }

  private write(bytes: Buffer): void {
    this.output.push(bytes);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // Frames from one turn of the event loop leave in one write (one system call).
      queueMicrotask(this.flushOutput);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const output = this.output;
    if (output.length === 0) return;
    this.output = [];
    if (this.socket.destroyed) return;
    this.socket.write(output.length === 1 ? (output[0] as Buffer) : Buffer.concat(output));
  }

  /** Sends what the windows allow of the bodies waiting for them, in order. */
  private sendBlocked(): void {
    while (this.blocked.length > 0 && this.sendWindow > 0) {
      const exchange = this.blocked[0] as Http2Exchange;
      const body = exchange.wire.body as Buffer;
      while (exchange.bodySent < body.length && this.sendWindow > 0 && exchange.sendWindow > 0) {
        const size = Math.min(
          MAX_FRAME_SIZE,
          body.length - exchange.bodySent,
          this.sendWindow,
          exchange.sendWindow,
        );
        const last = exchange.bodySent + size === body.length;
        this.write(
          frame(
            DATA,
            last ? END_STREAM : 0,
            exchange.streamId,
            body.subarray(exchange.bodySent, exchange.bodySent + size),
          ),
        );
        exchange.bodySent += size;
        this.sendWindow -= size;
        exchange.sendWindow -= size;
      }
      if (exchange.bodySent < body.length) {
        if (exchange.sendWindow <= 0) {
          // Blocked by its own window: the others may go on.
          this.blocked.shift();
          this.blocked.push(exchange);
          if (this.blocked.every((other) => other.sendWindow <= 0)) return;
          continue;
        }
        return;
      }
      this.blocked.shift();
    }
  }

  private read(chunk: Buffer): void {
    let bytes = chunk;
    if (this.leftover !== undefined) {
      bytes = Buffer.concat([this.leftover, chunk]);
      this.leftover = undefined;
    }
    let at = 0;
    while (bytes.length - at >= 9 && !this.closed) {
      const length =
        ((bytes[at] as number) << 16) | ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
      if (length > MAX_FRAME_SIZE) {
        this.fail(FRAME_SIZE_ERROR, `a frame of ${length} bytes (at most ${MAX_FRAME_SIZE})`);
        return;
      }
      if (bytes.length - at < 9 + length) break;
      const type = bytes[at + 3] as number;
      const flags = bytes[at + 4] as number;
      const streamId = bytes.readUInt32BE(at + 5) & 0x7fffffff;
      const payload = bytes.subarray(at + 9, at + 9 + length);
      at += 9 + length;
      this.onFrame(type, flags, streamId, payload);
    }
    if (at < bytes.length && !this.closed) this.leftover = Buffer.from(bytes.subarray(at));
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsReceived && type !== SETTINGS) {
      // §3.4: the server's preface is a SETTINGS frame (an HTTP/1.1 server answers otherwise).
      this.fail(PROTOCOL_ERROR, "the server did not start with SETTINGS");
      return;
    }
    if (this.continuation !== undefined && type !== CONTINUATION) {
      this.fail(PROTOCOL_ERROR, "a header block was interrupted (§6.10)");
      return;
    }
    switch (type) {
      case DATA:
        this.onData(flags, streamId, payload);
        return;
      case HEADERS:
        this.onHeaders(flags, streamId, payload);
        return;
      case CONTINUATION:
        this.onContinuation(flags, streamId, payload);
        return;
      case RST_STREAM:
        this.onReset(streamId, payload);
        return;
      case SETTINGS:
        this.onSettings(flags, streamId, payload);
        return;
      case PUSH_PROMISE:
        this.fail(PROTOCOL_ERROR, "PUSH_PROMISE, though SETTINGS_ENABLE_PUSH is 0");
        return;
      case PING:
        if (payload.length !== 8) this.fail(FRAME_SIZE_ERROR, "a PING frame not of 8 bytes");
        else if ((flags & ACK) === 0) this.write(frame(PING, ACK, 0, payload));
        return;
      case GOAWAY:
        this.onGoaway(payload);
        return;
      case WINDOW_UPDATE:
        this.onWindowUpdate(streamId, payload);
        return;
      default:
        // PRIORITY and unknown types are ignored (§5.3.2, §5.5).
        return;
    }
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) {
      this.fail(PROTOCOL_ERROR, "DATA on stream 0");
      return;
    }
    // Flow control counts the whole payload, padding included (§6.9.1), even for a stream
    // already forgotten (reset by us): the connection window is shared.
    this.unackedBytes += payload.length;
    if (this.unackedBytes >= WINDOW_REFILL) {
      this.write(frame(WINDOW_UPDATE, 0, 0, u32(this.unackedBytes)));
      this.unackedBytes = 0;
    }
    const data = this.unpad(flags, payload, 0);
    if (data === undefined) return;
    const exchange = this.streams[streamId];
    if (exchange === undefined) return;
    if (exchange.status === 0) {
      this.resetStream(exchange, PROTOCOL_ERROR, "DATA before the response's HEADERS");
      return;
    }
    exchange.receivedLength += data.length;
    if (data.length > 0) exchange.handler.onResponseData(exchange, data);
    if (exchange.ended) return;
    if (flags & END_STREAM) {
      this.complete(exchange);
      return;
    }
    exchange.unackedBytes += payload.length;
    if (exchange.unackedBytes >= WINDOW_REFILL) {
      this.write(frame(WINDOW_UPDATE, 0, streamId, u32(exchange.unackedBytes)));
      exchange.unackedBytes = 0;
    }
  }

  /** The payload without its padding (§6.1), or undefined after failing the connection. */
  private unpad(flags: number, payload: Buffer, extra: number): Buffer | undefined {
    let start = 0;
    let padding = 0;
    if (flags & PADDED) {
      if (payload.length < 1) {
        this.fail(PROTOCOL_ERROR, "a padded frame without its pad length");
        return undefined;
      }
      padding = payload[0] as number;
      start = 1;
    }
    start += extra;
    if (start + padding > payload.length) {
      this.fail(PROTOCOL_ERROR, "padding longer than the frame");
      return undefined;
    }
    return payload.subarray(start, payload.length - padding);
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0 || streamId >= this.nextStreamId) {
      this.fail(PROTOCOL_ERROR, `HEADERS on stream ${streamId}, which the client did not open`);
      return;
    }
    const block = this.unpad(flags, payload, flags & PRIORITY ? 5 : 0);
    if (block === undefined) return;
    if (flags & END_HEADERS) this.onHeaderBlock(streamId, flags, block);
    else this.continuation = { streamId, flags, chunks: [Buffer.from(block)] };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const pending = this.continuation;
    if (pending === undefined || pending.streamId !== streamId) {
      this.fail(PROTOCOL_ERROR, "CONTINUATION without a header block to continue");
      return;
    }
    pending.chunks.push(Buffer.from(payload));
    if ((flags & END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.onHeaderBlock(streamId, pending.flags, Buffer.concat(pending.chunks));
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    let fields;
    try {
      // Decoded even for a forgotten stream: a malformed block is a connection error (§4.3).
      fields = decodeResponseBlock(block);
    } catch (error) {
      this.fail(COMPRESSION_ERROR, (error as HpackError).message);
      return;
    }
    const exchange = this.streams[streamId];
    if (exchange === undefined) return;
    const endStream = (flags & END_STREAM) !== 0;
    if (exchange.status !== 0) {
      // Trailers (§8.1): they end the stream; their fields are not used.
      if (!endStream) this.resetStream(exchange, PROTOCOL_ERROR, "trailers without END_STREAM");
      else this.complete(exchange);
      return;
    }
    const status = fields.status;
    if (status < 200 || status > 999) {
      // 1xx: interim (§8.1), another HEADERS follows; 101 and a missing :status are malformed.
      if (status >= 100 && status !== 101 && !endStream) return;
      this.resetStream(
        exchange,
        PROTOCOL_ERROR,
        status === 0 ? "a response without :status" : `:status ${status}`,
      );
      return;
    }
    exchange.status = status;
    exchange.expectedLength = fields.contentLength;
    exchange.handler.onResponseStart(exchange, status);
    if (endStream && !exchange.ended) this.complete(exchange);
  }

  private complete(exchange: Http2Exchange): void {
    this.forget(exchange);
    if (exchange.bodySent < (exchange.wire.body?.length ?? 0) && !this.closed) {
      // Answered before the whole body left (§8.1): the rest is not sent.
      this.write(frame(RST_STREAM, 0, exchange.streamId, u32(CANCEL)));
    }
    const expected = exchange.expectedLength;
    if (
      expected >= 0 &&
      !exchange.head &&
      exchange.status !== 204 &&
      exchange.status !== 304 &&
      expected !== exchange.receivedLength
    ) {
      // §8.1.1: a content-length that differs from the DATA received makes the response malformed.
      this.connection.streamFailed(exchange, new errors.ResponseContentLengthMismatchError());
      return;
    }
    this.connection.streamCompleted(exchange);
  }

  /** A stream error of ours (§5.4.2): reset it and fail its request. */
  private resetStream(exchange: Http2Exchange, code: number, message: string): void {
    this.forget(exchange);
    this.write(frame(RST_STREAM, 0, exchange.streamId, u32(code)));
    this.connection.streamFailed(
      exchange,
      new Http2ProtocolError("ERR_HTTP2_ERROR", `HTTP/2 malformed response (${errorName(code)}): ${message}`),
    );
  }

  private onReset(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) {
      this.fail(FRAME_SIZE_ERROR, "an RST_STREAM frame not of 4 bytes");
      return;
    }
    const exchange = this.streams[streamId];
    if (exchange === undefined) return;
    this.forget(exchange);
    const code = payload.readUInt32BE(0);
    this.connection.streamFailed(
      exchange,
      new Http2ProtocolError(
        "ERR_HTTP2_STREAM_ERROR",
        `Stream closed with error code NGHTTP2_${errorName(code)}`,
      ),
    );
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) {
      this.fail(PROTOCOL_ERROR, "SETTINGS on a stream");
      return;
    }
    if (flags & ACK) return;
    if (payload.length % 6 !== 0) {
      this.fail(FRAME_SIZE_ERROR, "a SETTINGS frame not a multiple of 6 bytes");
      return;
    }
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === SETTINGS_MAX_CONCURRENT_STREAMS) {
        this.peerMaxStreams = value;
      } else if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) {
          this.fail(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
          return;
        }
        // §6.9.2: the change applies to every open stream's window.
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const exchange of Object.values(this.streams)) if (exchange) exchange.sendWindow += delta;
      } else if (id === SETTINGS_MAX_FRAME_SIZE && (value < MAX_FRAME_SIZE || value > 16_777_215)) {
        this.fail(PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range");
        return;
      }
    }
    this.settingsReceived = true;
    this.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
    this.sendBlocked();
    this.connection.sessionHasRoom(this);
  }

  private onGoaway(payload: Buffer): void {
    if (payload.length < 8) {
      this.fail(FRAME_SIZE_ERROR, "a GOAWAY frame shorter than 8 bytes");
      return;
    }
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    const error = new Http2ProtocolError(
      "ERR_HTTP2_GOAWAY_SESSION",
      `HTTP/2: "GOAWAY" frame received with code ${errorName(code)} (last stream ${lastStreamId})`,
    );
    this.goawayError = error;
    if (code !== 0) {
      // An error ends the connection (§5.4.1): no answer is coming for any stream.
      this.close(error);
      return;
    }
    this.draining = true;
    // §6.8, a graceful shutdown: streams above the last one were not processed; the others
    // are still answered.
    for (const exchange of Object.values(this.streams)) {
      if (exchange === undefined || exchange.streamId <= lastStreamId) continue;
      this.forget(exchange);
      this.connection.streamFailed(exchange, error);
    }
    this.connection.sessionDraining(this);
    if (this.openStreams === 0) this.shutdown();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) {
      this.fail(FRAME_SIZE_ERROR, "a WINDOW_UPDATE frame not of 4 bytes");
      return;
    }
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0 || this.sendWindow + increment > MAX_WINDOW) {
        this.fail(
          increment === 0 ? PROTOCOL_ERROR : FLOW_CONTROL_ERROR,
          "an invalid connection window update",
        );
        return;
      }
      this.sendWindow += increment;
    } else {
      const exchange = this.streams[streamId];
      if (exchange === undefined) return;
      exchange.sendWindow += increment;
    }
    this.sendBlocked();
  }

  /** A connection error of ours (§5.4.1): GOAWAY with `code`, then close; every open stream fails. */
  private fail(code: number, message: string): void {
    if (this.closed) return;
    // Last stream id 0: the server opened none (no push).
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(code, 4);
    this.write(frame(GOAWAY, 0, 0, payload));
    this.close(
      new Http2ProtocolError("ERR_HTTP2_ERROR", `HTTP/2 protocol error (${errorName(code)}): ${message}`),
    );
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
  private closedWaiters: Array<() => void> = [];

  constructor(
    private readonly connect: Http1Connect,
    pipelining: number,
  ) {
    this.pipelining = pipelining;
  }

  send(request: PreparedRequest, wire: Http2Wire, lastOnConnection: boolean, handler: Http2Handler): void {
    const exchange = new Http2Exchange(this, wire, request.method === "HEAD", lastOnConnection, handler);
    if (this.destroyed || this.closing) {
      handler.onResponseError(undefined, new errors.ClientDestroyedError());
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
    return this.whenClosed();
  }

  /** Ends every request now (`ClientDestroyedError`, as undici) and the sockets. */
  destroy(): Promise<void> {
    this.destroyed = true;
    const error = new errors.ClientDestroyedError();
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
    if (this.current === undefined && this.draining.length === 0 && !this.connecting) this.resolveClosed();
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
        this.failQueued(error ?? new errors.SocketError("connection failed"));
        if (this.current === undefined && this.draining.length === 0) this.resolveClosed();
        return;
      }
      if (this.destroyed) {
        socket.destroy();
        this.resolveClosed();
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
    for (const exchange of queued) {
      if (exchange.ended) continue;
      exchange.ended = true;
      exchange.handler.onResponseError(exchange, error);
    }
  }

  private resolveClosed(): void {
    const waiters = this.closedWaiters;
    this.closedWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private whenClosed(): Promise<void> {
    if (this.current === undefined && this.draining.length === 0 && !this.connecting)
      return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }
}
