import { createRequire } from "node:module";

/**
 * HTTP/1.1 response parsing (and request parsing, for the reference gateway's lean server,
 * `RequestParser` below) with llhttp, the parser of undici and node:http, in the WebAssembly
 * build that undici ships (`undici/lib/llhttp`). Loaded from undici's files rather than a copy:
 * the same parser version undici runs, updated with it (undici 7 is pinned; its package has no
 * `exports` map, so the path resolves).
 *
 * Why not Node's native binding (`_http_common`'s HTTPParser): it turns every header into a
 * JavaScript string and copies every body chunk before calling back, ~3 µs per small response
 * here against ~1.4 µs for this build, which reports positions and lets the caller read only what
 * it needs (the status code, the body).
 */

const require = createRequire(import.meta.url);
const { TYPE, ERROR, METHODS } = require("undici/lib/llhttp/constants.js") as {
  TYPE: { REQUEST: number; RESPONSE: number };
  ERROR: Record<string, number>;
  METHODS: Record<string, number>;
};

interface LlhttpExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(pointer: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_finish(parser: number): number;
  llhttp_get_error_reason(parser: number): number;
  llhttp_get_method(parser: number): number;
  llhttp_get_http_major(parser: number): number;
  llhttp_get_http_minor(parser: number): number;
  llhttp_get_error_pos(parser: number): number;
  llhttp_resume_after_upgrade(parser: number): void;
}

/** The parser's answer to a response's headers (llhttp's `on_headers_complete` return values). */
export const HEADERS_OK = 0;
/** The response has no body whatever its headers say (the answer to HEAD, RFC 9110 §9.3.2). */
export const HEADERS_SKIP_BODY = 1;
/** Stop: the parse fails with `HPE_CB_HEADERS_COMPLETE`. */
export const HEADERS_FAIL = -1;

/** What a `ResponseParser` reports, synchronously from `execute` / `finish`. */
export interface ResponseEvents {
  /** A response starts; false fails the parse (`HPE_CB_MESSAGE_BEGIN`): nothing was asked. */
  onMessageBegin(): boolean;
  /**
   * Returns HEADERS_OK, HEADERS_SKIP_BODY or HEADERS_FAIL. `keepAliveHintMs`: the `timeout=` of a
   * `Keep-Alive` field in ms (how long the server keeps an idle connection), or -1 without one.
   */
  onHeadersComplete(
    statusCode: number,
    upgrade: boolean,
    keepAlive: boolean,
    keepAliveHintMs: number,
  ): number;
  /**
   * `SelectingResponseParser` only: the selected fields of a head (right after its
   * `onHeadersComplete`) or of a chunked body's trailers (RFC 9112 §7.1.2, right before
   * `onMessageComplete`), as flat [name, value, …] pairs; not called when there are none.
   */
  onSelectedFields?(fields: string[]): void;
  /** A copy of a part of the body (the caller may keep it). */
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
}

const ERROR_NAME = new Map(Object.entries(ERROR).map(([name, code]) => [code, name]));

/** The parser that is executing: llhttp's callbacks carry only its pointer, so they reach it through this. */
let active: LlhttpParser | null = null;
/** Where the bytes being parsed sit in the WebAssembly memory. */
let inputPointer = 0;
let inputCapacity = 0;

