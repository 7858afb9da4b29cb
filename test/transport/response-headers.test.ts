import { createServer, type RequestListener } from "node:http";
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import type { HttpTransport, PreparedRequest } from "../../src/transport/http.js";
import { HEADERS_OK, SelectingResponseParser } from "../../src/transport/llhttp.js";
import { startNginx } from "../helpers/nginx.js";
import { sendMany, transportFor, type Outcome } from "../helpers/servers.js";
import { localhostPkiForFile } from "../helpers/tls.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * `responseHeaders`: the response fields a caller asks for by name reach its callback, from the
 * head and from trailers, over both protocols and every way a connection is made (our HTTP/1.1
 * and HTTP/2 clients, and undici for an ALPN answer not known in advance); with none asked for,
 * the callback gets null (docs/TRANSPORT.md "Response fields").
 */
const cleanups = cleanupAfterEach();

const tls = localhostPkiForFile();

const GET: PreparedRequest = { method: "GET", path: "/", headers: [], body: undefined };
const GRPC = ["grpc-status", "grpc-message", "x-multi", "x-absent"];

async function listen(
  server: ReturnType<typeof createServer> | Http2Server | Http2SecureServer,
): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function http1Server(handler: RequestListener): Promise<string> {
  return `http://127.0.0.1:${await listen(createServer(handler))}`;
}

async function h2cServer(onStream: (stream: ServerHttp2Stream) => void): Promise<string> {
  const server = createH2cServer();
  server.on("stream", onStream);
  server.on("session", (session) => cleanups.push(async () => void session.destroy()));
  return `http://127.0.0.1:${await listen(server)}`;
}

function client(
  url: string,
  names: readonly string[] | undefined,
  raw: RawTransportFlags = {},
): HttpTransport {
  const https = url.startsWith("https:");
  const flags = parseTransportFlags(https ? { ca: tls.pki.ca.certFile, ...raw } : raw, new URL(url), 4);
  const transport = transportFor(url, 4, flags, 5_000, names);
  cleanups.push(() => transport.close());
  return transport;
}

const fieldsOf = (outcomes: Outcome[]) =>
  outcomes.map((outcome) => {
    expect(outcome.error).toBeNull();
    return outcome.headers === null ? null : Object.fromEntries(outcome.headers);
  });

/** A gRPC-style answer: status in the head's neighbours, grpc-status and grpc-message in trailers. */
function h2WithTrailers(stream: ServerHttp2Stream): void {
  stream.respond(
    { ":status": 200, "content-type": "application/grpc", "x-multi": ["a", "b"] },
    { waitForTrailers: true },
  );
  stream.on("wantTrailers", () =>
    stream.sendTrailers({ "grpc-status": "5", "grpc-message": "not found: user 42" }),
  );
  stream.end("body");
}

describe("HTTP/1.1 (our client, llhttp)", () => {
  const handler: RequestListener = (_request, response) => {
    response.setHeader("X-Multi", ["a", "b"]);
    response.setHeader("Grpc-Status", "0");
    response.setHeader("X-Other", "not asked for");
    response.end("ok");
  };

  it("hands over the fields asked for (any case on the wire, repeated ones joined) and nothing else", async () => {
    const url = await http1Server(handler);
    const outcomes = await sendMany(client(url, GRPC), 3, 1, GET);
    expect(fieldsOf(outcomes)).toEqual(Array(3).fill({ "grpc-status": "0", "x-multi": "a, b" }));
  });

  it("null when none was asked for, or none of those asked for came", async () => {
    const url = await http1Server(handler);
    expect(fieldsOf(await sendMany(client(url, undefined), 2, 1, GET))).toEqual([null, null]);
    expect(fieldsOf(await sendMany(client(url, ["x-absent"]), 2, 1, GET))).toEqual([null, null]);
  });

  it("reads chunked trailers (RFC 9112 §7.1.2) as well as the head", async () => {
    const url = await http1Server((_request, response) => {
      response.writeHead(200, { "grpc-status": "0", trailer: "grpc-status, grpc-message" });
      response.write("part one, ");
      response.addTrailers({ "Grpc-Message": "trailing  ", "grpc-status": "13" });
      response.end("part two");
    });
    const outcomes = await sendMany(client(url, GRPC), 2, 1, GET);
    expect(outcomes.map((outcome) => outcome.body)).toEqual(["part one, part two", "part one, part two"]);
    // A field in the head and in trailers is one field with both values (RFC 9110 §6.5.1).
    expect(fieldsOf(outcomes)).toEqual(Array(2).fill({ "grpc-status": "0, 13", "grpc-message": "trailing" }));
  });

  it("skips the fields of an interim 103 Early Hints response (RFC 9110 §15.2)", async () => {
    const url = await http1Server((_request, response) => {
      response.writeEarlyHints({ link: "</early.css>; rel=preload" });
      response.setHeader("link", "</final.css>; rel=preload");
      response.end("ok");
    });
    const outcomes = await sendMany(client(url, ["link"]), 1, 1, GET);
    expect(fieldsOf(outcomes)).toEqual([{ link: "</final.css>; rel=preload" }]);
  });

  it("names and values split across reads, byte by byte (llhttp reports them in pieces)", () => {
    const events: unknown[] = [];
    const parser = new SelectingResponseParser(
      {
        onMessageBegin: () => true,
        onHeadersComplete: (status) => {
          events.push(status);
          return HEADERS_OK;
        },
        onSelectedFields: (fields) => events.push(fields),
        onBody: () => undefined,
        onMessageComplete: () => events.push("end"),
      },
      ["grpc-status", "grpc-message", "x-a", "x-abc"],
    );
    const response =
      "HTTP/1.1 200 OK\r\nX-AB: no\r\nGrpc-Message:\r\nX-ABC: 1 \r\nx-a: 2\r\nx-abcd: no\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 7\r\nGRPC-MESSAGE: gone\t\r\n\r\n";
    for (const byte of Buffer.from(response)) expect(parser.execute(Buffer.from([byte]))).toBeNull();
    expect(parser.execute(Buffer.from(response))).toBeNull();
    const expected = [
      200,
      ["grpc-message", "", "x-abc", "1", "x-a", "2"],
      ["grpc-status", "7", "grpc-message", "gone"],
      "end",
    ];
    expect(events).toEqual([...expected, ...expected]);
    parser.free();
  });

  it("rejects a name that is not a lower-case field name", () => {
    expect(() => client("http://127.0.0.1:9", ["Grpc-Status"])).toThrow(/responseHeaders: "Grpc-Status"/);
    expect(() => client("http://127.0.0.1:9", [":status"])).toThrow(/responseHeaders/);
  });
});

