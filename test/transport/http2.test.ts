import { performance } from "node:perf_hooks";
import {
  constants,
  createServer as createH2cServer,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type ServerOptions,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { parseTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError, describeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport, PreparedRequest } from "../../src/transport/http.js";
import { describeConnections } from "../../src/transport/describe.js";
import { POST as POST_REQUEST, sendMany, transportFor, type Outcome } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * load-test's own HTTP/2 client (src/transport/http2.ts) against node:http2 servers, which
 * encode with nghttp2: an independent HPACK encoder (Huffman-coded values, literals), and a
 * peer that enforces flow control, stream limits, padding and CONTINUATION as RFC 9113 says.
 */
const cleanups = cleanupAfterEach();

interface H2Target {
  url: string;
  /** Streams open at once on the server, at most. */
  maxOpen: () => number;
  sessions: () => number;
}

async function h2cServer(
  onStream: (stream: ServerHttp2Stream, headers: Record<string, unknown>, index: number) => void,
  options: ServerOptions = {},
  onConnection?: (socket: Socket) => void,
): Promise<H2Target> {
  const server = createH2cServer(options);
  if (onConnection) server.on("connection", onConnection);
  let index = 0;
  let open = 0;
  let maxOpen = 0;
  let sessions = 0;
  server.on("session", () => sessions++);
  server.on("stream", (stream, headers) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    stream.on("close", () => open--);
    stream.on("error", () => undefined);
    onStream(stream, headers, index++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    maxOpen: () => maxOpen,
    sessions: () => sessions,
  };
}

function transport(url: string, workers = 8, timeoutMs = 2_000): HttpTransport {
  const created = transportFor(
    url,
    workers,
    parseTransportFlags({ h2c: true }, new URL(url), workers),
    timeoutMs,
  );
  cleanups.push(() => created.close());
  return created;
}

/** Reads the request body, then answers. */
function afterBody(stream: ServerHttp2Stream, answer: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("end", () => answer(Buffer.concat(chunks)));
}

const keyOf = (outcome: Outcome): string | number =>
  outcome.error ? analyzeTransportError(outcome.error).key : outcome.status;

const post = (body: Buffer, headers: string[] = ["content-type", "application/json"]): PreparedRequest => ({
  method: "POST",
  path: "/v1/execute",
  headers,
  body,
});

describe("HTTP/2 client: requests", () => {
  it("sends the method, path, authority, headers and body; reads statuses nghttp2 Huffman-codes", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const statuses = [200, 403, 201, 418, 503, 299];
    const target = await h2cServer((stream, headers, index) => {
      seen.push(headers);
      afterBody(stream, (body) => {
        stream.respond({
          ":status": statuses[index % statuses.length] as number,
          "x-echo": String(body.length),
        });
        stream.end(body);
      });
    });
    const body = Buffer.from('{"prompt":"hello"}');
    const request = post(body, ["content-type", "application/json", "X-Api-Key", "secret", "Accept", "*/*"]);
    const outcomes = await sendMany(transport(target.url, 1), statuses.length, 1, request);
    expect(outcomes.map(keyOf)).toEqual(statuses);
    expect(outcomes.every((outcome) => outcome.body === body.toString())).toBe(true);
    const first = seen[0] as Record<string, unknown>;
    expect(first[":method"]).toBe("POST");
    expect(first[":path"]).toBe("/v1/execute");
    expect(first[":scheme"]).toBe("http");
    expect(first[":authority"]).toBe(new URL(target.url).host);
    expect(first["x-api-key"]).toBe("secret");
    expect(first["accept"]).toBe("*/*");
    expect(first["content-length"]).toBe(String(body.length));
  });

  it("a Host header becomes :authority; GET and HEAD carry no body", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const target = await h2cServer((stream, headers) => {
      seen.push(headers);
      stream.respond({ ":status": 200, "content-length": "5" });
      if (headers[":method"] === "HEAD") stream.end();
      else stream.end("hello");
    });
    const client = transport(target.url, 1);
    const get = await sendMany(client, 1, 1, {
      method: "GET",
      path: "/",
      headers: ["host", "api.example"],
      body: undefined,
    });
    const head = await sendMany(client, 1, 1, {
      method: "HEAD",
      path: "/x?y=1",
      headers: [],
      body: undefined,
    });
    expect(get.map(keyOf)).toEqual([200]);
    expect(get[0]?.body).toBe("hello");
    expect(head.map(keyOf)).toEqual([200]);
    expect(head[0]?.body).toBeNull();
    expect(seen[0]).toMatchObject({ ":method": "GET", ":path": "/", ":authority": "api.example" });
    expect(seen[0]?.["content-length"]).toBeUndefined();
    expect(seen[1]).toMatchObject({ ":method": "HEAD", ":path": "/x?y=1" });
  });

  it("refuses what would corrupt the header block, before writing it, and carries on", async () => {
    let streams = 0;
    const target = await h2cServer((stream) => {
      streams++;
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    const client = transport(target.url, 1);
    const invalid: PreparedRequest[] = [
      { method: "GET", path: "/a b", headers: [], body: undefined },
      { method: "G T", path: "/", headers: [], body: undefined },
      post(Buffer.from("{}"), ["x-bad", "a\r\nb"]),
      post(Buffer.from("{}"), ["transfer-encoding", "chunked"]),
    ];
    for (const request of invalid) {
      const [outcome] = await sendMany(client, 1, 1, request);
      expect(describeTransportError(outcome?.error)).toMatch(/^LOAD_TEST_INVALID_REQUEST: invalid request/);
    }
    expect(streams).toBe(0);
    expect((await sendMany(client, 1, 1)).map(keyOf)).toEqual([200]);
  });

  it("a request body larger than the server's windows waits for WINDOW_UPDATE and arrives whole", async () => {
    const received: number[] = [];
    const target = await h2cServer(
      (stream) =>
        afterBody(stream, (body) => {
          received.push(body.length);
          stream.respond({ ":status": 200 });
          stream.end(String(body.reduce((sum, byte) => sum + byte, 0)));
        }),
      { settings: { initialWindowSize: 1_000 } },
    );
    const body = Buffer.alloc(200_000, 7);
    const outcomes = await sendMany(transport(target.url, 4), 6, 3, post(body));
    expect(outcomes.map(keyOf)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(received).toEqual([200_000, 200_000, 200_000, 200_000, 200_000, 200_000]);
    expect(outcomes.every((outcome) => outcome.body === String(200_000 * 7))).toBe(true);
  });

  it("keeps to the server's SETTINGS_MAX_CONCURRENT_STREAMS, queueing the rest", async () => {
    const target = await h2cServer(
      (stream) => {
        stream.respond({ ":status": 200 });
        setTimeout(() => stream.end("ok"), 10);
      },
      { settings: { maxConcurrentStreams: 2 } },
    );
    const client = transport(target.url, 16);
    const outcomes = await sendMany(client, 40, 16);
    expect(new Set(outcomes.map(keyOf))).toEqual(new Set([200]));
    expect(target.maxOpen()).toBeLessThanOrEqual(2);
    expect(target.sessions()).toBe(1);
    // The summary names the server's limit, not --workers, as what capped the streams.
    const summary = client.transportSummary();
    expect(summary.connections.serverMaxStreams).toBe(2);
    expect(describeConnections(summary)[0]).toContain(
      "limit 1 × 2 streams (the server's SETTINGS_MAX_CONCURRENT_STREAMS; 16 asked)",
    );
  });

  it("waiting for a stream slot is queue time: a request is written when its stream opens", async () => {
    const target = await h2cServer(
      (stream) => {
        stream.respond({ ":status": 200 });
        setTimeout(() => stream.end("ok"), 10);
      },
      { settings: { maxConcurrentStreams: 2 } },
    );
    const client = transport(target.url, 16);
    // The connection is open first, so no request's queue time holds the connect and SETTINGS.
    expect((await sendMany(client, 1, 1)).map(keyOf)).toEqual([200]);
    const times = await new Promise<Array<{ queueMs: number; serviceMs: number }>>((resolve) => {
      const done: Array<{ queueMs: number; serviceMs: number }> = [];
      for (let i = 0; i < 16; i++) {
        const sentAtMs = performance.now();
        client.send(POST_REQUEST, (error, _status, _body, writtenAtMs) => {
          expect(error).toBeNull();
          const endAtMs = performance.now();
          done.push({ queueMs: writtenAtMs - sentAtMs, serviceMs: endAtMs - writtenAtMs });
          if (done.length === 16) resolve(done);
        });
      }
    });
    // 16 requests through 2 streams of ~10 ms each: the last pair waits 7 rounds for its slot.
    const queues = times.map((time) => time.queueMs).sort((a, b) => a - b);
    const services = times.map((time) => time.serviceMs).sort((a, b) => a - b);
    expect(queues[15]).toBeGreaterThanOrEqual(60);
    // The first pair took free slots: no wait but the event loop's (generous for a busy machine).
    expect(queues[0]).toBeLessThan(20);
    // Service time is one stream's answer, whatever the wait before it.
    expect(services[0]).toBeGreaterThanOrEqual(9);
    expect(services[7]).toBeLessThan(queues[15] as number);
  });
});

describe("HTTP/2 client: responses", () => {
  it("a body shorter than its content-length is protocol.content_length, named by our own code", async () => {
    const target = await h2cServer((stream) => {
      stream.respond({ ":status": 200, "content-length": "10" });
      stream.end("short");
    });
    const [outcome] = await sendMany(transport(target.url, 1), 1, 1);
    expect(outcome && keyOf(outcome)).toBe("protocol.content_length");
    expect((outcome?.error as { code?: string } | null)?.code).toBe("LOAD_TEST_CONTENT_LENGTH_MISMATCH");
  });

  it("a 20 MiB body arrives whole: the client credits its window back as it reads", async () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 1);
    const target = await h2cServer((stream) => {
      stream.respond({ ":status": 200, "content-length": String(big.length) });
      stream.end(big);
    });
    const outcomes = await sendMany(transport(target.url, 2, 10_000), 2, 2);
    expect(outcomes.map(keyOf)).toEqual([200, 200]);
  });

  it("reads padded frames, CONTINUATION, 1xx interim responses and trailers", async () => {
    const target = await h2cServer(
      (stream, _headers, index) => {
        afterBody(stream, () => {
          if (index === 0) {
            // A header block of ~40 KB: nghttp2 splits it into HEADERS + CONTINUATION frames.
            stream.respond({ ":status": 200, "x-big": "v".repeat(40_000) });
            stream.end("continued");
          } else if (index === 1) {
            stream.additionalHeaders({ ":status": 103, link: "</a.css>; rel=preload" });
            stream.respond({ ":status": 202 });
            stream.end("after interim");
          } else {
            stream.respond({ ":status": 200 }, { waitForTrailers: true });
            stream.on("wantTrailers", () => stream.sendTrailers({ "x-checksum": "abc" }));
            stream.end("with trailers");
          }
        });
      },
      { paddingStrategy: constants.PADDING_STRATEGY_MAX, maxHeaderListPairs: 100 },
    );
    const outcomes = await sendMany(transport(target.url, 1), 3, 1);
    expect(outcomes.map(keyOf)).toEqual([200, 202, 200]);
    expect(outcomes.map((outcome) => outcome.body)).toEqual(["continued", "after interim", "with trailers"]);
  });

  it("a body shorter than its content-length: protocol.content_length", async () => {
    const target = await h2cServer((stream) => {
      stream.respond({ ":status": 200, "content-length": "10" });
      stream.end("short");
    });
    const outcomes = await sendMany(transport(target.url, 1), 2, 1);
    expect(outcomes.map(keyOf)).toEqual(["protocol.content_length", "protocol.content_length"]);
  });

  it("answers the server's PING", async () => {
    let pinged: Promise<boolean> | undefined;
    const target = await h2cServer((stream) => {
      const session = stream.session as ServerHttp2Session;
      pinged ??= new Promise((resolve) => session.ping((error) => resolve(error === null)));
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    await sendMany(transport(target.url, 1), 1, 1);
    expect(await pinged).toBe(true);
  });
});

describe("HTTP/2 client: the connection going away", () => {
  it("a graceful GOAWAY lets the streams it covers finish; the next requests open a new connection", async () => {
    const target = await h2cServer((stream, _headers, index) => {
      const session = stream.session as ServerHttp2Session;
      if (index === 0) {
        // close(): GOAWAY NO_ERROR with this stream as the last; it is still answered (RFC 9113
        // §6.8), then the server ends the connection.
        session.close();
        setTimeout(() => {
          stream.respond({ ":status": 200 });
          stream.end("answered after GOAWAY");
        }, 20);
        return;
      }
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    const client = transport(target.url, 1);
    const outcomes = await sendMany(client, 4, 1);
    expect(outcomes.map(keyOf)).toEqual([200, 200, 200, 200]);
    expect(outcomes[0]?.body).toBe("answered after GOAWAY");
    expect(target.sessions()).toBe(2);
  });

  it("REFUSED_STREAM is sent again, another RST_STREAM code is the request's error; the connection carries on", async () => {
    const target = await h2cServer((stream, _headers, index) => {
      if (index === 0 || index === 4) stream.close(constants.NGHTTP2_REFUSED_STREAM);
      else if (index === 2) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      else {
        stream.respond({ ":status": 200 });
        stream.end("ok");
      }
    });
    const client = transport(target.url, 3);
    const outcomes = await sendMany(client, 5, 1);
    // Streams 0 and 4 (RFC 9113 §8.7: not processed) went again as 1 and 5.
    expect(outcomes.map(keyOf)).toEqual([200, "protocol.rst_stream", 200, 200, 200]);
    expect(analyzeTransportError(outcomes[1]?.error).reason).toMatch(/NGHTTP2_INTERNAL_ERROR/);
    expect(client.transportSummary().retried).toEqual({ total: 2, byReason: { refused_stream: 2 } });
    expect(target.sessions()).toBe(1);
  });

  it("a GOAWAY with an error code fails the streams it names as unprocessed, not retried", async () => {
    let streams = 0;
    const target = await h2cServer((stream) => {
      streams++;
      const session = stream.session as ServerHttp2Session;
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, 0);
    });
    const client = transport(target.url, 1);
    const outcomes = await sendMany(client, 2, 1);
    expect(outcomes.map(keyOf)).toEqual(["protocol.goaway", "protocol.goaway"]);
    expect(analyzeTransportError(outcomes[0]?.error).reason).toMatch(/ENHANCE_YOUR_CALM/);
    expect(streams).toBe(2);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("the server destroying its session: GOAWAY for the stream it did not process, then a new connection", async () => {
    const target = await h2cServer((stream, _headers, index) => {
      if (index === 1) {
        stream.session?.destroy();
        return;
      }
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    const outcomes = await sendMany(transport(target.url, 1), 4, 1);
    expect(outcomes.map(keyOf)).toEqual([200, "protocol.goaway", 200, 200]);
    expect(target.sessions()).toBe(2);
  });

  it("the connection dropped mid-stream: reset.closed, and a new connection serves the rest", async () => {
    const sockets: Socket[] = [];
    const target = await h2cServer(
      (stream, _headers, index) => {
        // The TCP connection itself, not the session: no GOAWAY, the bytes just stop.
        if (index === 1) sockets[0]?.destroy();
        else {
          stream.respond({ ":status": 200 });
          stream.end("ok");
        }
      },
      {},
      (socket) => sockets.push(socket),
    );
    const outcomes = await sendMany(transport(target.url, 1), 4, 1);
    expect(outcomes.map(keyOf)).toEqual([200, "reset.closed", 200, 200]);
    expect(target.sessions()).toBe(2);
  });
});
