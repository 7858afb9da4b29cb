/**
 * The part of HPACK (RFC 7541) our HTTP/2 client needs, by hand (why: docs/TRANSPORT.md "The
 * HTTP/2 client"; the npm HPACK packages are stream-based and unmaintained, and a load generator
 * reads two fields of every response).
 *
 * - Requests are encoded once per test case as literals without indexing (§6.2.2): the
 *   encoder keeps no dynamic table, so no state is shared between requests.
 * - Our SETTINGS_HEADER_TABLE_SIZE is 0 (RFC 9113 §6.5.2), so the server's encoder keeps no
 *   dynamic table either (§4.2): a response block refers only to the static table (Appendix A)
 *   and literals. Of those we read `:status` and `content-length`, and the fields a caller asked
 *   for by name (`FieldSelection`, values Huffman-decoded by `huffman.ts`); the rest is skipped unread.
 *   A reference to a dynamic entry is a COMPRESSION_ERROR (RFC 9113 §4.3).
 */

import { huffmanDecode, huffmanEncode } from "./huffman.js";

/** An invalid or unsupported header block (RFC 9113 §4.3: a connection error of type COMPRESSION_ERROR). */
export class HpackError extends Error {
  readonly code = "ERR_HTTP2_HPACK";
}

/**
 * The static table (RFC 7541 Appendix A): entry i is `STATIC_TABLE[i - 1]`, as [name, value].
 * Names are resolved through it for every index, since an encoder may name a field by any entry
 * with that name (entries 8-14 are all `:status`).
 */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
const STATIC_TABLE_SIZE = STATIC_TABLE.length;

/** Names a request block refers to by static index (the first entry with the name); others are literal names. */
const STATIC_NAME_INDEX = new Map<string, number>(
  [":authority", ":method", ":path", ":scheme", "content-length", "content-type"].map((name) => [
    name,
    STATIC_TABLE.findIndex(([entry]) => entry === name) + 1,
  ]),
);

/** The fields the client reads; every other field is skipped unread. */
const OTHER = 0;
const STATUS = 1;
const CONTENT_LENGTH = 2;
type ReadField = typeof OTHER | typeof STATUS | typeof CONTENT_LENGTH;
const READ_FIELDS: ReadonlyMap<string, ReadField> = new Map([
  [":status", STATUS],
  ["content-length", CONTENT_LENGTH],
]);
/** Which read field each static index names (index 0 unused). */
const STATIC_FIELD: readonly ReadField[] = [
  OTHER,
  ...STATIC_TABLE.map(([name]) => READ_FIELDS.get(name) ?? OTHER),
];

/** Field names whose values are marked never-indexed (§7.1.3): credentials stay out of any table. */
const SENSITIVE = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key"]);

