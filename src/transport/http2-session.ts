import type { Socket } from "node:net";
import { ConnectionClosedError, ContentLengthMismatchError } from "./errors.js";
import { decodeResponseBlock, type HpackError } from "./hpack.js";
import {
  ACK,
  CANCEL,
  COMPRESSION_ERROR,
  CONTINUATION,
  DATA,
  END_HEADERS,
  ENHANCE_YOUR_CALM,
  END_STREAM,
  FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR,
  GOAWAY,
  HEADERS,
  Http2ProtocolError,
  MAX_FRAME_SIZE,
  MAX_HEADER_BLOCK,
  MAX_STREAM_ID,
  MAX_WINDOW,
  PADDED,
  PING,
  PREFACE,
  PRIORITY,
  PROTOCOL_ERROR,
  PUSH_PROMISE,
  RECEIVE_WINDOW,
  REFUSED_STREAM,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_HEADER_TABLE_SIZE,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  WINDOW_REFILL,
  WINDOW_UPDATE,
  errorName,
  frame,
  u32,
} from "./http2-frames.js";
import type { Http2Connection, Http2Exchange } from "./http2.js";

/**
 * Sockets on which the preflight probe already sent the client preface (`--h2c`,
 * docs/TRANSPORT.md "Preflight"), and what detaches the listener holding the server's bytes
 * since: the session that takes one over sends no second preface and reads those bytes first.
 */
const prefaced = new WeakMap<Socket, () => Buffer>();
/** Our connection preface (§3.4): the magic, our SETTINGS, and the connection window raised. */
export function clientPreface(): Buffer {
  const settings = Buffer.allocUnsafe(18);
  settings.writeUInt16BE(SETTINGS_HEADER_TABLE_SIZE, 0);
  settings.writeUInt32BE(0, 2);
  settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 6);
  settings.writeUInt32BE(0, 8);
  settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 12);
  settings.writeUInt32BE(RECEIVE_WINDOW, 14);
  return Buffer.concat([
    PREFACE,
    frame(SETTINGS, 0, 0, settings),
    frame(WINDOW_UPDATE, 0, 0, u32(RECEIVE_WINDOW - 65_535)),
  ]);
}

/**
 * Marks `socket` as prefaced by the probe, which read `received`; later bytes are held until a
 * session takes the socket over (the socket keeps flowing, so a close is still seen).
 */
