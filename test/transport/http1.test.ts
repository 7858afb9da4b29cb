import {
  connect as connectTcp,
  createServer as createNetServer,
  type AddressInfo,
  type Socket,
} from "node:net";
import { describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError, LoadTestTimeoutError } from "../../src/transport/errors.js";
import {
  mergeTransportSummaries,
  type HttpTransport,
  type PreparedRequest,
} from "../../src/transport/http.js";
import { Http1Connection, Http1RequestEncoder, standaloneHttp1Context } from "../../src/transport/http1.js";
import { allowEverything, startLocalServer, type Responder } from "../helpers/servers.js";
import { POST, sendMany, transportFor } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * The hand-written HTTP/1.1 client (src/transport/http1.ts) through `HttpTransport`, against real
 * loopback servers: raw `node:net` ones where the exact bytes matter (what the client writes,
 * responses split at awkward places, broken or unsolicited responses), `node:http` otherwise.
 */
const cleanups = cleanupAfterEach();

function transport(url: string, raw: RawTransportFlags = {}, workers = 1, timeoutMs = 5_000): HttpTransport {
  const created = transportFor(url, workers, parseTransportFlags(raw, new URL(url), workers), timeoutMs);
  cleanups.push(() => created.close());
  return created;
}

async function httpServer(respond: Responder): Promise<Awaited<ReturnType<typeof startLocalServer>>> {
  const server = await startLocalServer(respond);
  cleanups.push(() => server.close());
  return server;
}

/** A request as it arrived, byte for byte. */
interface WireRequest {
  raw: Buffer;
  requestLine: string;
  /** Header lines in the order sent, names as sent. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** Which TCP connection carried it (0 = the first accepted). */
  connection: number;
  /** Its position on that connection. */
  onConnection: number;
}

interface WireExchange {
  socket: Socket;
  request: WireRequest;
  /** Position among all requests the server received. */
  index: number;
}

/** Writes the response (or not); the request counts as unanswered until the returned promise settles. */
type WireResponder = (exchange: WireExchange) => void | Promise<void>;

interface WireServer {
  url: string;
  port: number;
  requests: WireRequest[];
  /** TCP connections accepted. */
  connections: number;
  /** Server sockets fully closed (with the default allowHalfOpen false, after the client's FIN too). */
  closed: number;
  /** Most requests received on one connection while an earlier one there was still unanswered. */
  maxUnanswered: number;
}

/** A raw TCP server reading HTTP/1.1 requests (content-length framed) and letting the test write the bytes back. */
async function wireServer(respond: WireResponder): Promise<WireServer> {
  const sockets = new Set<Socket>();
  const state = { requests: [] as WireRequest[], connections: 0, closed: 0, maxUnanswered: 0 };
  const server = createNetServer((socket) => {
    const connection = state.connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      sockets.delete(socket);
      state.closed++;
    });
    let buffered = Buffer.alloc(0);
    let onConnection = 0;
    let unanswered = 0;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const headEnd = buffered.indexOf("\r\n\r\n");
        if (headEnd < 0) return;
        const [requestLine = "", ...lines] = buffered.subarray(0, headEnd).toString("latin1").split("\r\n");
        const headers = lines.map((line): [string, string] => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon), line.slice(colon + 1).trim()];
        });
        const length = Number(headers.find(([name]) => name.toLowerCase() === "content-length")?.[1] ?? 0);
        const total = headEnd + 4 + length;
        if (buffered.length < total) return;
        const raw = Buffer.from(buffered.subarray(0, total));
        buffered = buffered.subarray(total);
        const request: WireRequest = {
          raw,
          requestLine,
          headers,
          body: raw.subarray(headEnd + 4),
          connection,
          onConnection: onConnection++,
        };
        const index = state.requests.push(request) - 1;
        state.maxUnanswered = Math.max(state.maxUnanswered, ++unanswered);
        void Promise.resolve(respond({ socket, request, index })).then(() => unanswered--);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    get closed() {
      return state.closed;
    },
    get maxUnanswered() {
      return state.maxUnanswered;
    },
  };
}