function instantiate(): LlhttpExports {
  // One set of callbacks for both kinds of parser; each callback goes to the executing one.
  const imports = {
    env: {
      wasm_on_url: (_parser: number, at: number, length: number) =>
        active === null ? -1 : active.onUrl(at, length),
      wasm_on_status: () => 0,
      wasm_on_message_begin: () => (active === null ? -1 : active.onMessageBegin()),
      wasm_on_header_field: (_parser: number, at: number, length: number) =>
        active === null ? -1 : active.onHeaderField(at, length),
      wasm_on_header_value: (_parser: number, at: number, length: number) =>
        active === null ? -1 : active.onHeaderValue(at, length),
      wasm_on_headers_complete: (parser: number, statusCode: number, upgrade: number, keepAlive: number) =>
        active === null
          ? HEADERS_FAIL
          : active.onHeadersComplete(parser, statusCode, upgrade === 1, keepAlive === 1),
      wasm_on_body: (_parser: number, at: number, length: number) =>
        active === null ? -1 : active.onBody(at, length),
      wasm_on_message_complete: () => (active === null ? -1 : active.onMessageComplete()),
    },
  };
  let module: WebAssembly.Module;
  try {
    // The SIMD build where the CPU and V8 allow it, as undici does.
    module = new WebAssembly.Module(
      require("undici/lib/llhttp/llhttp_simd-wasm.js") as Uint8Array<ArrayBuffer>,
    );
    return new WebAssembly.Instance(module, imports).exports as unknown as LlhttpExports;
  } catch {
    module = new WebAssembly.Module(require("undici/lib/llhttp/llhttp-wasm.js") as Uint8Array<ArrayBuffer>);
    return new WebAssembly.Instance(module, imports).exports as unknown as LlhttpExports;
  }
}

/** One instance per thread, shared by every parser (each has its own llhttp state). */
const llhttp = instantiate();

/** A Buffer over the WebAssembly memory, remade when the memory grows (growing detaches the old one). */
let memoryView = Buffer.from(llhttp.memory.buffer);
/**
 * The WebAssembly memory as bytes (a new view after the memory grew). A view of a detached
 * buffer has length 0, which is cheaper to read than comparing `.buffer`s (two getters that
 * were ~1% of the generator's CPU at saturation, run once per read and per body chunk).
 */
function memory(): Buffer {
  if (memoryView.length === 0) memoryView = Buffer.from(llhttp.memory.buffer);
  return memoryView;
}

/** Puts the first `length` bytes of `data` where llhttp reads them (`inputPointer`), growing that space if need be. */
function copyIn(data: Uint8Array, length: number): void {
  if (length > inputCapacity) {
    if (inputPointer !== 0) llhttp.free(inputPointer);
    inputCapacity = Math.ceil(length / 65_536) * 65_536;
    inputPointer = llhttp.malloc(inputCapacity);
  }
  memory().set(length === data.length ? data : data.subarray(0, length), inputPointer);
}

/** A parse error, with llhttp's code as `HPE_<NAME>` like node:http and undici report it. */
export class Http1ParseError extends Error {
  constructor(
    readonly code: string,
    reason: string,
    subject: "response" | "request" = "response",
  ) {
    super(`the ${subject} does not follow HTTP/1.1 (${reason})`);
  }
}

const FINISH = -1;

/** "keep-alive", the one response field the client reads (as bytes, lower case). */
const KEEP_ALIVE_NAME = Buffer.from("keep-alive", "latin1");
/** RFC 9110 has no grammar for Keep-Alive (an HTTP/1.0 extension); undici reads it the same way. */
const KEEP_ALIVE_TIMEOUT = /timeout=(\d+)/;

/**
 * One llhttp parser state and the callbacks it receives (0 continues, -1 fails the parse).
 * `enter`/`leave` bracket a call into llhttp (no closure per call: this runs per response);
 * a parser freed from inside its own callbacks is released on `leave`.
 */
abstract class LlhttpParser {
  protected readonly pointer: number;
  private executing = false;
  protected freed = false;

  constructor(type: number) {
    this.pointer = llhttp.llhttp_alloc(type);
  }

  /** Releases the parser's memory; safe from inside its own callbacks (done once `execute` returns). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    if (!this.executing) llhttp.llhttp_free(this.pointer);
  }

  /** Makes this the parser llhttp's callbacks reach; returns the one to restore (parsers may nest). */
  protected enter(): LlhttpParser | null {
    const previous = active;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    active = this;
    this.executing = true;
    return previous;
  }

  protected leave(previous: LlhttpParser | null): void {
    this.executing = false;
    active = previous;
    if (this.freed) llhttp.llhttp_free(this.pointer);
  }

