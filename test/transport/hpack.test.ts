import { createServer as createH2cServer } from "node:http2";
import { connect, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import {
  decodeResponseBlock,
  encodeRequestBlock,
  FieldSelection,
  HpackError,
} from "../../src/transport/hpack.js";
import { huffmanDecode, huffmanEncode } from "../../src/transport/huffman.js";

/** A response header block as nghttp2 (node:http2) encodes it, for a client whose table size is 0. */
async function nghttp2Block(respond: Record<string, string | number>): Promise<Buffer> {
  const server = createH2cServer();
  server.on("stream", (stream) => {
    stream.respond(respond);
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
      const settings = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]); // HEADER_TABLE_SIZE 0
      // HEADERS on stream 1, END_STREAM | END_HEADERS: GET / (indexed), :scheme http, :authority x.
      const block = Buffer.from([0x82, 0x84, 0x86, 0x01, 0x01, 0x78]);
      const headers = Buffer.concat([Buffer.from([0, 0, block.length, 1, 5, 0, 0, 0, 1]), block]);
      socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), settings, headers]));
      let bytes = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        for (let at = 0; bytes.length - at >= 9;) {
          const length = bytes.readUIntBE(at, 3);
          if (bytes.length - at < 9 + length) break;
          if (bytes[at + 3] === 1) {
            socket.destroy();
            resolve(bytes.subarray(at + 9, at + 9 + length));
            return;
          }
          at += 9 + length;
        }
      });
      socket.on("error", reject);
    });
  } finally {
    server.close();
  }
}

describe("HPACK: response blocks from nghttp2", () => {
  it.each([200, 204, 304, 404, 500, 201, 403, 418, 429, 503, 299])(
    ":status %i, whether indexed or a Huffman-coded literal",
    async (status) => {
      const block = await nghttp2Block({ ":status": status, "content-type": "application/json" });
      expect(decodeResponseBlock(block)).toEqual({ status, contentLength: -1 });
    },
  );

  it.each([0, 7, 1_234_567_890, 9_007_199_254_740])("content-length %i", async (length) => {
    const block = await nghttp2Block({ ":status": 200, "content-length": length, server: "nghttp2-test" });
    expect(decodeResponseBlock(block)).toEqual({ status: 200, contentLength: length });
  });
});

describe("HPACK: blocks built by hand (RFC 7541)", () => {
  it("reads literal names, raw and Huffman-coded (C.4 and Appendix B codes)", () => {
    const rawName = Buffer.concat([
      Buffer.from([0x88, 0x00, 14]),
      Buffer.from("content-length"),
      Buffer.from([3]),
      Buffer.from("123"),
    ]);
    expect(decodeResponseBlock(rawName)).toEqual({ status: 200, contentLength: 123 });
    // ":status" and "content-length" Huffman-coded, then "403" and "12345" Huffman-coded.
    const huffman = Buffer.from("0085b8848d36a383680cff008a21ea496a4ad416a9933f84089969bf", "hex");
    expect(decodeResponseBlock(huffman)).toEqual({ status: 403, contentLength: 12345 });
  });

  it("skips fields it does not read, indexed or not, and accepts a table size update to 0", () => {
    const block = Buffer.concat([
      Buffer.from([0x20]), // dynamic table size update: 0
      Buffer.from([0x8d]), // :status 404 (static 13)
      Buffer.from([0x40, 4]), // literal with incremental indexing, new name
      Buffer.from("x-id"),
      Buffer.from([2]),
      Buffer.from("42"),
      Buffer.from([0x1f, 0x21, 5]), // never indexed, name 46 (location): 15 + 31
      Buffer.from("/next"),
    ]);
    expect(decodeResponseBlock(block)).toEqual({ status: 404, contentLength: -1 });
  });

  it("decodes multi-byte integers (§5.1, C.1.3)", () => {
    // Name index 54 (server) = 15 + 39 after a 4-bit prefix; a value of 1337 bytes = 127 + 1210
    // after a 7-bit prefix, 1210 as 0xba 0x09.
    const value = Buffer.alloc(1337, 0x61);
    const block = Buffer.concat([
      Buffer.from([0x88, 0x0f, 0x27, 0x7f, 0xba, 0x09]),
      value,
      Buffer.from([0x8e]),
    ]);
    expect(decodeResponseBlock(block)).toEqual({ status: 500, contentLength: -1 });
    // Name index 62 = 15 + 47: past the static table, and there is no dynamic one.
    expect(() => decodeResponseBlock(Buffer.from([0x0f, 0x2f, 0x01, 0x61]))).toThrow(HpackError);
  });

  it.each([
    ["a dynamic table reference", [0xbe]],
    ["index 0", [0x80]],
    ["a table size above 0", [0x3f, 0x01]],
    ["a truncated string", [0x88, 0x0f, 0x0d, 0x05, 0x31]],
    ["a non-digit content-length", [0x0f, 0x0d, 0x02, 0x31, 0x78]],
    ["an empty :status", [0x08, 0x00]],
    ["Huffman padding that is not all ones", [0x08, 0x82, 0x10, 0x00]],
  ])("rejects %s", (_name, bytes) => {
    expect(() => decodeResponseBlock(Buffer.from(bytes))).toThrow(HpackError);
  });
});