/** A complete HTTP/1.1 200 with a content-length; `extra` are header lines, each ending in CRLF. */
const ok = (body: string, extra = ""): string =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` (bounded: fails the test after `timeoutMs`). */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Writes `parts` one by one with a pause between them, so they leave as separate TCP segments. */
async function writeSlowly(socket: Socket, parts: Array<string | Buffer>, gapMs: number): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(part);
    await sleep(gapMs);
  }
}

/** `text` cut at each offset (ascending). */
function cut(text: string, offsets: number[]): string[] {
  const parts: string[] = [];
  let from = 0;
  for (const offset of offsets) {
    parts.push(text.slice(from, offset));
    from = offset;
  }
  parts.push(text.slice(from));
  return parts;
}

interface Result {
  error: Error | null;
  status: number;
  body: Buffer | null;
}

/** Sends the requests one after another (one in flight), waiting for each callback. */
async function sendInOrder(client: HttpTransport, requests: PreparedRequest[]): Promise<Result[]> {
  const results: Result[] = [];
  for (const request of requests) {
    results.push(
      await new Promise<Result>((resolve) =>
        client.send(request, (error, status, body) => resolve({ error, status, body })),
      ),
    );
  }
  return results;
}

const get = (path = "/", headers: string[] = []): PreparedRequest => ({
  method: "GET",
  path,
  headers,
  body: undefined,
});

const outcomeOf = (result: { error: Error | null; status: number }): string | number =>
  result.error ? analyzeTransportError(result.error).key : result.status;
const textOf = (result: Result): string | null => (result.body ? result.body.toString("latin1") : null);
const connectionHeader = (request: WireRequest): string[] =>
  request.headers.filter(([name]) => name.toLowerCase() === "connection").map(([, value]) => value);

describe("request bytes on the wire", () => {
  it("request line, host with the port, the user's headers in order, keep-alive, content-length, body", async () => {
    const server = await wireServer(({ socket }) => void socket.write(ok("{}")));
    const client = transport(server.url);
    const body = Buffer.from('{"prompt":"héllo"}', "utf8");
    const post: PreparedRequest = {
      method: "POST",
      path: "/v1/execute?trace=1",
      headers: ["content-type", "application/json", "X-Trace-Id", "abc-123", "accept", "*/*"],
      body,
    };
    const emptyPost: PreparedRequest = { method: "POST", path: "/empty", headers: [], body: undefined };
    const results = await sendInOrder(client, [post, get("/health", ["x-a", "1"]), emptyPost, post]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200, 200]);

    const host = `host: 127.0.0.1:${server.port}`;
    const expectedPost = Buffer.concat([
      Buffer.from(
        `POST /v1/execute?trace=1 HTTP/1.1\r\n${host}\r\ncontent-type: application/json\r\n` +
          `X-Trace-Id: abc-123\r\naccept: */*\r\nconnection: keep-alive\r\ncontent-length: ${body.length}\r\n\r\n`,
        "latin1",
      ),
      body,
    ]);
    const wire = server.requests.map((request) => request.raw.toString("latin1"));
    expect(wire).toEqual([
      expectedPost.toString("latin1"),
      // No body: no content-length on a GET.
      `GET /health HTTP/1.1\r\n${host}\r\nx-a: 1\r\nconnection: keep-alive\r\n\r\n`,
      // A POST without a body still says its length (RFC 9110 §8.6).
      `POST /empty HTTP/1.1\r\n${host}\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n`,
      expectedPost.toString("latin1"),
    ]);
    expect(server.requests[0]?.body.equals(body)).toBe(true);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 0, 0, 0]);
  });

  it("a Host header given by the user replaces the default one, where the user put it", async () => {
    const server = await wireServer(({ socket }) => void socket.write(ok("{}")));
    const client = transport(server.url);
    const results = await sendInOrder(client, [
      get("/", ["x-a", "1", "Host", "api.example.test", "x-b", "2"]),
    ]);
    expect(results.map(outcomeOf)).toEqual([200]);
    expect(server.requests[0]?.raw.toString("latin1")).toBe(
      "GET / HTTP/1.1\r\nx-a: 1\r\nHost: api.example.test\r\nx-b: 2\r\nconnection: keep-alive\r\n\r\n",
    );
  });

  it("one request per connection at a time: 4 workers never pipeline", async () => {
    const server = await wireServer(async ({ socket, index }) => {
      await sleep(15);
      socket.write(ok(`r${index}`));
    });
    const client = transport(server.url, {}, 4);
    const outcomes = await sendMany(client, 40, 4, get("/"));
    expect(new Set(outcomes.map(outcomeOf))).toEqual(new Set([200]));
    expect(server.requests).toHaveLength(40);
    expect(server.maxUnanswered).toBe(1);
    expect(server.connections).toBeLessThanOrEqual(4);
    expect(client.stats.opened).toBe(server.connections);
  });

  it("--max-requests-per-connection 3: the third request says connection: close, the next opens a connection", async () => {
    const server = await wireServer(({ socket, index }) => void socket.write(ok(`r${index}`)));
    const client = transport(server.url, { maxRequestsPerConnection: "3" });
    const results = await sendInOrder(
      client,
      Array.from({ length: 7 }, () => get("/")),
    );
    expect(results.map(outcomeOf)).toEqual([200, 200, 200, 200, 200, 200, 200]);
    expect(results.map(textOf)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 0, 0, 1, 1, 1, 2]);
    expect(server.requests.map(connectionHeader)).toEqual([
      ["keep-alive"],
      ["keep-alive"],
      ["close"],
      ["keep-alive"],
      ["keep-alive"],
      ["close"],
      ["keep-alive"],
    ]);
    // The server never closes: the client closed the two connections it said it would.
    await waitFor(() => server.closed >= 2, "the client to close its finished connections");
    const summary = client.transportSummary();
    expect(summary.connections.opened).toBe(3);
    expect(summary.connections.maxRequestsPerConnection).toBe(3);
    expect(summary.connections.requestsPerConnection.max).toBe(3);
  });

  it("--no-keepalive: every request says connection: close, each on its own connection", async () => {
    const server = await wireServer(({ socket, index }) => void socket.write(ok(`r${index}`)));
    const client = transport(server.url, { keepalive: false });
    const results = await sendInOrder(
      client,
      Array.from({ length: 4 }, () => get("/")),
    );
    expect(results.map(textOf)).toEqual(["r0", "r1", "r2", "r3"]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2, 3]);
    expect(server.requests.map(connectionHeader)).toEqual([["close"], ["close"], ["close"], ["close"]]);
    await waitFor(() => server.closed === 4, "the client to close every connection");
    expect(client.transportSummary().connections).toMatchObject({ opened: 4, keepAlive: false });
  });
});

describe("keep-alive", () => {
  it("20 sequential requests open one connection", async () => {
    const server = await httpServer(allowEverything);
    const client = transport(server.url);
    const outcomes = await sendMany(client, 20, 1);
    expect(outcomes.map(outcomeOf)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(outcomes.every((outcome) => outcome.body === '{"success":true,"result":"ok"}')).toBe(true);
    expect(client.stats.opened).toBe(1);
    expect(server.connections).toBe(1);
    expect(client.transportSummary().connections.requestsPerConnection).toEqual({ mean: 20, max: 20 });
  });
});

describe("idle connections", () => {
  it("a connection idle longer than the reuse limit is replaced before the next request (servers close idle ones)", async () => {
    const { server, sendOne } = await limitedConnection(() => []);
    expect(await sendOne()).toBe(200);
    expect(await sendOne()).toBe(200); // at once: reused
    await sleep(600);
    expect(await sendOne()).toBe(200); // after the limit: a new connection
    expect(server.requests.map((request) => request.connection)).toEqual([0, 0, 1]);
  });

  it("a pool at a steady rate keeps its idle connections alive: none is replaced in the next burst", async () => {
    // The first burst opens 10 connections (answers held 50 ms); then one request at a time for
    // 4.5 s, longer than the 4 s reuse limit. Were the most recently freed connection always
    // taken, 9 of them would idle past the limit and be replaced in the second burst.
    let hold = true; // answers wait 50 ms during the bursts, so each burst needs all 10 connections
    const server = await wireServer(({ socket }) =>
      hold ? sleep(50).then(() => void socket.write(ok("x"))) : void socket.write(ok("x")),
    );
    const client = transport(server.url, {}, 10);
    const burst = await sendMany(client, 10, 10, get());
    expect(burst.every((outcome) => outcome.status === 200)).toBe(true);
    expect(server.connections).toBe(10);
    hold = false;
    const steadyUntil = performance.now() + 4_500;
    while (performance.now() < steadyUntil) {
      const [outcome] = await sendMany(client, 1, 1, get());
      expect(outcome?.status).toBe(200);
      await sleep(40);
    }
    hold = true;
    const again = await sendMany(client, 10, 10, get());
    expect(again.every((outcome) => outcome.status === 200)).toBe(true);
    expect(server.connections).toBe(10);
  });

  /** A connection with a 300 ms default limit, to a server answering with `extra` header lines. */
  async function limitedConnection(extra: (index: number) => string[], splitAt?: number) {
    const server = await wireServer(({ socket, index }) => {
      const response = ok(`r${index}`, extra(index).join(""));
      if (splitAt === undefined) socket.write(response);
      else return writeSlowly(socket, cut(response, [splitAt, splitAt + 3]), 5);
    });
    const connection = new Http1Connection(
      (callback) => {
        const socket = connectTcp(server.port, "127.0.0.1");
        socket.once("connect", () => callback(null, socket));
        socket.once("error", (error) => callback(error, null));
      },
      standaloneHttp1Context(),
      300,
    );
    cleanups.push(() => connection.destroy());
    const encoder = new Http1RequestEncoder(`127.0.0.1:${server.port}`);
    const sendOne = (): Promise<number> =>
      new Promise((resolve, reject) =>
        connection.send(get(), encoder.encode(get(), false), false, {
          onRequestStart: () => undefined,
          onResponseStart: (_exchange, statusCode) => resolve(statusCode),
          onResponseData: () => undefined,
          onResponseEnd: () => undefined,
          onResponseError: (_exchange, error) => reject(error),
        }),
      );
    return { server, sendOne };
  }

  it.each([
    ["Keep-Alive: timeout=5", undefined],
    ["keep-ALIVE:  max=100, timeout=5 ", undefined],
    ["Keep-Alive: timeout=5", 40], // the field name split across reads: "Keep", "-Al", "ive"
  ])(
    "a server's %j (3 s after undici's 2 s margin) outlasts the default limit: reused after 600 ms idle",
    async (field, splitAt) => {
      const { server, sendOne } = await limitedConnection(() => [`${field}\r\n`], splitAt);
      expect(await sendOne()).toBe(200);
      await sleep(600);
      expect(await sendOne()).toBe(200);
      expect(server.requests.map((request) => request.connection)).toEqual([0, 0]);
    },
  );

  it("a hint within the 2 s margin (timeout=1): the connection is not reused, as undici does", async () => {
    const { server, sendOne } = await limitedConnection(() => ["Keep-Alive: timeout=1\r\n"]);
    for (let i = 0; i < 3; i++) expect(await sendOne()).toBe(200);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2]);
  });

  it("the limit follows the last response: a hint, then none, falls back to the default", async () => {
    // Not a keep-alive field, though of the same length ("connection") or with the same start.
    const { server, sendOne } = await limitedConnection((index) =>
      index === 0
        ? ["Connection: keep-alive\r\n", "Keep-Alive-X: timeout=9\r\n", "Keep-Alive: timeout=9\r\n"]
        : ["Connection: keep-alive\r\n", "Keep-Alive-X: timeout=9\r\n"],
    );
    expect(await sendOne()).toBe(200);
    await sleep(600);
    expect(await sendOne()).toBe(200); // reused: the first response allowed 7 s
    await sleep(600);
    expect(await sendOne()).toBe(200); // the second said nothing: 300 ms, a new connection
    expect(server.requests.map((request) => request.connection)).toEqual([0, 0, 1]);
  });
});