  /** @internal */
  onUrl(_at: number, _length: number): number {
    return 0;
  }
  abstract onMessageBegin(): number;
  abstract onHeaderField(at: number, length: number): number;
  abstract onHeaderValue(at: number, length: number): number;
  abstract onHeadersComplete(
    parser: number,
    statusCode: number,
    upgrade: boolean,
    keepAlive: boolean,
  ): number;
  abstract onBody(at: number, length: number): number;
  abstract onMessageComplete(): number;
}

/** Parses the responses of one connection, in order (a new parser per connection). */
export class ResponseParser extends LlhttpParser {
  /**
   * The Keep-Alive field, read on the way: a field name arrives in one or more pieces and is
   * compared byte by byte with "keep-alive" (no string per header); only its value is decoded.
   */
  protected fieldLength = 0;
  private fieldIsKeepAlive = false;
  /** The last piece was (part of) a value: the next name piece starts a new field. */
  protected afterValue = true;
  private keepAliveValue = "";

  constructor(readonly events: ResponseEvents) {
    super(TYPE.RESPONSE);
  }

  /** Parses the first `length` bytes of `data`; events fire before it returns. Null, or the parse error. */
  execute(data: Uint8Array, length: number = data.length): Http1ParseError | null {
    if (this.freed) return null;
    copyIn(data, length);
    return this.run(length);
  }

  /** The connection ended: completes a body delimited by the close (RFC 9112 §6.3), or says what is missing. */
  finish(): Http1ParseError | null {
    if (this.freed) return null;
    return this.run(FINISH);
  }

  /** @internal */
  onMessageBegin(): number {
    this.afterValue = true;
    this.keepAliveValue = "";
    return this.events.onMessageBegin() ? 0 : -1;
  }

  /** @internal A piece of a header field's name. */
  onHeaderField(at: number, length: number): number {
    if (this.afterValue) {
      this.afterValue = false;
      this.fieldLength = 0;
      this.fieldIsKeepAlive = true;
    }
    if (this.fieldIsKeepAlive) {
      const bytes = memory();
      for (let i = 0; i < length; i++) {
        const offset = this.fieldLength + i;
        // ASCII letters only differ from their upper case in bit 0x20; '-' has it set already.
        if (
          offset >= KEEP_ALIVE_NAME.length ||
          ((bytes[at + i] as number) | 0x20) !== KEEP_ALIVE_NAME[offset]
        ) {
          this.fieldIsKeepAlive = false;
          break;
        }
      }
    }
    this.fieldLength += length;
    return 0;
  }

  /** @internal A piece of a header field's value. */
  onHeaderValue(at: number, length: number): number {
    this.afterValue = true;
    if (
      this.fieldIsKeepAlive &&
      this.fieldLength === KEEP_ALIVE_NAME.length &&
      this.keepAliveValue.length < 256
    )
      this.keepAliveValue += latin1(at, length);
    return 0;
  }

  /** @internal */
  onHeadersComplete(_parser: number, statusCode: number, upgrade: boolean, keepAlive: boolean): number {
    return this.events.onHeadersComplete(statusCode, upgrade, keepAlive, this.keepAliveHintMs());
  }

  /** @internal */
  onBody(at: number, length: number): number {
    this.events.onBody(Buffer.from(memory().subarray(at, at + length)));
    return 0;
  }

  /** @internal */
  onMessageComplete(): number {
    this.events.onMessageComplete();
    return 0;
  }

  /** The response's HTTP version as "1.1" or "1.0"; valid from `onHeadersComplete` on. */
  httpVersion(): string {
    return `${llhttp.llhttp_get_http_major(this.pointer)}.${llhttp.llhttp_get_http_minor(this.pointer)}`;
  }

  /** The Keep-Alive `timeout=` of the response whose head just ended, in ms; -1 without one. */
  private keepAliveHintMs(): number {
    if (this.keepAliveValue === "") return -1;
    const match = KEEP_ALIVE_TIMEOUT.exec(this.keepAliveValue);
    return match ? Number(match[1]) * 1000 : -1;
  }

