import { connect, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HTTP_SERVER_KINDS, startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { createLeanServer, type LeanServer } from "../../src/gateway/lean-http.js";

/**
 * The wire protocol of the gateway's two HTTP servers, byte for byte over raw sockets: what both
 * must do alike (pipelining, chunked bodies, 100-continue, 413, 400, HTTP/1.0), that the lean one
 * answers exactly what node:http answers, and the lean server's timeouts.
 */

const AUTH = "Authorization: Bearer demo-org\r\n";
const ALLOWED = JSON.stringify({ prompt: "What is 2+2?" });
const BLOCKED = JSON.stringify({ prompt: "admin' OR 1=1 --" });

function post(body: string, extra = "", path = "/v1/execute"): string {
  return `POST ${path} HTTP/1.1\r\nHost: gw\r\n${AUTH}${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** A raw client connection: everything it read, and whether the server closed it. */
class Wire {
  text = "";
  closed = false;
  private waiters: Array<() => void> = [];
  private constructor(readonly socket: Socket) {
    socket.on("data", (data: Buffer) => {
      this.text += data.toString("latin1");
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new Wire(socket)));
      socket.setNoDelay(true);
      socket.once("error", reject);
    });
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Waits until `done` holds (checked on every read and on close), at most `timeoutMs`. */
  async until(done: (wire: Wire) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done(this)) {
      const left = deadline - performance.now();
      if (left <= 0 || this.closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The responses read so far (complete ones; Content-Length bodies, or none). */
  responses(): Array<{ status: number; head: string; body: string }> {
    const out = [];
    let at = 0;
    for (let guard = 0; guard < 1000; guard++) {
      const end = this.text.indexOf("\r\n\r\n", at);
      if (end === -1) break;
      const head = this.text.slice(at, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const chunked = /\r\ntransfer-encoding: chunked/i.test(head);
      const bodyEnd = chunked ? this.text.indexOf("0\r\n\r\n", end + 4) + 5 : end + 4 + length;
      if (bodyEnd > this.text.length || bodyEnd < end) break;
      out.push({ status: Number(head.slice(9, 12)), head, body: this.text.slice(end + 4, bodyEnd) });
      at = bodyEnd;
    }
    return out;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

const wires: Wire[] = [];
afterEach(() => {
  for (const wire of wires.splice(0)) wire.destroy();
});
async function open(port: number): Promise<Wire> {
  const wire = await Wire.open(port);
  wires.push(wire);
  return wire;
}

describe.each(HTTP_SERVER_KINDS)("gateway on the %s HTTP server, on the wire", (httpServer) => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ httpServer, maxBodyBytes: 1024, llmLatencyMs: { min: 30, max: 40 } });
  });
  afterAll(async () => {
    await gw.close();
  });

  it("answers pipelined requests in order, a slow (LLM) one before the quick ones behind it", async () => {
    const wire = await open(gw.port);
    const llm = JSON.stringify({ prompt: "Write a haiku", mode: "llm" });
    wire.write(post(llm) + post(BLOCKED) + "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n" + post(ALLOWED));
    await wire.until((w) => w.responses().length === 4);
    const responses = wire.responses();
    expect(responses.map((r) => r.status)).toEqual([200, 403, 200, 200]);
    expect(JSON.parse(responses[0]!.body)).toMatchObject({ provider: "mock" });
    expect(JSON.parse(responses[1]!.body)).toMatchObject({ blocked: true });
    expect(JSON.parse(responses[2]!.body)).toMatchObject({ status: "ok" });
    expect(JSON.parse(responses[3]!.body)).toMatchObject({ success: true, blocked: false });
    expect(wire.closed).toBe(false);
  });

  it("reads a chunked body split across writes, with a chunk extension and a trailer", async () => {
    const wire = await open(gw.port);
    const body = Buffer.from(BLOCKED);
    wire.write(`POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n`);
    wire.write(`5;note=x\r\n${body.subarray(0, 5).toString()}\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    wire.write(`${(body.length - 5).toString(16)}\r\n${body.subarray(5).toString()}\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    wire.write("0\r\nX-Trailer: t\r\n\r\n");
    await wire.until((w) => w.responses().length === 1);
    expect(wire.responses()[0]!.status).toBe(403);
    expect(wire.closed).toBe(false);
  });

  it("sends 100 Continue only after auth and the declared size pass, then reads the body", async () => {
    const wire = await open(gw.port);
    const length = Buffer.byteLength(ALLOWED);
    wire.write(
      `POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Expect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`,
    );
    await wire.until((w) => w.text.length > 0);
    expect(wire.text).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    wire.text = "";
    wire.write(ALLOWED);
    await wire.until((w) => w.responses().length === 1);
    expect(wire.responses()[0]!.status).toBe(200);

    const refused = await open(gw.port);
    refused.write(
      `POST /v1/execute HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`,
    );
    await refused.until((w) => w.closed);
    expect(refused.text).not.toContain("100 Continue");
    expect(refused.responses().map((r) => r.status)).toEqual([401]);
    expect(refused.responses()[0]!.head).toContain("\r\nconnection: close");
  });

  it("answers 413 to a declared oversized body and closes, and the client reads it while still sending", async () => {
    const wire = await open(gw.port);
    wire.write(`POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Content-Length: 200000\r\n\r\n`);
    // Keep sending after the answer: a lingering close (RFC 9112 §9.6) lets the answer be read.
    for (let i = 0; i < 20 && !wire.closed; i++) {
      wire.write("x".repeat(10_000));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await wire.until((w) => w.closed);
    expect(wire.responses().map((r) => r.status)).toEqual([413]);
    expect(JSON.parse(wire.responses()[0]!.body)).toMatchObject({ code: "payload_too_large" });
  });

  it("answers 413 when a chunked body runs over, and closes", async () => {
    const wire = await open(gw.port);
    wire.write(`POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n`);
    for (let i = 0; i < 3; i++) wire.write(`200\r\n${"y".repeat(512)}\r\n`);
    await wire.until((w) => w.closed);
    expect(wire.responses().map((r) => r.status)).toEqual([413]);
  });

  it.each([
    ["garbage", "garbage\r\n\r\n", 400],
    [
      "an invalid chunk size",
      `POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\nzz\r\n`,
      400,
    ],
    [
      "Content-Length with chunked",
      `POST /v1/execute HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n`,
      400,
    ],
    ["an oversized head", `GET /health HTTP/1.1\r\nHost: gw\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
  ])("answers %s with node's bare %i and closes", async (_what, request, status) => {
    const wire = await open(gw.port);
    wire.write(request);
    await wire.until((w) => w.closed);
    const reason = status === 400 ? "Bad Request" : "Request Header Fields Too Large";
    expect(wire.text).toBe(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n\r\n`);
    expect(wire.closed).toBe(true);
  });

  it("answers an HTTP/1.1 request without Host with 400 and closes (RFC 9112 §3.2)", async () => {
    const wire = await open(gw.port);
    wire.write("GET /health HTTP/1.1\r\n\r\n");
    await wire.until((w) => w.closed);
    expect(wire.responses().map((r) => r.status)).toEqual([400]);
  });

  it("closes after an HTTP/1.0 request, unless it asked for keep-alive", async () => {
    const once = await open(gw.port);
    once.write("GET /health HTTP/1.0\r\n\r\n");
    await once.until((w) => w.closed);
    expect(once.responses().map((r) => r.status)).toEqual([200]);
    expect(once.responses()[0]!.head).toContain("\r\nConnection: close");

    const kept = await open(gw.port);
    kept.write("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await kept.until((w) => w.responses().length === 1);
    expect(kept.responses()[0]!.head).toContain("\r\nConnection: keep-alive\r\nKeep-Alive: timeout=65");
    kept.write("GET /health HTTP/1.0\r\n\r\n");
    await kept.until((w) => w.closed);
    expect(kept.responses().map((r) => r.status)).toEqual([200, 200]);
  });

  it("answers a request with Connection: close, then closes", async () => {
    const wire = await open(gw.port);
    wire.write("GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    await wire.until((w) => w.closed);
    expect(wire.responses().map((r) => r.status)).toEqual([200]);
    expect(wire.responses()[0]!.head).toContain("\r\nConnection: close");
  });

  it("when the client half-closes, abandons what is still unanswered (as node:http does) and closes", async () => {
    const wire = await open(gw.port);
    wire.write(
      "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n" + post(JSON.stringify({ prompt: "hi", mode: "llm" })),
    );
    wire.socket.end();
    await wire.until((w) => w.closed);
    expect(wire.responses().map((r) => r.status)).toEqual([200]);
    for (let i = 0; i < 100 && gw.stats().inFlight > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gw.stats().inFlight).toBe(0);
  });

  it("answers HEAD with the GET fields and no body", async () => {
    const wire = await open(gw.port);
    wire.write("HEAD /health HTTP/1.1\r\nHost: gw\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: gw\r\n\r\n");
    await wire.until((w) => /HTTP\/1\.1 404[^]*\r\n\r\n\{[^]*\}$/.test(w.text));
    const [head, next] = wire.text.split(/(?=HTTP\/1\.1 404)/);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*content-length: \d+\r\n[^]*\r\n\r\n$/);
    expect(next).toMatch(/^HTTP\/1\.1 404 /);
  });

  it("answers an unknown expectation with 417 (RFC 9110 §10.1.1)", async () => {
    const wire = await open(gw.port);
    wire.write("GET /health HTTP/1.1\r\nHost: gw\r\nExpect: teapot\r\n\r\n");
    await wire.until((w) => w.responses().length === 1);
    expect(wire.responses()[0]!.status).toBe(417);
  });

  it("after all of the above, counts nothing still in flight (every request answered or abandoned)", async () => {
    for (let i = 0; i < 200 && gw.stats().inFlight > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gw.stats().inFlight).toBe(0);
  });
});

describe("the lean server answers exactly what node:http answers", () => {
  const normalise = (text: string): string =>
    text
      .replace(/Date: [^\r]+/g, "Date: <date>")
      .replace(/"processing_time_ms":[0-9.e-]+/g, '"processing_time_ms":0')
      .replace(/"uptime_s":\d+/g, '"uptime_s":0')
      .replace(/"provider_latency_ms":[0-9.e-]+/g, '"provider_latency_ms":0')
      // The same gateway code computes it for both; it varies with the timings above.
      .replace(/content-length: \d+/g, "content-length: N");

  const requests: Array<[string, string]> = [
    ["allowed", post(ALLOWED)],
    ["blocked", post(BLOCKED)],
    ["logged", post(JSON.stringify({ prompt: "Mail jane.doe@example.com" }))],
    ["llm", post(JSON.stringify({ prompt: "hi", mode: "llm" }))],
    ["bad JSON", post("{nope")],
    ["bad mode", post(JSON.stringify({ prompt: "hi", mode: "x" }))],
    ["no auth", `POST /v1/execute HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n{}`],
    [
      "no auth, expecting 100",
      `POST /v1/execute HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n`,
    ],
    ["too large", `POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Content-Length: 5000\r\n\r\n`],
    ["GET execute", "GET /v1/execute HTTP/1.1\r\nHost: gw\r\n\r\n"],
    ["POST health", "POST /health HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n"],
    ["health", "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"],
    ["HEAD health", "HEAD /health HTTP/1.1\r\nHost: gw\r\n\r\n"],
    ["404", "GET /x?y HTTP/1.1\r\nHost: gw\r\n\r\n"],
    ["HTTP/1.0", "GET /health HTTP/1.0\r\n\r\n"],
    ["HTTP/1.0 keep-alive", "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    ["close", "GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"],
    ["no Host", "GET /health HTTP/1.1\r\n\r\n"],
    ["unknown Expect", "GET /health HTTP/1.1\r\nHost: gw\r\nExpect: x\r\n\r\n"],
    ["Upgrade ignored", "GET /health HTTP/1.1\r\nHost: gw\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"],
    ["garbage", "garbage\r\n\r\n"],
    [
      "chunked 413",
      `POST /v1/execute HTTP/1.1\r\nHost: gw\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n800\r\n${"z".repeat(2048)}\r\n`,
    ],
  ];

  it("for every kind of request the gateway gets (Date and timings aside)", async () => {
    const answers: Record<string, string[]> = {};
    for (const httpServer of HTTP_SERVER_KINDS) {
      const gw = await startGateway({ httpServer, maxBodyBytes: 1024, llmLatencyMs: { min: 1, max: 2 } });
      try {
        answers[httpServer] = [];
        for (const [, request] of requests) {
          const wire = await open(gw.port);
          wire.write(request);
          // A head (HEAD has no body), then a short wait for the body and to see whether the server closes.
          await wire.until((w) => w.text.includes("\r\n\r\n"));
          await wire.until((w) => w.closed, 150);
          answers[httpServer].push(normalise(wire.text) + (wire.closed ? "<closed>" : "<open>"));
          wire.destroy();
        }
      } finally {
        await gw.close();
      }
    }
    for (const [index, [name]] of requests.entries()) {
      expect({ name, answer: answers.lean![index] }).toEqual({ name, answer: answers.node![index] });
    }
  });
});

describe("lean server timeouts and shutdown", () => {
  let server: LeanServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function lean(options: {
    keepAliveTimeoutMs?: number;
    headersTimeoutMs?: number;
    requestTimeoutMs?: number;
  }) {
    server = createLeanServer(
      {
        keepHeaders: [],
        keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 65_000,
        headersTimeoutMs: options.headersTimeoutMs ?? 66_000,
        requestTimeoutMs: options.requestTimeoutMs,
      },
      (exchange) => exchange.respond(200, ["content-length", "2"], "ok"),
    );
    return (await server.listen(0, "127.0.0.1")).port;
  }

  it("closes a keep-alive connection idle for keepAliveTimeoutMs, not one in use", async () => {
    const port = await lean({ keepAliveTimeoutMs: 1000 });
    const idle = await open(port);
    const busy = await open(port);
    idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const started = performance.now();
    // The busy one sends a request every 100 ms: never idle for a second.
    for (let i = 0; i < 15; i++) {
      busy.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await idle.until((w) => w.closed, 5_000);
    expect(idle.closed).toBe(true);
    expect(idle.responses()).toHaveLength(1);
    expect(idle.responses()[0]!.head).toContain("Keep-Alive: timeout=1");
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    await busy.until((w) => w.responses().length === 15);
    expect(busy.closed).toBe(false);
  });

  it("answers 408 and closes when a head does not complete within headersTimeoutMs", async () => {
    const port = await lean({ headersTimeoutMs: 300 });
    const wire = await open(port);
    const started = performance.now();
    wire.write("GET / HTTP/1.1\r\nHost: x\r\n");
    await wire.until((w) => w.closed, 5_000);
    expect(wire.text).toBe("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("answers 408 when a body does not complete within requestTimeoutMs", async () => {
    const port = await lean({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const wire = await open(port);
    wire.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    await wire.until((w) => w.closed, 5_000);
    expect(wire.text).toContain("HTTP/1.1 408 Request Timeout\r\n");
  });

  it("closes promptly with busy and idle connections; close() is idempotent", async () => {
    const port = await lean({});
    const idle = await open(port);
    idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await idle.until((w) => w.responses().length === 1);
    const partial = await open(port);
    partial.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server!.connectionCount()).toBe(2);
    const started = performance.now();
    await Promise.all([server!.close(), server!.close()]);
    expect(performance.now() - started).toBeLessThan(1000);
    await idle.until((w) => w.closed, 2_000);
    await partial.until((w) => w.closed, 2_000);
    expect([idle.closed, partial.closed, server!.connectionCount()]).toEqual([true, true, 0]);
  });

  it("stops reading from a client that pipelines without reading, and resumes when it reads", async () => {
    const port = await lean({});
    const wire = await open(port);
    wire.socket.pause();
    const request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    // 40,000 requests in 1.1 MB; the answers (~100 B each) outgrow the socket buffers.
    const batch = request.repeat(1000);
    for (let i = 0; i < 40; i++) wire.write(batch);
    await new Promise((resolve) => setTimeout(resolve, 200));
    wire.socket.resume();
    await wire.until((w) => (w.text.match(/HTTP\/1\.1 200/g)?.length ?? 0) === 40_000, 20_000);
    expect(wire.text.match(/HTTP\/1\.1 200/g)?.length).toBe(40_000);
  });
});