/** Appendix B codes of the digits, spelled out here (independent of the decoder's arithmetic). */
const HUFFMAN_DIGITS = [
  "00000",
  "00001",
  "00010",
  "011001",
  "011010",
  "011011",
  "011100",
  "011101",
  "011110",
  "011111",
];

/** A string literal (§5.2) of digits, raw or Huffman-coded with EOS-prefix padding. */
function digitsLiteral(text: string, huffman: boolean): Buffer {
  if (!huffman) return Buffer.concat([Buffer.from([text.length]), Buffer.from(text, "latin1")]);
  let bits = [...text].map((digit) => HUFFMAN_DIGITS[Number(digit)]).join("");
  bits += "1".repeat((8 - (bits.length % 8)) % 8);
  const bytes = Buffer.from(bits.match(/.{8}/g)?.map((byte) => parseInt(byte, 2)) ?? []);
  return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
}

describe("HPACK: every static index names its field (RFC 7541 Appendix A)", () => {
  const STATUS_ENTRIES: Array<[number, number]> = [
    [8, 200],
    [9, 204],
    [10, 206],
    [11, 304],
    [12, 400],
    [13, 404],
    [14, 500],
  ];

  it.each(STATUS_ENTRIES)("indexed entry %i is :status %i", (index, status) => {
    expect(decodeResponseBlock(Buffer.from([0x80 | index]))).toEqual({ status, contentLength: -1 });
  });

  // Older Go x/net/http2/hpack names :status by entry 14 (or any of 8-14) in a literal.
  const literalCases = STATUS_ENTRIES.flatMap(([index]) =>
    [false, true].flatMap((huffman) =>
      (
        [
          ["without indexing", 0x00, 4],
          ["never indexed", 0x10, 4],
          ["with incremental indexing", 0x40, 6],
        ] as const
      ).map(([kind, pattern]) => [index, huffman, kind, pattern] as const),
    ),
  );
  it.each(literalCases)("a literal named by entry %i, Huffman %s, %s", (index, huffman, _kind, pattern) => {
    const block = Buffer.concat([Buffer.from([pattern | index]), digitsLiteral("503", huffman)]);
    expect(decodeResponseBlock(block)).toEqual({ status: 503, contentLength: -1 });
  });

  it.each([false, true])("content-length by entry 28, Huffman %s, beside :status by entry 14", (huffman) => {
    const block = Buffer.concat([
      Buffer.from([0x0e]),
      digitsLiteral("201", huffman),
      Buffer.from([0x0f, 28 - 15]),
      digitsLiteral("9876543210", huffman),
    ]);
    expect(decodeResponseBlock(block)).toEqual({ status: 201, contentLength: 9_876_543_210 });
  });

  it("an indexed content-length (entry 28 has no value) is an invalid field, not a length of 0", () => {
    expect(() => decodeResponseBlock(Buffer.from([0x88, 0x80 | 28]))).toThrow(HpackError);
  });

  it("other names (entries 1-7, 15-27, 29-61) are skipped whatever their value", () => {
    for (let index = 1; index <= 61; index++) {
      if ((index >= 8 && index <= 14) || index === 28) continue;
      const literal = Buffer.concat([
        Buffer.from([0x88, 0x0f, index - 15 >= 0 ? index - 15 : 0]),
        Buffer.from([1, 0x78]),
      ]);
      const block = index < 15 ? Buffer.from([0x88, index, 1, 0x78]) : literal;
      expect(decodeResponseBlock(block), `entry ${index}`).toEqual({ status: 200, contentLength: -1 });
      expect(decodeResponseBlock(Buffer.from([0x88, 0x80 | index])), `indexed ${index}`).toEqual({
        status: 200,
        contentLength: -1,
      });
    }
  });
});