  /** Executes `length` bytes at `inputPointer`, or finishes (FINISH); no closure per response. */
  private run(length: number): Http1ParseError | null {
    const previous = this.enter();
    let code: number;
    try {
      code =
        length === FINISH
          ? llhttp.llhttp_finish(this.pointer)
          : llhttp.llhttp_execute(this.pointer, inputPointer, length);
    } finally {
      this.leave(previous);
    }
    if (code === ERROR.OK || this.freed) return null;
    return new Http1ParseError(`HPE_${ERROR_NAME.get(code) ?? code}`, errorReason(this.pointer));
  }
}

/**
 * A `ResponseParser` that also hands the events the fields named in `select` (lower case;
 * `TransportOptions.responseHeaders`), from the head and from a chunked body's trailers. A
 * subclass, so that a parser without a selection does no more work per field than before.
 * Names are matched byte by byte as their pieces arrive, as Keep-Alive is; only the selected
 * values become strings.
 */
export class SelectingResponseParser extends ResponseParser {
  private readonly wanted: readonly Buffer[];
  /** Per selected name: still equal to the field name so far. */
  private readonly stillWanted: Uint8Array;
  /** The selected name whose value is being read, or -1. */
  private reading = -1;
  private value = "";
  private selected: string[] | undefined = undefined;

  constructor(
    events: ResponseEvents,
    private readonly select: readonly string[],
  ) {
    super(events);
    this.wanted = select.map((name) => Buffer.from(name, "latin1"));
    this.stillWanted = new Uint8Array(select.length);
  }

  /** @internal */
  override onMessageBegin(): number {
    this.reading = -1;
    this.selected = undefined;
    return super.onMessageBegin();
  }

  /** @internal */
  override onHeaderField(at: number, length: number): number {
    let offset = this.fieldLength;
    if (this.afterValue) {
      if (this.reading >= 0) this.keepSelected();
      this.stillWanted.fill(1);
      offset = 0;
    }
    this.matchWanted(offset, at, length);
    return super.onHeaderField(at, length);
  }

  /** @internal */
  override onHeaderValue(at: number, length: number): number {
    if (!this.afterValue) {
      // The first piece of a value: the name is whole.
      this.reading = -1;
      this.value = "";
      for (let name = 0; name < this.wanted.length; name++) {
        if (this.stillWanted[name] === 1 && (this.wanted[name] as Buffer).length === this.fieldLength) {
          this.reading = name;
          break;
        }
      }
    }
    if (this.reading >= 0) this.value += latin1(at, length);
    return super.onHeaderValue(at, length);
  }

  /** @internal */
  override onHeadersComplete(
    parser: number,
    statusCode: number,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const answer = super.onHeadersComplete(parser, statusCode, upgrade, keepAlive);
    this.handOver();
    return answer;
  }

  /** @internal */
  override onMessageComplete(): number {
    this.handOver();
    return super.onMessageComplete();
  }

  /** Hands the fields selected since the last call to the events. */
  private handOver(): void {
    if (this.reading >= 0) this.keepSelected();
    const selected = this.selected;
    if (selected === undefined) return;
    this.selected = undefined;
    this.events.onSelectedFields?.(selected);
  }

  /** Narrows the names still equal to the field name by its piece at `offset` (letters compared in lower case). */
  private matchWanted(offset: number, at: number, length: number): void {
    const bytes = memory();
    const still = this.stillWanted;
    for (let name = 0; name < this.wanted.length; name++) {
      if (still[name] === 0) continue;
      const expected = this.wanted[name] as Buffer;
      if (offset + length > expected.length) {
        still[name] = 0;
        continue;
      }
      for (let i = 0; i < length; i++) {
        const byte = bytes[at + i] as number;
        if ((byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte) !== expected[offset + i]) {
          still[name] = 0;
          break;
        }
      }
    }
  }

