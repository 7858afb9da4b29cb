import type { PreparedRequest } from "./request.js";
import { encodeRequestBlock } from "./hpack.js";
import { checkedFields, declaresLength } from "./request-fields.js";

/** HTTP/2 frames (RFC 9113 §4, §6): their codes, how to write them, and a request's frames built once per test case. */

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

// Frame types (RFC 9113 §6) and flags.
export const DATA = 0x0;
export const HEADERS = 0x1;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;
export const END_STREAM = 0x1;
export const ACK = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY = 0x20;

// SETTINGS parameters (§6.5.2).
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;

/** Error codes (§7), named as nghttp2 names them in node:http2's messages. */
export const ERROR_NAMES = [
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
export const PROTOCOL_ERROR = 0x1;
export const FLOW_CONTROL_ERROR = 0x3;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;
export const errorName = (code: number): string => ERROR_NAMES[code] ?? `0x${code.toString(16)}`;

/** The frame size every peer accepts (§4.2); we neither send nor accept larger ones. */
export const MAX_FRAME_SIZE = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;
/** Our receive window per stream and per connection: large, so a fast server is never held back. */
export const RECEIVE_WINDOW = 16 * 1024 * 1024;
/** Received bytes are credited back (WINDOW_UPDATE) once this many are owed. */
export const WINDOW_REFILL = RECEIVE_WINDOW / 2;
export const MAX_STREAM_ID = 2 ** 31 - 1;
/**
 * A response header block larger than this (HEADERS and its CONTINUATION frames) ends the
 * connection: responses need a few hundred bytes, and an endless CONTINUATION sequence would
 * otherwise grow without bound (RFC 9113 §10.5).
 */
export const MAX_HEADER_BLOCK = 256 * 1024;

/** A stream or session failure, coded as node:http2 codes it, so errors.ts classifies it alike. */
export class Http2ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

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

export function frameHeader(
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

export function frame(type: number, flags: number, id: number, payload: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(9 + payload.length);
  frameHeader(bytes, 0, payload.length, type, flags, id);
  bytes.set(payload, 9);
  return bytes;
}

export function u32(value: number): Buffer {
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