describe("HPACK: request blocks", () => {
  it("round-trips through nghttp2: node:http2 reads what we encode", async () => {
    const block = encodeRequestBlock("PATCH", "https", "api.example:8443", "/v1/execute?x=1", [
      ["content-type", "application/json"],
      ["authorization", "Bearer t"],
      ["x-long", "v".repeat(300)],
    ]);
    const seen = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const server = createH2cServer();
      server.on("stream", (stream, headers) => {
        stream.respond({ ":status": 200 });
        stream.end();
        server.close();
        resolve(headers);
      });
      server.listen(0, "127.0.0.1", () => {
        const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
        const head = Buffer.from([block.length >> 16, (block.length >> 8) & 0xff, block.length & 0xff, 1, 5]);
        socket.write(
          Buffer.concat([
            Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
            head,
            Buffer.from([0, 0, 0, 1]),
            block,
          ]),
        );
        socket.on("data", () => socket.destroy());
        socket.on("error", reject);
      });
    });
    expect(seen).toMatchObject({
      ":method": "PATCH",
      ":scheme": "https",
      ":authority": "api.example:8443",
      ":path": "/v1/execute?x=1",
      "content-type": "application/json",
      authorization: "Bearer t",
      "x-long": "v".repeat(300),
    });
  });

  it("marks credentials never-indexed (§7.1.3)", () => {
    const block = encodeRequestBlock("GET", "http", "h", "/", [["authorization", "Bearer t"]]);
    // GET, :scheme http, :authority (name 1, literal without indexing), then authorization: 0x10 + new name.
    expect([...block.subarray(0, 6)]).toEqual([0x82, 0x86, 0x01, 0x01, 0x68, 0x84]);
    expect(block[6]).toBe(0x10);
  });
});

describe("HPACK: Huffman code (RFC 7541 Appendix B)", () => {
  // RFC 7541 C.4 and C.6: the strings and their Huffman encodings.
  it.each([
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-value", "25a849e95bb8e8b4bf"],
    ["302", "6402"],
    ["private", "aec3771a4b"],
    ["Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"],
    ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"],
    [
      "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
      "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ],
  ])("%s", (text, hex) => {
    expect(huffmanEncode(text).toString("hex")).toBe(hex);
    expect(huffmanDecode(Buffer.from(hex, "hex"), 0, hex.length / 2)).toBe(text);
  });

  it("every byte value round-trips; EOS and bad padding are decoding errors (§5.2)", () => {
    const every = String.fromCharCode(...Array.from({ length: 256 }, (_, byte) => byte));
    const coded = huffmanEncode(every);
    expect(huffmanDecode(coded, 0, coded.length)).toBe(every);
    expect(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4)).toBeNull(); // EOS (30 ones)
    expect(huffmanDecode(Buffer.from([0x00]), 0, 1)).toBeNull(); // '0' (00000) then padding 000
    expect(huffmanDecode(Buffer.from([0x07, 0xff]), 0, 2)).toBeNull(); // '0' then 11 bits of padding
  });
});

describe("HPACK: selected fields (TransportOptions.responseHeaders)", () => {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
    .join("")
    .trim();

  it("values of every printable byte, as nghttp2 encodes them (Huffman or raw, its choice)", async () => {
    const selection = new FieldSelection(["x-value", "grpc-status", "server", "x-absent"]);
    const block = await nghttp2Block({
      ":status": 200,
      "x-value": printable,
      "grpc-status": "0",
      server: "a-server",
      "x-other": "skipped",
    });
    const fields = decodeResponseBlock(block, selection);
    expect(fields).toMatchObject({ status: 200, contentLength: -1 });
    expect(fields.selected).toEqual(["x-value", printable, "grpc-status", "0", "server", "a-server"]);
    // Without a selection the same block yields nothing more.
    expect(decodeResponseBlock(block).selected).toBeUndefined();
  });

  it("names raw or Huffman-coded, or by a static index; values indexed, raw or Huffman-coded", () => {
    const selection = new FieldSelection(["grpc-status", "content-type", "content-length"]);
    const name = huffmanEncode("grpc-status");
    const value = huffmanEncode("14");
    const block = Buffer.concat([
      Buffer.from([0x88]), // :status 200
      Buffer.from([0x00, 0x80 | name.length]), // literal, Huffman-coded name
      name,
      Buffer.from([0x80 | value.length]),
      value,
      Buffer.from([0x00, 11]), // literal, raw name
      Buffer.from("grpc-status"),
      Buffer.from([1, 0x37]),
      Buffer.from([0x0f, 31 - 15, 4]), // content-type (static 31), raw value
      Buffer.from("text"),
      Buffer.from([0x0f, 28 - 15, 1, 0x35]), // content-length (static 28): read and selected
    ]);
    expect(decodeResponseBlock(block, selection)).toEqual({
      status: 200,
      contentLength: 5,
      selected: ["grpc-status", "14", "grpc-status", "7", "content-type", "text", "content-length", "5"],
    });
    // An indexed field whose static entry has a value: accept-encoding "gzip, deflate" (16).
    expect(decodeResponseBlock(Buffer.from([0x88, 0x90]), new FieldSelection(["accept-encoding"]))).toEqual({
      status: 200,
      contentLength: -1,
      selected: ["accept-encoding", "gzip, deflate"],
    });
  });

  it("a selected value that is not valid Huffman is a COMPRESSION_ERROR", () => {
    const block = Buffer.from([0x88, 0x00, 1, 0x78, 0x81, 0x00]); // x: Huffman "00000" + padding 000
    expect(() => decodeResponseBlock(block, new FieldSelection(["x"]))).toThrow(HpackError);
    expect(decodeResponseBlock(block)).toEqual({ status: 200, contentLength: -1 }); // unread without it
  });
});