describe("HTTP/2 (our client, HPACK)", () => {
  it("h2c: fields from the head and from trailers, Huffman-coded by nghttp2", async () => {
    const url = await h2cServer(h2WithTrailers);
    const outcomes = await sendMany(client(url, GRPC, { h2c: true }), 20, 4, GET);
    expect(outcomes.map((outcome) => outcome.body)).toEqual(Array(20).fill("body"));
    expect(fieldsOf(outcomes)).toEqual(
      Array(20).fill({ "x-multi": "a, b", "grpc-status": "5", "grpc-message": "not found: user 42" }),
    );
  });

  it("a trailers-only answer (grpc-status in a head that ends the stream)", async () => {
    const url = await h2cServer((stream) =>
      stream.respond(
        { ":status": 200, "grpc-status": "16", "grpc-message": "unauthenticated" },
        { endStream: true },
      ),
    );
    const outcomes = await sendMany(client(url, GRPC, { h2c: true }), 2, 1, GET);
    expect(fieldsOf(outcomes)).toEqual(
      Array(2).fill({ "grpc-status": "16", "grpc-message": "unauthenticated" }),
    );
  });

  it("static-table names and values (RFC 7541 Appendix A), and an interim 103 skipped", async () => {
    const url = await h2cServer((stream) => {
      stream.additionalHeaders({ ":status": 103, link: "</early.css>; rel=preload" });
      stream.respond({
        ":status": 200,
        "content-type": "text/plain",
        link: "</final.css>",
        "content-length": 2,
      });
      stream.end("ok");
    });
    const outcomes = await sendMany(
      client(url, ["content-type", "link", "content-length"], { h2c: true }),
      2,
      1,
      GET,
    );
    expect(fieldsOf(outcomes)).toEqual(
      Array(2).fill({ "content-type": "text/plain", link: "</final.css>", "content-length": "2" }),
    );
  });

  it("null when none was asked for", async () => {
    const url = await h2cServer(h2WithTrailers);
    expect(fieldsOf(await sendMany(client(url, undefined, { h2c: true }), 2, 1, GET))).toEqual([null, null]);
  });
});

describe("the first connection of an ALPN negotiation without a probe (undici)", () => {
  async function tlsServer(): Promise<string> {
    // One handler for both protocols (node:http2's compatibility API).
    const server = createSecureServer(
      { key: tls.leaf.key, cert: tls.leaf.cert, allowHTTP1: true },
      (_request, response) => {
        response.writeHead(200, { "x-multi": ["a", "b"], trailer: "grpc-status, grpc-message" });
        response.addTrailers({ "grpc-status": "5", "grpc-message": "not found: user 42" });
        response.end("body");
      },
    );
    server.on("session", (session) => cleanups.push(async () => void session.destroy()));
    return `https://127.0.0.1:${await listen(server)}`;
  }

  it("http/1.1: the same fields as our client hands over, trailers included", async () => {
    const url = await tlsServer();
    const transport = client(url, GRPC, { http1: true });
    const outcomes = await sendMany(transport, 6, 3, GET);
    expect(transport.transportSummary().protocol).toBe("http/1.1");
    expect(fieldsOf(outcomes)).toEqual(
      Array(6).fill({ "x-multi": "a, b", "grpc-status": "5", "grpc-message": "not found: user 42" }),
    );
  });

  it("h2: the head's fields; undici's HTTP/2 client ends the request before the trailers", async () => {
    const url = await tlsServer();
    const transport = client(url, GRPC);
    const outcomes = await sendMany(transport, 6, 3, GET);
    expect(transport.transportSummary().protocol).toBe("h2");
    for (const fields of fieldsOf(outcomes)) expect(fields).toMatchObject({ "x-multi": "a, b" });
  });
});

describe("nginx (add_header, add_trailer)", () => {
  it.each([
    ["HTTP/1.1", "", {}],
    ["h2c", "http2", { h2c: true }],
  ] as const)("%s", async (_name, listenOn, raw) => {
    const nginx = await startNginx({
      listen: listenOn,
      server:
        'add_header X-Served-By "nginx test" always; add_header x-multi one always; add_header x-multi two always;',
    });
    cleanups.push(() => nginx.stop());
    const outcomes = await sendMany(client(nginx.url, ["x-served-by", "x-multi", "server"], raw), 10, 2, GET);
    expect(fieldsOf(outcomes)).toEqual(
      Array(10).fill({
        "x-served-by": "nginx test",
        "x-multi": "one, two",
        server: expect.stringMatching(/^nginx/),
      }),
    );
    expect((await nginx.accessLog()).filter((line) => line.status === 200)).toHaveLength(10);
  });
});