/** Appends an integer with an N-bit prefix (§5.1); `first` holds the pattern bits above the prefix. */
function pushInteger(out: number[], value: number, prefixBits: number, first: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/** A raw (not Huffman) string literal (§5.2). */
function pushString(out: number[], text: string): void {
  const bytes = Buffer.from(text, "latin1");
  pushInteger(out, bytes.length, 7, 0);
  for (const byte of bytes) out.push(byte);
}

/** One field as a literal without indexing (§6.2.2), or never indexed (§6.2.3) when sensitive. */
function pushField(out: number[], name: string, value: string): void {
  const pattern = SENSITIVE.has(name) ? 0x10 : 0x00;
  const index = STATIC_NAME_INDEX.get(name);
  if (index !== undefined) {
    pushInteger(out, index, 4, pattern);
  } else {
    out.push(pattern);
    pushString(out, name);
  }
  pushString(out, value);
}

/** A request's header block: pseudo-fields first (RFC 9113 §8.3), then `fields` (lower-case names). */
export function encodeRequestBlock(
  method: string,
  scheme: "http" | "https",
  authority: string,
  path: string,
  fields: ReadonlyArray<readonly [string, string]>,
): Buffer {
  const out: number[] = [];
  // Indexed fields where the static table has the pair (§6.1): :method GET/POST, :path /, :scheme.
  if (method === "GET") out.push(0x82);
  else if (method === "POST") out.push(0x83);
  else pushField(out, ":method", method);
  out.push(scheme === "http" ? 0x86 : 0x87);
  pushField(out, ":authority", authority);
  if (path === "/") out.push(0x84);
  else pushField(out, ":path", path);
  for (const [name, value] of fields) pushField(out, name, value);
  return Buffer.from(out);
}

/** What a response block says that the client uses. */
export interface ResponseFields {
  /** 0 when the block has no `:status` (trailers). */
  status: number;
  /** -1 without a `content-length` field. */
  contentLength: number;
  /** The selected fields in the block, as flat [name, value, …] pairs; undefined without any. */
  selected?: string[] | undefined;
}

/**
 * Response fields asked for by name (lower case, `TransportOptions.responseHeaders`), in every
 * way an encoder may name them: by a static table index, or as a literal name, raw or
 * Huffman-coded (the code is canonical, so a name has one Huffman form).
 */
export class FieldSelection {
  /** Position in `names` of the name each static index (1-61) names; -1 when not selected. */
  readonly byStaticIndex = new Int16Array(STATIC_TABLE_SIZE + 1).fill(-1);
  private readonly literals: ReadonlyArray<readonly [Buffer, boolean, number]>;

  constructor(readonly names: readonly string[]) {
    STATIC_TABLE.forEach(([name], index) => {
      const wanted = names.indexOf(name);
      if (wanted >= 0) this.byStaticIndex[index + 1] = wanted;
    });
    this.literals = names.flatMap((name, wanted) => [
      [Buffer.from(name, "latin1"), false, wanted] as const,
      [huffmanEncode(name), true, wanted] as const,
    ]);
  }

  /** Position in `names` of a literal name at `block[start, end)`, or -1. */
  literal(block: Uint8Array, [huffman, start, end]: [boolean, number, number]): number {
    for (const [bytes, coded, wanted] of this.literals) {
      if (coded === huffman && sameBytes(bytes, block, start, end)) return wanted;
    }
    return -1;
  }
}

/** Decodes an integer with an N-bit prefix at `state.at` (§5.1). */
function readInteger(block: Uint8Array, state: { at: number }, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let value = (block[state.at++] as number) & max;
  if (value < max) return value;
  let shift = 0;
  for (;;) {
    if (state.at >= block.length) throw new HpackError("truncated integer");
    const byte = block[state.at++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return value;
    if (shift > 28) throw new HpackError("integer too large");
  }
}

/**
 * The digits of a Huffman-coded string (§5.2, codes of Appendix B): '0'-'2' are the 5-bit codes
 * 00000-00010, '3'-'9' the 6-bit codes 011001-011111; the padding is up to 7 one-bits. NaN for
 * anything else: `:status` and `content-length` hold digits only.
 */
function huffmanDigits(block: Uint8Array, start: number, end: number): number {
  let value = 0;
  let digits = 0;
  let bits = 0;
  let bitCount = 0;
  let at = start;
  for (;;) {
    while (bitCount < 6 && at < end) {
      bits = ((bits << 8) | (block[at++] as number)) & 0xffff;
      bitCount += 8;
    }
    if (bitCount === 0) break;
    const remainingMask = (1 << bitCount) - 1;
    if (at === end && bitCount < 8 && (bits & remainingMask) === remainingMask) break; // padding
    if (bitCount < 5) return Number.NaN;
    const five = (bits >>> (bitCount - 5)) & 0x1f;
    if (five <= 2) {
      value = value * 10 + five;
      bitCount -= 5;
    } else {
      if (bitCount < 6) return Number.NaN;
      const six = (bits >>> (bitCount - 6)) & 0x3f;
      if (six < 25 || six > 31) return Number.NaN;
      value = value * 10 + (six - 22);
      bitCount -= 6;
    }
    if (++digits > 15) return Number.NaN;
  }
  return digits === 0 ? Number.NaN : value;
}

function plainDigits(block: Uint8Array, start: number, end: number): number {
  if (start === end || end - start > 15) return Number.NaN;
  let value = 0;
  for (let at = start; at < end; at++) {
    const digit = (block[at] as number) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The names we read, as an encoder may also send them: as literals, raw or Huffman-coded (the
 * Huffman code is canonical, so equal names have equal codes; test/transport/hpack.test.ts
 * checks these against an independent encoder).
 */
const LITERAL_NAMES: ReadonlyArray<readonly [Buffer, boolean, ReadField]> = [
  [Buffer.from(":status", "latin1"), false, STATUS],
  [Buffer.from("b8848d36a3", "hex"), true, STATUS],
  [Buffer.from("content-length", "latin1"), false, CONTENT_LENGTH],
  [Buffer.from("21ea496a4ad416a9933f", "hex"), true, CONTENT_LENGTH],
];

function latin1(block: Uint8Array, start: number, end: number): string {
  return Buffer.from(block.buffer, block.byteOffset + start, end - start).toString("latin1");
}

/** Which read field a literal name is, or OTHER for any other name. */
function literalField(block: Uint8Array, [huffman, start, end]: [boolean, number, number]): ReadField {
  for (const [bytes, coded, field] of LITERAL_NAMES) {
    if (coded === huffman && sameBytes(bytes, block, start, end)) return field;
  }
  return OTHER;
}

/** `bytes` equals `block[start, end)`. */
function sameBytes(bytes: Uint8Array, block: Uint8Array, start: number, end: number): boolean {
  if (bytes.length !== end - start) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== block[start + i]) return false;
  return true;
}

/** Reads a string literal's bounds at `state.at` (§5.2) and moves past it; returns [huffman, start, end]. */
function readString(block: Uint8Array, state: { at: number }): [boolean, number, number] {
  if (state.at >= block.length) throw new HpackError("truncated string");
  const huffman = ((block[state.at] as number) & 0x80) !== 0;
  const length = readInteger(block, state, 7);
  const start = state.at;
  const end = start + length;
  if (end > block.length) throw new HpackError("truncated string");
  state.at = end;
  return [huffman, start, end];
}

function setField(fields: ResponseFields, field: ReadField, value: number): void {
  if (Number.isNaN(value))
    throw new HpackError(field === STATUS ? "invalid :status" : "invalid content-length");
  if (field === STATUS) fields.status = value;
  else fields.contentLength = value;
}

/** Adds a selected field's value, as a string (latin1, as node:http2 decodes field values). */
function select(fields: ResponseFields, name: string, value: string | null): void {
  if (value === null) throw new HpackError(`invalid Huffman code in the value of ${name}`);
  (fields.selected ??= []).push(name, value);
}

/**
 * `:status` and `content-length` of a response header block, and the fields of `selection` in
 * it; throws HpackError when the block is invalid.
 */
export function decodeResponseBlock(
  block: Uint8Array,
  selection: FieldSelection | null = null,
): ResponseFields {
  const fields: ResponseFields = { status: 0, contentLength: -1, selected: undefined };
  const state = { at: 0 };
  while (state.at < block.length) {
    const first = block[state.at] as number;
    if (first & 0x80) {
      // Indexed field (§6.1): name and value from the static table.
      const index = readInteger(block, state, 7);
      if (index === 0 || index > STATIC_TABLE_SIZE) throw new HpackError(`no table entry ${index}`);
      const field = STATIC_FIELD[index] as ReadField;
      if (field !== OTHER) {
        const value = (STATIC_TABLE[index - 1] as readonly [string, string])[1];
        setField(fields, field, value === "" ? Number.NaN : Number(value));
      }
      if (selection !== null) {
        const wanted = selection.byStaticIndex[index] as number;
        if (wanted >= 0)
          select(fields, selection.names[wanted] as string, (STATIC_TABLE[index - 1] as [string, string])[1]);
      }
      continue;
    }
    if ((first & 0xe0) === 0x20) {
      // Dynamic table size update (§6.3): only 0 is within our SETTINGS_HEADER_TABLE_SIZE.
      if (readInteger(block, state, 5) !== 0) throw new HpackError("dynamic table size above 0");
      continue;
    }
    // A literal (§6.2): with incremental indexing (01), without (0000) or never indexed (0001).
    // With a maximum table size of 0 an indexed literal evicts itself at once (§4.4).
    const nameIndex = readInteger(block, state, (first & 0xc0) === 0x40 ? 6 : 4);
    if (nameIndex > STATIC_TABLE_SIZE) throw new HpackError(`no table entry ${nameIndex}`);
    let field: ReadField;
    let wanted = -1;
    if (nameIndex === 0) {
      const name = readString(block, state);
      field = literalField(block, name);
      if (selection !== null) wanted = selection.literal(block, name);
    } else {
      field = STATIC_FIELD[nameIndex] as ReadField;
      if (selection !== null) wanted = selection.byStaticIndex[nameIndex] as number;
    }
    const [huffman, start, end] = readString(block, state);
    if (field !== OTHER) {
      setField(fields, field, huffman ? huffmanDigits(block, start, end) : plainDigits(block, start, end));
    }
    if (wanted >= 0) {
      const name = (selection as FieldSelection).names[wanted] as string;
      select(fields, name, huffman ? huffmanDecode(block, start, end) : latin1(block, start, end));
    }
  }
  return fields;
}
