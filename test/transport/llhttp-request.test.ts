import { describe, expect, it } from "vitest";
import { HEADERS_OK, RequestParser, ResponseParser, type RequestHead } from "../../src/transport/llhttp.js";

/** Every message a request parser reported, with its body. */
function collect(
  keep: string[] = ["authorization", "content-length", "expect", "host"],
  maxHeaderSize = 16_384,
) {
  const messages: Array<{ head: RequestHead; body: string; complete: boolean }> = [];
  const parser = new RequestParser(
    { keep, maxHeaderSize },
    {
      onMessageBegin: () => undefined,
      onHead: (head) => messages.push({ head, body: "", complete: false }),
      onBody: (chunk) => (messages.at(-1)!.body += Buffer.from(chunk).toString("latin1")),
      onMessageComplete: () => (messages.at(-1)!.complete = true),
    },
  );
  return { parser, messages };
}

const PIPELINED =
  "POST /v1/execute?x=1 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer  a-b \r\nX-Long-Name-Not-Kept: 1\r\n" +
  "Content-Length: 5\r\n\r\nhello" +
  "POST /up HTTP/1.1\r\nhost: gw\r\nTransfer-Encoding: chunked\r\nEXPECT: 100-continue\r\n\r\n" +
  "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n" +
  "GET /health HTTP/1.0\r\n\r\n";

describe("RequestParser (llhttp requests on the shared WebAssembly instance)", () => {
  it("parses pipelined requests: method, target, version, kept fields, bodies (Content-Length and chunked)", () => {
    const { parser, messages } = collect();
    expect(parser.execute(Buffer.from(PIPELINED, "latin1"))).toBeNull();
    expect(messages.map((m) => [m.head.method, m.head.url, m.head.versionMinor, m.head.keepAlive])).toEqual([
      ["POST", "/v1/execute?x=1", 1, true],
      ["POST", "/up", 1, true],
      ["GET", "/health", 0, false],
    ]);
    expect([...messages[0]!.head.headers]).toEqual([
      ["host", "gw"],
      ["authorization", "Bearer  a-b"],
      ["content-length", "5"],
    ]);
    expect(messages[1]!.head.headers.get("expect")).toBe("100-continue");
    expect(messages.map((m) => [m.body, m.complete])).toEqual([
      ["hello", true],
      ["abcde", true],
      ["", true],
    ]);
    parser.free();
  });

  it("gives the same result when every byte arrives in its own read (fields split across reads)", () => {
    const whole = collect();
    whole.parser.execute(Buffer.from(PIPELINED, "latin1"));
    const split = collect();
    const bytes = Buffer.from(PIPELINED, "latin1");
    for (let i = 0; i < bytes.length; i++) expect(split.parser.execute(bytes.subarray(i, i + 1))).toBeNull();
    expect(split.messages).toEqual(whole.messages);
    whole.parser.free();
    split.parser.free();
  });

  it("fails malformed requests with llhttp's codes, and an oversized head with HPE_HEADER_OVERFLOW", () => {
    const garbage = collect();
    expect(garbage.parser.execute(Buffer.from("garbage\r\n\r\n"))?.code).toMatch(/^HPE_/);
    const both = collect();
    expect(
      both.parser.execute(
        Buffer.from("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
      )?.code,
    ).toMatch(/^HPE_/);
    const badChunk = collect();
    expect(
      badChunk.parser.execute(Buffer.from("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
        ?.code,
    ).toBe("HPE_INVALID_CHUNK_SIZE");
    const big = collect(["host"], 100);
    expect(big.parser.execute(Buffer.from(`GET / HTTP/1.1\r\nX: ${"a".repeat(100)}\r\n\r\n`))?.code).toBe(
      "HPE_HEADER_OVERFLOW",
    );
    const justUnder = collect(["host"], 100);
    // "/" + "X" + 98 bytes of value = 100 bytes counted, as node:http counts them.
    expect(
      justUnder.parser.execute(Buffer.from(`GET / HTTP/1.1\r\nX: ${"a".repeat(98)}\r\n\r\n`)),
    ).toBeNull();
    expect(justUnder.messages).toHaveLength(1);
  });

  it("goes on with HTTP/1.1 after an Upgrade request (ignored), but not after CONNECT", () => {
    const upgrade = collect();
    expect(
      upgrade.parser.execute(
        Buffer.from(
          "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
      ),
    ).toBeNull();
    expect(upgrade.messages.map((m) => m.head.url)).toEqual(["/a", "/b"]);
    const tunnel = collect();
    expect(
      tunnel.parser.execute(
        Buffer.from("CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
      )?.code,
    ).toBe("HPE_PAUSED_UPGRADE");
    expect(tunnel.messages.map((m) => m.head.url)).toEqual(["x:443"]);
  });

  it("rethrows an exception from an event after llhttp has returned", () => {
    const parser = new RequestParser(
      { keep: [], maxHeaderSize: 16_384 },
      {
        onMessageBegin: () => undefined,
        onHead: () => {
          throw new Error("handler failed");
        },
        onBody: () => undefined,
        onMessageComplete: () => undefined,
      },
    );
    expect(() => parser.execute(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).toThrow("handler failed");
    parser.free();
  });

  it("shares the instance with ResponseParser without either seeing the other's callbacks", () => {
    const statuses: number[] = [];
    const bodies: string[] = [];
    const response = new ResponseParser({
      onMessageBegin: () => true,
      onHeadersComplete: (status) => {
        statuses.push(status);
        return HEADERS_OK;
      },
      onBody: (chunk) => bodies.push(chunk.toString()),
      onMessageComplete: () => undefined,
    });
    const request = collect();
    const responseBytes = Buffer.from("HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nbody");
    const requestBytes = Buffer.from("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nreqb");
    // Interleaved byte by byte: each parser keeps its own state on the one instance.
    for (let i = 0; i < Math.max(responseBytes.length, requestBytes.length); i++) {
      if (i < responseBytes.length) expect(response.execute(responseBytes.subarray(i, i + 1))).toBeNull();
      if (i < requestBytes.length) expect(request.parser.execute(requestBytes.subarray(i, i + 1))).toBeNull();
    }
    expect(statuses).toEqual([201]);
    expect(bodies.join("")).toBe("body");
    expect(request.messages.map((m) => [m.head.url, m.body, m.complete])).toEqual([["/", "reqb", true]]);
    response.free();
    request.parser.free();
  });

  it("reads right after the WebAssembly memory grew (a read larger than any before): the views are remade", () => {
    const bodies: Buffer[] = [];
    const response = new ResponseParser({
      onMessageBegin: () => true,
      onHeadersComplete: () => HEADERS_OK,
      onBody: (chunk) => bodies.push(chunk),
      onMessageComplete: () => undefined,
    });
    const small = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
    // 48 MiB in one execute: more than the memory has, so malloc grows it (and detaches its buffer).
    const bigBody = Buffer.alloc(48 * 1024 * 1024, "x");
    bigBody.write("start", 0);
    bigBody.write("end", bigBody.length - 3);
    const big = Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${bigBody.length}\r\n\r\n`),
      bigBody,
    ]);
    const after = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast");
    for (const bytes of [small, big, after]) expect(response.execute(bytes)).toBeNull();
    expect(bodies[0]!.toString()).toBe("first");
    const received = Buffer.concat(bodies.slice(1, -1));
    expect(received.length).toBe(bigBody.length);
    expect([received.subarray(0, 5).toString(), received.subarray(-3).toString()]).toEqual(["start", "end"]);
    expect(bodies.at(-1)!.toString()).toBe("last");
    response.free();
  });
});