describe("response framing", () => {
  it("content-length, head and body split across TCP writes: three responses on one connection", async () => {
    const server = await wireServer(async ({ socket, index }) => {
      const response = ok("hello world", "content-type: text/plain\r\n");
      if (index === 0) {
        await writeSlowly(
          socket,
          cut(response, [20, response.indexOf("\r\n\r\n") + 1, response.length - 5]),
          15,
        );
      } else if (index === 1) {
        await writeSlowly(
          socket,
          [response.slice(0, response.indexOf("\r\n\r\n") + 4), "hello", " world"],
          15,
        );
      } else {
        socket.write(response);
      }
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200]);
    expect(results.map(textOf)).toEqual(["hello world", "hello world", "hello world"]);
    expect(server.connections).toBe(1);
    expect(client.stats.opened).toBe(1);
  });

  it("chunked: several chunks and a trailer, split at awkward bytes, then byte by byte; the connection stays usable", async () => {
    const alphabet = "abcdefghijklmnopqrstuvwxyz";
    const response =
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n" +
      `5\r\nhello\r\n1a\r\n${alphabet}\r\n1\r\n!\r\n0\r\nx-checksum: 42\r\n\r\n`;
    const offsets = [
      response.indexOf("encoding") + 3, // inside a header name
      response.indexOf("\r\n\r\n") + 1, // between CR and LF of the blank line
      response.indexOf("1a\r\n") + 1, // inside a two-digit chunk size
      response.indexOf("1a\r\n") + 3, // between the size's CR and LF
      response.indexOf("klm"), // inside chunk data
      response.indexOf("z\r\n") + 2, // between the chunk's CR and LF
      response.indexOf("0\r\nx-") + 3, // after the last chunk, before the trailer
      response.length - 1, // before the very last LF
    ];
    const server = await wireServer(async ({ socket, index }) => {
      if (index === 0) await writeSlowly(socket, cut(response, offsets), 15);
      else if (index === 1) await writeSlowly(socket, [...response], 1);
      else socket.write(response);
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200]);
    const expected = `hello${alphabet}!`;
    expect(results.map(textOf)).toEqual([expected, expected, expected]);
    expect(server.connections).toBe(1);
  });

  it("a body delimited by the end of the connection (HTTP/1.1 without length, and HTTP/1.0)", async () => {
    const server = await wireServer(async ({ socket, index }) => {
      const head =
        index === 0 ? "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n" : "HTTP/1.0 200 OK\r\n\r\n";
      await writeSlowly(socket, [head, "first part, ", "second part"], 15);
      socket.end();
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, 200]);
    expect(results.map(textOf)).toEqual(["first part, second part", "first part, second part"]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1]);
    expect(client.transportSummary().connections).toMatchObject({ opened: 2, failed: 0 });
  });

  it("204 and 304 (with a content-length) carry no body; the next response on the connection is intact", async () => {
    const server = await wireServer(({ socket, index }) => {
      if (index === 0) socket.write("HTTP/1.1 204 No Content\r\n\r\n");
      else if (index === 1)
        socket.write('HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 50\r\n\r\n');
      else socket.write(ok(`after ${index}`));
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([204, 304, 200]);
    expect(results.map(textOf)).toEqual([null, null, "after 2"]);
    expect(server.connections).toBe(1);
  });

  it("HEAD: a content-length but no body, then a GET on the same connection", async () => {
    const server = await wireServer(({ socket, request, index }) => {
      if (request.requestLine.startsWith("HEAD ")) {
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1234\r\n\r\n");
      } else {
        socket.write(ok(`get ${index}`));
      }
    });
    const client = transport(server.url);
    const head: PreparedRequest = { method: "HEAD", path: "/doc", headers: [], body: undefined };
    const results = await sendInOrder(client, [head, get("/doc"), head, get("/doc")]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200, 200]);
    expect(results.map(textOf)).toEqual([null, "get 1", null, "get 3"]);
    expect(server.requests[0]?.raw.toString("latin1")).toBe(
      `HEAD /doc HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\nconnection: keep-alive\r\n\r\n`,
    );
    expect(server.connections).toBe(1);
  });

  it("interim 100 Continue and 103 Early Hints are skipped: 200 and its body are delivered", async () => {
    const interim =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n";
    const server = await wireServer(async ({ socket, index }) => {
      if (index === 0) {
        await writeSlowly(
          socket,
          [
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n",
            ok("final body"),
          ],
          15,
        );
      } else {
        socket.write(interim + ok(`final ${index}`));
      }
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200]);
    expect(results.map(textOf)).toEqual(["final body", "final 1", "final 2"]);
    expect(server.connections).toBe(1);
    // Interim responses are not responses: three on the one connection.
    expect(client.transportSummary().connections.requestsPerConnection).toEqual({ mean: 3, max: 3 });
  });
});

