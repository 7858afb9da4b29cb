import { createRequire } from "node:module";

/**
 * HTTP/1.1 response parsing with llhttp, the parser of undici and node:http, in the WebAssembly
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
const { TYPE, ERROR } = require("undici/lib/llhttp/constants.js") as {
  TYPE: { RESPONSE: number };
  ERROR: Record<string, number>;
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
  /** Returns HEADERS_OK, HEADERS_SKIP_BODY or HEADERS_FAIL. */
  onHeadersComplete(statusCode: number, upgrade: boolean, keepAlive: boolean): number;
  /** A copy of a part of the body (the caller may keep it). */
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
}

const ERROR_NAME = new Map(Object.entries(ERROR).map(([name, code]) => [code, name]));

/** The parser that is executing: llhttp's callbacks carry only its pointer. */
let current: ResponseParser | null = null;
/** Where the bytes being parsed sit in the WebAssembly memory. */
let inputPointer = 0;
let inputCapacity = 0;

function instantiate(): LlhttpExports {
  const imports = {
    env: {
      wasm_on_url: () => 0,
      wasm_on_status: () => 0,
      wasm_on_message_begin: () => (current !== null && current.events.onMessageBegin() ? 0 : -1),
      wasm_on_header_field: () => 0,
      wasm_on_header_value: () => 0,
      wasm_on_headers_complete: (_parser: number, statusCode: number, upgrade: number, keepAlive: number) =>
        current === null
          ? HEADERS_FAIL
          : current.events.onHeadersComplete(statusCode, upgrade === 1, keepAlive === 1),
      wasm_on_body: (_parser: number, at: number, length: number) => {
        if (current === null) return -1;
        current.events.onBody(Buffer.copyBytesFrom(new Uint8Array(llhttp.memory.buffer, at, length)));
        return 0;
      },
      wasm_on_message_complete: () => {
        if (current === null) return -1;
        current.events.onMessageComplete();
        return 0;
      },
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

/** A parse error, with llhttp's code as `HPE_<NAME>` like node:http and undici report it. */
export class ResponseParseError extends Error {
  constructor(
    readonly code: string,
    reason: string,
  ) {
    super(`the response does not follow HTTP/1.1 (${reason})`);
  }
}

/** Parses the responses of one connection, in order (a new parser per connection). */
export class ResponseParser {
  private pointer: number;
  private executing = false;
  private freed = false;

  constructor(readonly events: ResponseEvents) {
    this.pointer = llhttp.llhttp_alloc(TYPE.RESPONSE);
  }

  /** Parses the first `length` bytes of `data`; events fire before it returns. Null, or the parse error. */
  execute(data: Uint8Array, length: number = data.length): ResponseParseError | null {
    if (this.freed) return null;
    if (length > inputCapacity) {
      if (inputPointer !== 0) llhttp.free(inputPointer);
      inputCapacity = Math.ceil(length / 65_536) * 65_536;
      inputPointer = llhttp.malloc(inputCapacity);
    }
    new Uint8Array(llhttp.memory.buffer, inputPointer, length).set(
      length === data.length ? data : data.subarray(0, length),
    );
    return this.run(() => llhttp.llhttp_execute(this.pointer, inputPointer, length));
  }

  /** The connection ended: completes a body delimited by the close (RFC 9112 §6.3), or says what is missing. */
  finish(): ResponseParseError | null {
    if (this.freed) return null;
    return this.run(() => llhttp.llhttp_finish(this.pointer));
  }

  /** Releases the parser's memory; safe from inside its own callbacks (done once `execute` returns). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    if (!this.executing) llhttp.llhttp_free(this.pointer);
  }

  private run(step: () => number): ResponseParseError | null {
    const previous = current;
    // llhttp's callbacks name the parser only by its pointer: they reach it through this.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    current = this;
    this.executing = true;
    let code: number;
    try {
      code = step();
    } finally {
      this.executing = false;
      current = previous;
      if (this.freed) llhttp.llhttp_free(this.pointer);
    }
    if (code === ERROR.OK || this.freed) return null;
    return new ResponseParseError(`HPE_${ERROR_NAME.get(code) ?? code}`, this.reason());
  }

  private reason(): string {
    const at = llhttp.llhttp_get_error_reason(this.pointer);
    if (at === 0) return "parse error";
    const bytes = new Uint8Array(llhttp.memory.buffer, at);
    return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString("latin1");
  }
}