  /** The value just read, without the trailing whitespace llhttp leaves in it (RFC 9110 §5.5). */
  private keepSelected(): void {
    const value = this.value;
    let end = value.length;
    while (end > 0 && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--;
    (this.selected ??= []).push(this.select[this.reading] as string, value.slice(0, end));
    this.reading = -1;
    this.value = "";
  }
}

// --- requests --------------------------------------------------------------------------------

/** The request line and the header fields a `RequestParser` was asked to keep. */
export interface RequestHead {
  /** Upper-case method name, e.g. "POST" (llhttp accepts only the methods it knows). */
  method: string;
  /** The request target as sent (origin form, RFC 9112 §3.2.1), decoded as latin1 like node:http. */
  url: string;
  versionMajor: number;
  versionMinor: number;
  /** llhttp_should_keep_alive: 1.1 without `Connection: close`, or 1.0 with `keep-alive` (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** An `Upgrade` request or CONNECT: the bytes after this message are not HTTP/1.1 (RFC 9110 §7.8). */
  upgrade: boolean;
  /** The kept fields by lower-case name; of repeated fields the first wins. */
  headers: Map<string, string>;
}

/** What a `RequestParser` reports, synchronously from `execute`. */
export interface RequestEvents {
  /** A message starts (its first byte arrived). */
  onMessageBegin(): void;
  /** The head is complete; the body, if any, follows. */
  onHead(head: RequestHead): void;
  /** A part of the body, decoded from chunked if need be; a view valid only during the call. */
  onBody(chunk: Uint8Array): void;
  onMessageComplete(): void;
}

export interface RequestParserOptions {
  /** Lower-case names of the header fields to keep; the others are parsed and skipped. */
  keep: readonly string[];
  /** Largest request target plus header fields, in bytes, as node:http counts them (max-http-header-size). */
  maxHeaderSize: number;
}

const METHOD_NAME = new Map(Object.entries(METHODS).map(([name, code]) => [code, name]));

function latin1(at: number, length: number): string {
  return memory().toString("latin1", at, at + length);
}

/**
 * Parses the requests of one connection, in order (a new parser per connection), on the same
 * WebAssembly instance as `ResponseParser`. Only the request line and the kept fields become
 * strings; framing (Content-Length, chunked, RFC 9112 §6) and its errors are llhttp's.
 */
export class RequestParser extends LlhttpParser {
  private readonly keep: Set<string>;
  private readonly longestKept: number;
  // The head being parsed. Fields and values may arrive in pieces when a read splits them.
  private headerBytes = 0;
  private url = "";
  private field = "";
  private fieldLength = 0;
  private value = "";
  private keptName: string | null = null;
  private inValue = false;
  private headers = new Map<string, string>();
  private headerOverflow = false;
  /** An exception from the events: rethrown once llhttp has returned. */
  private thrown: { error: unknown } | null = null;

  constructor(
    private readonly options: RequestParserOptions,
    readonly events: RequestEvents,
  ) {
    super(TYPE.REQUEST);
    this.keep = new Set(options.keep);
    this.longestKept = Math.max(0, ...options.keep.map((name) => name.length));
  }

  /** Parses the first `length` bytes of `data`; events fire before it returns. Null, or the parse error. */
  execute(data: Uint8Array, length: number = data.length): Http1ParseError | null {
    if (this.freed) return null;
    copyIn(data, length);
    const previous = this.enter();
    let code: number;
    try {
      code = llhttp.llhttp_execute(this.pointer, inputPointer, length);
      // An Upgrade request (not CONNECT) pauses the parser after its message. This server speaks
      // no other protocol, so it ignores the Upgrade as RFC 9110 §7.8 allows and goes on with
      // HTTP/1.1, as node:http does without an 'upgrade' listener. Each pass consumes one message.
      while (
        code === ERROR.PAUSED_UPGRADE &&
        !this.freed &&
        llhttp.llhttp_get_method(this.pointer) !== METHODS.CONNECT
      ) {
        const at = llhttp.llhttp_get_error_pos(this.pointer);
        llhttp.llhttp_resume_after_upgrade(this.pointer);
        const rest = inputPointer + length - at;
        code = rest > 0 ? llhttp.llhttp_execute(this.pointer, at, rest) : 0;
      }
    } finally {
      this.leave(previous);
    }
    if (this.thrown !== null) {
      const { error } = this.thrown;
      this.thrown = null;
      throw error;
    }
    if (code === ERROR.OK || this.freed) return null;
    if (this.headerOverflow) return new Http1ParseError("HPE_HEADER_OVERFLOW", "header overflow", "request");
    return new Http1ParseError(`HPE_${ERROR_NAME.get(code) ?? code}`, errorReason(this.pointer), "request");
  }