describe("the server ends the connection", () => {
  it("connection: close in a response: the next request opens a new connection, even if the socket stays open", async () => {
    // The server keeps its side open: only the client honouring the header moves requests on.
    const server = await wireServer(
      ({ socket, index }) => void socket.write(ok(`r${index}`, "connection: close\r\n")),
    );
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(textOf)).toEqual(["r0", "r1", "r2"]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2]);
    await waitFor(() => server.closed === 3, "the client to close the connections");
    expect(client.transportSummary().connections).toMatchObject({ opened: 3, failed: 0 });
  });

  it("HTTP/1.0 without keep-alive is one response per connection; HTTP/1.0 with keep-alive is reused", async () => {
    const server = await wireServer(({ socket, request }) => {
      if (request.requestLine.startsWith("GET /ka ")) {
        socket.write("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nka");
      } else {
        socket.write("HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nold");
      }
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [
      get("/old"),
      get("/old"),
      get("/ka"),
      get("/ka"),
      get("/old"),
    ]);
    expect(results.map(textOf)).toEqual(["old", "old", "ka", "ka", "old"]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2, 2, 2]);
    expect(client.stats.opened).toBe(3);
    // Counted as what the server spoke, not what was offered.
    expect(client.transportSummary()).toMatchObject({
      protocol: "http/1.0",
      connections: { byProtocol: { "http/1.0": 3 } },
    });
  });

  it("a node:http server closing after each response: every request succeeds on a new connection", async () => {
    const server = await httpServer((_request, _body, response) => {
      response.setHeader("connection", "close");
      allowEverything(_request, _body, response);
    });
    const client = transport(server.url);
    const outcomes = await sendMany(client, 5, 1);
    expect(outcomes.map(outcomeOf)).toEqual([200, 200, 200, 200, 200]);
    expect(server.connections).toBe(5);
    expect(client.transportSummary().connections).toMatchObject({ opened: 5, failed: 0 });
  });

  it("the server closes an idle keep-alive connection: the next request reconnects, no error", async () => {
    const server = await wireServer(({ socket, index }) => {
      socket.write(ok(`r${index}`));
      setTimeout(() => socket.end(), 30);
    });
    const client = transport(server.url);
    const results: Result[] = [];
    for (let round = 0; round < 3; round++) {
      results.push(...(await sendInOrder(client, [get()])));
      // `closed` counts a server socket once the client has closed its side too: the client saw the FIN.
      await waitFor(() => server.closed === round + 1, `the idle connection ${round} to close`);
    }
    expect(results.map(outcomeOf)).toEqual([200, 200, 200]);
    expect(results.map(textOf)).toEqual(["r0", "r1", "r2"]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2]);
    expect(client.transportSummary().connections).toMatchObject({ opened: 3, failed: 0 });
  });
});