export function handOverPrefaced(socket: Socket, received: Buffer): void {
  const chunks = [received];
  const hold = (chunk: Buffer): void => {
    chunks.push(chunk);
  };
  socket.on("data", hold);
  prefaced.set(socket, () => {
    socket.off("data", hold);
    return Buffer.concat(chunks);
  });
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
  private continuation: { streamId: number; flags: number; chunks: Buffer[]; length: number } | undefined;
  private output: Buffer[] = [];
  private flushQueued = false;
  private readonly flushOutput = (): void => this.flush();

  constructor(
    readonly connection: Http2Connection,
    readonly socket: Socket,
  ) {
    const release = prefaced.get(socket);
    if (release === undefined) {
      this.write(clientPreface());
    } else {
      prefaced.delete(socket);
      this.read(release());
    }
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("end", () => this.close(this.endError("other side closed")));
    socket.on("error", (error: Error) => this.close(error));
    socket.on("close", () => this.close(this.endError("closed")));
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

  /** Why the socket ended: inside a frame or a header block, a truncated frame (§4.1, a protocol error); else a close. */
  private endError(message: string): Error {
    if (this.leftover === undefined && this.continuation === undefined)
      return new ConnectionClosedError(message);
    return new Http2ProtocolError(
      "ERR_HTTP2_ERROR",
      `HTTP/2 protocol error: the connection ended inside a ${this.leftover === undefined ? "header block" : "frame"}`,
    );
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
        else if (streamId !== 0) this.fail(PROTOCOL_ERROR, "PING on a stream");
        else if ((flags & ACK) === 0) this.write(frame(PING, ACK, 0, payload));
        return;
      case GOAWAY:
        this.onGoaway(streamId, payload);
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
    if (streamId === 0 || streamId % 2 === 0 || streamId >= this.nextStreamId) {
      // §6.1, §5.1: only streams the client opened carry DATA.
      this.fail(PROTOCOL_ERROR, `DATA on stream ${streamId}, which the client did not open`);
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
    else this.continuation = { streamId, flags, chunks: [Buffer.from(block)], length: block.length };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const pending = this.continuation;
    if (pending === undefined || pending.streamId !== streamId) {
      this.fail(PROTOCOL_ERROR, "CONTINUATION without a header block to continue");
      return;
    }
    pending.chunks.push(Buffer.from(payload));
    pending.length += payload.length;
    if (pending.length > MAX_HEADER_BLOCK) {
      this.fail(ENHANCE_YOUR_CALM, `a header block over ${MAX_HEADER_BLOCK} bytes`);
      return;
    }
    if ((flags & END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.onHeaderBlock(streamId, pending.flags, Buffer.concat(pending.chunks));
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    let fields;
    try {
      // Decoded even for a forgotten stream: a malformed block is a connection error (§4.3).
      fields = decodeResponseBlock(block, this.connection.fieldSelection);
    } catch (error) {
      this.fail(COMPRESSION_ERROR, (error as HpackError).message);
      return;
    }
    const exchange = this.streams[streamId];
    if (exchange === undefined) return;
    const endStream = (flags & END_STREAM) !== 0;
    if (exchange.status !== 0) {
      // Trailers (§8.1): they end the stream; only selected fields are used (gRPC's status).
      if (!endStream) {
        this.resetStream(exchange, PROTOCOL_ERROR, "trailers without END_STREAM");
        return;
      }
      if (fields.selected !== undefined) exchange.handler.onResponseFields?.(exchange, fields.selected);
      if (!exchange.ended) this.complete(exchange);
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
    if (fields.selected !== undefined) exchange.handler.onResponseFields?.(exchange, fields.selected);
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
      this.connection.streamFailed(
        exchange,
        new ContentLengthMismatchError(expected, exchange.receivedLength),
      );
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
    if (streamId === 0) {
      this.fail(PROTOCOL_ERROR, "RST_STREAM on stream 0");
      return;
    }
    const exchange = this.streams[streamId];
    if (exchange === undefined) return;
    this.forget(exchange);
    const code = payload.readUInt32BE(0);
    const error = new Http2ProtocolError(
      "ERR_HTTP2_STREAM_ERROR",
      `Stream closed with error code NGHTTP2_${errorName(code)}`,
    );
    // §8.7: REFUSED_STREAM says the stream was not processed, so it may be sent again; any other
    // code may follow processing and stays the request's error.
    if (code === REFUSED_STREAM)
      this.connection.streamsUnprocessed(this, [exchange], "refused_stream", error);
    else this.connection.streamFailed(exchange, error);
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
        this.connection.serverStreamLimit(value);
      } else if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) {
          this.fail(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
          return;
        }
        // §6.9.2: the change applies to every open stream's window.
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const exchange of Object.values(this.streams)) {
          if (exchange === undefined) continue;
          exchange.sendWindow += delta;
          if (exchange.sendWindow > MAX_WINDOW) {
            this.fail(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE took a stream window above 2^31-1");
            return;
          }
        }
      } else if (id === SETTINGS_ENABLE_PUSH && value !== 0) {
        // §6.5.2: a server may only say 0.
        this.fail(PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value} from a server`);
        return;
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

  private onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) {
      this.fail(PROTOCOL_ERROR, "GOAWAY on a stream");
      return;
    }
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
    // §6.8, a graceful shutdown (nginx after keepalive_requests, or the first of a two-step
    // shutdown with last stream 2^31-1): the others are still answered here, while streams above
    // the last one were not processed and go to a new connection (docs/TRANSPORT.md "Retries").
    const unprocessed: Http2Exchange[] = [];
    for (const exchange of Object.values(this.streams)) {
      if (exchange === undefined || exchange.streamId <= lastStreamId) continue;
      this.forget(exchange);
      unprocessed.push(exchange);
    }
    this.connection.sessionDraining(this);
    this.connection.streamsUnprocessed(this, unprocessed, "goaway", error);
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
      // §6.9, §6.9.1: stream errors.
      if (increment === 0 || exchange.sendWindow + increment > MAX_WINDOW) {
        this.resetStream(
          exchange,
          increment === 0 ? PROTOCOL_ERROR : FLOW_CONTROL_ERROR,
          "an invalid stream window update",
        );
        return;
      }
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