  /** @internal */
  onMessageBegin(): number {
    this.headerBytes = 0;
    this.url = "";
    this.field = "";
    this.fieldLength = 0;
    this.value = "";
    this.keptName = null;
    this.inValue = false;
    this.headers = new Map();
    return this.call(() => this.events.onMessageBegin());
  }

  /** @internal */
  override onUrl(at: number, length: number): number {
    if (!this.track(length)) return -1;
    this.url += latin1(at, length);
    return 0;
  }

  /** @internal */
  onHeaderField(at: number, length: number): number {
    if (!this.track(length)) return -1;
    if (this.inValue) this.commit();
    this.fieldLength += length;
    // A name longer than every kept one cannot be kept: skip decoding it.
    if (this.fieldLength <= this.longestKept) this.field += latin1(at, length);
    return 0;
  }

  /** @internal */
  onHeaderValue(at: number, length: number): number {
    if (!this.track(length)) return -1;
    if (!this.inValue) {
      this.inValue = true;
      const name = this.fieldLength <= this.longestKept ? this.field.toLowerCase() : "";
      this.keptName = this.keep.has(name) ? name : null;
    }
    if (this.keptName !== null) this.value += latin1(at, length);
    return 0;
  }

  /** @internal */
  onHeadersComplete(parser: number, _statusCode: number, upgrade: boolean, keepAlive: boolean): number {
    if (this.inValue) this.commit();
    const head: RequestHead = {
      method: METHOD_NAME.get(llhttp.llhttp_get_method(parser)) ?? "UNKNOWN",
      url: this.url,
      versionMajor: llhttp.llhttp_get_http_major(parser),
      versionMinor: llhttp.llhttp_get_http_minor(parser),
      keepAlive,
      upgrade,
      headers: this.headers,
    };
    // 0, never 1: a request's body is framed by its own fields (RFC 9112 §6.3), whatever the answer.
    return this.call(() => this.events.onHead(head));
  }

  /** @internal */
  onBody(at: number, length: number): number {
    return this.call(() => this.events.onBody(new Uint8Array(llhttp.memory.buffer, at, length)));
  }

  /** @internal */
  onMessageComplete(): number {
    return this.call(() => this.events.onMessageComplete());
  }

  /** The head so far stays within the limit, or the parse fails with HPE_HEADER_OVERFLOW (431). */
  private track(length: number): boolean {
    this.headerBytes += length;
    if (this.headerBytes <= this.options.maxHeaderSize) return true;
    this.headerOverflow = true;
    return false;
  }

  private commit(): void {
    if (this.keptName !== null && !this.headers.has(this.keptName)) {
      // llhttp leaves trailing whitespace in the value; it is not part of it (RFC 9110 §5.5), and
      // node:http drops it too.
      let end = this.value.length;
      while (end > 0 && (this.value.charCodeAt(end - 1) === 32 || this.value.charCodeAt(end - 1) === 9))
        end--;
      this.headers.set(this.keptName, end === this.value.length ? this.value : this.value.slice(0, end));
    }
    this.field = "";
    this.fieldLength = 0;
    this.value = "";
    this.keptName = null;
    this.inValue = false;
  }

  /** An exception must not unwind through the WebAssembly frames: stop the parse and rethrow after. */
  private call(event: () => void): number {
    if (this.thrown !== null) return -1;
    try {
      event();
      return 0;
    } catch (error) {
      this.thrown = { error };
      return -1;
    }
  }
}

function errorReason(pointer: number): string {
  const at = llhttp.llhttp_get_error_reason(pointer);
  if (at === 0) return "parse error";
  const bytes = new Uint8Array(llhttp.memory.buffer, at);
  return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString("latin1");
}