describe("the server closes a reused idle connection as a request arrives (retried once)", () => {
  /**
   * Deterministic version of the idle-close race (nginx `keepalive_timeout`): the server answers
   * the first request on a connection, and closes the connection when the second one arrives on
   * it, without reading or answering it. That request was not processed: it is sent again on a
   * new connection, and counted in `retried`, not as an error.
   */
  async function closingOnReuse(close: (socket: Socket) => void) {
    const server = await wireServer(({ socket, request, index }) => {
      if (request.onConnection === 1) close(socket);
      else socket.write(ok(`r${index}`));
    });
    return server;
  }

  it.each([
    ["a FIN (socket.end)", (socket: Socket) => void socket.end()],
    ["a reset (RST)", (socket: Socket) => void socket.resetAndDestroy()],
  ])("closed with %s: every request succeeds, one retry per close, no error", async (_name, close) => {
    const server = await closingOnReuse(close);
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200, 200]);
    // Every request after the first reached a reused connection that then closed, and went
    // again as the first request of a new one.
    expect(server.requests.map((request) => [request.connection, request.onConnection])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [2, 0],
      [2, 1],
      [3, 0],
    ]);
    expect(client.transportSummary()).toMatchObject({
      retried: { total: 3, byReason: { idle_close: 3 } },
      connections: { opened: 4, failed: 0 },
    });
  });

  it("--threads: the threads' retries and HTTP/1.0 connections are summed in the merged summary", async () => {
    const closing = await closingOnReuse((socket) => void socket.end());
    const old = await wireServer(
      ({ socket }) => void socket.end("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"),
    );
    const parts = [];
    for (const [server, count] of [
      [closing, 3],
      [closing, 4],
      [old, 2],
    ] as const) {
      const client = transport(server.url);
      expect((await sendMany(client, count, 1, get())).map(outcomeOf)).toEqual(Array(count).fill(200));
      parts.push({ summary: client.transportSummary(), connections: client.connectionState() });
    }
    const merged = mergeTransportSummaries(parts);
    expect(merged.retried).toEqual({ total: 5, byReason: { idle_close: 5 } });
    expect(merged.protocol).toBe("mixed");
    expect(merged.connections.byProtocol).toEqual({ "http/1.1": 7, "http/1.0": 2 });
  });

  it("a POST is sent again too: the server closed the reused connection without a byte of response", async () => {
    const server = await closingOnReuse((socket) => void socket.end());
    const client = transport(server.url);
    const outcomes = await sendMany(client, 2, 1, POST);
    expect(outcomes.map(outcomeOf)).toEqual([200, 200]);
    expect(server.requests.map((request) => request.body.toString())).toEqual([
      '{"prompt":"hello"}',
      '{"prompt":"hello"}',
      '{"prompt":"hello"}',
    ]);
    expect(client.transportSummary().retried).toEqual({ total: 1, byReason: { idle_close: 1 } });
  });

  it("the retry keeps the request's deadline: the reconnect is part of its time", async () => {
    // The retried request's new connection is answered only after the deadline of the first send.
    const server = await wireServer(async ({ socket, request, index }) => {
      if (request.onConnection === 1) {
        socket.end();
        return;
      }
      if (request.connection === 1) await sleep(700);
      socket.write(ok(`r${index}`));
    });
    const client = transport(server.url, {}, 1, 500);
    const results = await sendInOrder(client, [get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, "timeout.headers"]);
    expect(client.transportSummary().retried.total).toBe(1);
  });

  it("the preflight probe's connection, idle until the run's first request, counts as reused: retried once", async () => {
    // The probe's connection (the run's first) is closed by the server as the first request
    // arrives on it: the same idle-close race. The server answers on any other connection.
    const server = await wireServer(({ socket, request, index }) => {
      if (request.connection === 0) socket.end();
      else socket.write(ok(`r${index}`));
    });
    const client = transport(server.url);
    expect(await client.probe()).toMatchObject({ ok: true, protocol: "http/1.1" });
    const results = await sendInOrder(client, [get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, 200]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 1]);
    expect(client.transportSummary()).toMatchObject({
      retried: { total: 1, byReason: { idle_close: 1 } },
      connections: { opened: 2, failed: 0 },
    });
  });

  it("a fresh connection that closes before answering is an error, never retried", async () => {
    const server = await wireServer(({ socket }) => void socket.end());
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get()]);
    expect(results.map(outcomeOf)).toEqual(["reset.closed", "reset.closed"]);
    expect(analyzeTransportError(results[0]?.error).reason).toBe(
      "reset: the server closed the connection before answering",
    );
    expect(server.requests).toHaveLength(2);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("retried once only: the retry's fresh connection closing too is an error", async () => {
    const server = await wireServer(({ socket, request, index }) => {
      if (index === 0) socket.write(ok("r0"));
      else if (request.onConnection === 1 || request.connection === 1) socket.end();
      else socket.write(ok(`r${index}`));
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, "reset.closed", 200]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 0, 1, 2]);
    expect(client.transportSummary().retried.total).toBe(1);
  });

  it("a reused connection that closes after part of a response head is an error, never retried", async () => {
    const server = await wireServer(async ({ socket, request, index }) => {
      if (request.onConnection === 1) {
        socket.write("HTTP/1.1 200 O");
        await sleep(20);
        socket.end();
      } else {
        socket.write(ok(`r${index}`));
      }
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual([200, "reset.closed", 200]);
    expect(analyzeTransportError(results[1]?.error).reason).toBe(
      "reset: the server closed the connection in the middle of a response head",
    );
    expect(server.requests).toHaveLength(3);
    expect(client.transportSummary().retried.total).toBe(0);
  });

  it("learns the server's idle timeout from the closes it sees, without a Keep-Alive hint", async () => {
    // The server closes a connection idle for 400 ms and says nothing about it. Once it has seen
    // that, the client retires its idle connections a quarter earlier (after 300 ms) instead of
    // reusing them until the default 4 s: a request after 340 ms idle takes a new connection.
    const idleTimeoutMs = 400;
    const server = await wireServer(({ socket, index }) => {
      socket.write(ok(`r${index}`));
      const timer = setTimeout(() => socket.end(), idleTimeoutMs);
      socket.once("data", () => clearTimeout(timer));
    });
    const client = transport(server.url);
    const first = await sendInOrder(client, [get()]);
    await waitFor(() => server.closed === 1, "the server's idle close");
    const second = await sendInOrder(client, [get()]);
    await sleep(340);
    const third = await sendInOrder(client, [get()]);
    expect([...first, ...second, ...third].map(outcomeOf)).toEqual([200, 200, 200]);
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2]);
    expect(client.transportSummary().retried.total).toBe(0);
  });
});

