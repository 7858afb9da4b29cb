import { createServer as createH2cServer } from "node:http2";
import { connect, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { decodeResponseBlock, encodeRequestBlock, HpackError } from "../../src/transport/hpack.js";

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