describe("failures", () => {
  it("the server closes in the middle of a body: protocol.truncated_body; the next request gets a new connection", async () => {
    const server = await wireServer(async ({ socket, index }) => {
      if (index === 0) {
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial");
        await sleep(20);
        socket.end();
      } else if (index === 1) {
        socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel");
        await sleep(20);
        socket.destroy();
      } else {
        socket.write(ok(`r${index}`));
      }
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    // A content-length longer than the body, then a close; a chunked body cut short.
    expect(results.map(outcomeOf)).toEqual(["protocol.truncated_body", "protocol.truncated_body", 200]);
    expect(analyzeTransportError(results[0]?.error).reason).toBe(
      "protocol: the server closed the connection after 7 body bytes, before the end of the body its headers announced",
    );
    expect(results[0]?.status).toBe(200); // the status had arrived; the response did not end
    // Never sent again: the server had processed it.
    expect(client.transportSummary().retried.total).toBe(0);
    expect(textOf(results[2] as Result)).toBe("r2");
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2]);
  });

  it("garbage instead of a response: kind protocol (an llhttp HPE_ code); the next request gets a new connection", async () => {
    const server = await wireServer(({ socket, index }) => {
      if (index === 0) socket.write("NOT HTTP AT ALL\r\n\r\n");
      else if (index === 1) socket.write("HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n");
      else socket.write(ok(`r${index}`));
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get(), get(), get()]);
    expect(results.map(outcomeOf)).toEqual(["protocol.http1_parse", "protocol.http1_parse", 200]);
    for (const result of results.slice(0, 2)) {
      expect((result.error as Error & { code?: string }).code).toMatch(/^HPE_/);
      expect(analyzeTransportError(result.error).kind).toBe("protocol");
    }
    expect(textOf(results[2] as Result)).toBe("r2");
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 2]);
  });

  it.each([
    ["a whole response", ok("unsolicited")],
    ["half a response", "HTTP/1.1 408 Request Time"],
    ["garbage", "\u0000\u0001junk"],
  ])(
    "unsolicited bytes on an idle connection (%s): it is dropped, later requests reconnect",
    async (_name, stray) => {
      const sockets: Socket[] = [];
      const server = await wireServer(({ socket, index }) => {
        sockets.push(socket);
        socket.write(ok(`r${index}`));
      });
      const client = transport(server.url);
      const first = await sendInOrder(client, [get()]);
      // Written once the client has the first response, so the two never share a read.
      sockets[0]?.write(stray);
      // The server keeps its side open: only the client can close it, on reading the stray bytes.
      await waitFor(() => server.closed === 1, "the client to drop the connection");
      const later = await sendInOrder(client, [get(), get(), get()]);
      expect([...first, ...later].map(outcomeOf)).toEqual([200, 200, 200, 200]);
      expect([...first, ...later].map(textOf)).toEqual(["r0", "r1", "r2", "r3"]);
      expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 1, 1]);
      expect(client.transportSummary().connections).toMatchObject({ opened: 2, failed: 0 });
    },
  );

  it("a second response in the same read as the first is not taken as the answer to the request sent from the first one's callback", async () => {
    const server = await wireServer(({ socket, index }) => {
      // One write: the answer, then a response nobody asked for, which arrive in one read.
      if (index === 0) socket.write(ok("r0") + ok("stray"));
      else socket.write(ok(`r${index}`));
    });
    const client = transport(server.url);
    const results: Result[] = [];
    await new Promise<void>((resolve) => {
      const sendNext = (): void =>
        client.send(get(), (error, status, body) => {
          results.push({ error, status, body });
          // A closed loop: the next request leaves from inside the callback, as the scheduler does.
          if (results.length < 3) sendNext();
          else resolve();
        });
      sendNext();
    });
    expect(results.map(textOf)).not.toContain("stray");
    expect(textOf(results[0] as Result)).toBe("r0");
    // The request caught on the connection that spoke out of turn fails as a protocol error; the next one reconnects.
    expect(results.slice(1).map(outcomeOf)).toEqual(["protocol.http1_parse", 200]);
    expect(String(results[1]?.error?.message)).toContain("answers no request");
    expect(textOf(results[2] as Result)).toBe("r2");
  });

  it("--timeout during the body: LoadTestTimeoutError phase body; the connection is not reused", async () => {
    const server = await wireServer(({ socket, index }) => {
      if (index === 0)
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial"); // never ends
      else socket.write(ok(`r${index}`));
    });
    const client = transport(server.url, {}, 1, 1_000);
    const results = await sendInOrder(client, [get(), get(), get()]);
    const error = results[0]?.error;
    expect(error).toBeInstanceOf(LoadTestTimeoutError);
    expect((error as LoadTestTimeoutError).phase).toBe("body");
    expect(results.map(outcomeOf)).toEqual(["timeout.body", 200, 200]);
    expect(results.slice(1).map(textOf)).toEqual(["r1", "r2"]);
    // The late rest of the first body could still arrive: the request after it went elsewhere.
    expect(server.requests.map((request) => request.connection)).toEqual([0, 1, 1]);
    await waitFor(() => server.closed >= 1, "the client to close the timed-out connection");
    expect(client.stats.opened).toBe(2);
    expect(client.inFlightCount).toBe(0);
  });
});

describe("bodies", () => {
  it("a 1 MiB body is read to its end, the callback keeps only the first ≥ 64 KiB; smaller bodies whole", async () => {
    const big = Buffer.alloc(1024 * 1024);
    for (let index = 0; index < big.length; index++) big[index] = (index * 7 + (index >> 10)) & 0xff;
    const small = big.subarray(0, 60_000);
    const server = await httpServer((request, _body, response) => {
      const body = request.url === "/big" ? big : small;
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      response.end(body);
    });
    const client = transport(server.url);
    const results = await sendInOrder(client, [get("/big"), get("/small"), get("/big")]);
    expect(results.map(outcomeOf)).toEqual([200, 200, 200]);
    for (const result of [results[0], results[2]] as Result[]) {
      const kept = result.body as Buffer;
      // http.ts keeps chunks until 64 KiB are kept: at least 64 KiB, at most one socket read (64 KiB) more.
      expect(kept.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(kept.length).toBeLessThan(128 * 1024);
      expect(kept.equals(big.subarray(0, kept.length))).toBe(true);
    }
    expect((results[1] as Result).body?.equals(small)).toBe(true);
    // Every byte was consumed: the connection carried the next responses.
    expect(server.connections).toBe(1);
    expect(client.transportSummary().connections.requestsPerConnection).toEqual({ mean: 3, max: 3 });
  });
});

describe("invalid header values are refused, never written", () => {
  const request = (headers: string[]): PreparedRequest => ({
    method: "GET",
    path: "/",
    headers,
    body: undefined,
  });

  it("the encoder throws on CR, LF or NUL in a value or a name, and on framing headers", () => {
    const encoder = new Http1RequestEncoder("127.0.0.1:8080");
    for (const value of ["a\r\nx-injected: 1", "a\nb", "a\rb", "a\u0000b", "\r\n"]) {
      expect(() => encoder.encode(request(["x-a", value]), false)).toThrow(/invalid request header/);
      expect(() => encoder.encode(request(["x-a", value]), true)).toThrow(/invalid request header/);
    }
    expect(() => encoder.encode(request(["x-a\r\nx-injected", "1"]), false)).toThrow(
      /invalid request header/,
    );
    expect(() => encoder.encode(request(["Content-Length", "5"]), false)).toThrow(/invalid request header/);
    // Other controls and characters beyond Latin-1 in a value, as undici refuses them.
    for (const value of ["a\u0007b", "a\u007fb", "price: 5€"]) {
      expect(() => encoder.encode(request(["x-a", value]), false)).toThrow(/invalid request header/);
    }
    // The request line: a method must be a token, a path has no spaces or controls.
    const line = (method: string, path: string): PreparedRequest => ({ ...request([]), method, path });
    expect(() => encoder.encode(line("GET /x HTTP/1.1\r\nX:", "/"), false)).toThrow(/invalid request method/);
    for (const path of ["/a b", "/a\r\nx: 1", "/\u0000", "/€", ""]) {
      expect(() => encoder.encode(line("GET", path), false)).toThrow(/invalid request path/);
    }
    // Latin-1 (obs-text) and tabs stay allowed, as undici allows them.
    expect(() => encoder.encode(line("GET", "/caf\u00e9?q=1"), false)).not.toThrow();
    expect(() => encoder.encode(request(["x-a", "caf\u00e9\tb"]), false)).not.toThrow();
    // Control: a valid value encodes.
    expect(encoder.encode(request(["x-a", "b c"]), false).toString("latin1")).toBe(
      "GET / HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-a: b c\r\nconnection: keep-alive\r\n\r\n",
    );
  });

  it("through the transport: the request fails at once and nothing reaches the server", async () => {
    const server = await wireServer(({ socket, index }) => void socket.write(ok(`r${index}`)));
    const client = transport(server.url);
    const results = await sendInOrder(client, [
      request(["x-a", "a\r\nx-injected: 1"]),
      request(["x-b", "b\nc"]),
      request(["x-ok", "fine"]),
    ]);
    expect(results[0]?.error?.message).toMatch(/invalid request header/);
    expect(results[1]?.error?.message).toMatch(/invalid request header/);
    // Named as ours: the request never went through undici.
    expect(analyzeTransportError(results[0]?.error)).toMatchObject({
      key: "other.invalid_request",
      reason: 'other: invalid request header "x-a"',
    });
    expect(outcomeOf(results[2] as Result)).toBe(200);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.raw.toString("latin1")).not.toMatch(/injected|x-b/);
    expect(server.requests[0]?.headers).toContainEqual(["x-ok", "fine"]);
    expect(client.inFlightCount).toBe(0);
  });
});
