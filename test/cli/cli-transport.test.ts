import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { runCli } from "../helpers/cli.js";
import { startRawHttp1Server } from "../helpers/raw-http1-server.js";
import { createTestPki, type PemPair, type TestPki } from "../helpers/tls.js";
import { startServer, type TestServer } from "../helpers/servers.js";

let pki: TestPki;
let otherPki: TestPki;
let serverPem: PemPair;
let dir: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([createTestPki("cli CA"), createTestPki("unrelated CA")]);
  serverPem = await pki.issue("localhost", {
    dns: ["localhost", "gateway.internal.test"],
    ips: ["127.0.0.1"],
  });
  dir = await mkdtemp(join(tmpdir(), "load-test-tls-"));
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await Promise.all([pki.cleanup(), otherPki.cleanup()]);
});

async function start(
  kind: "h2" | "https" | "h2c",
  options?: { maxVersion?: "TLSv1.2" },
): Promise<TestServer> {
  const server = await startServer(kind, { key: serverPem.key, cert: serverPem.cert, ...options });
  servers.push(server);
  return server;
}

const base = ["--rps", "40", "--duration", "1s", "--category", "normal", "--quiet"];

async function run(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; result: RunResult }> {
  const out = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  const cli = await runCli([...args, ...base, "--out", out]);
  return { ...cli, result: JSON.parse(await readFile(out, "utf8")) as RunResult };
}

describe("the CLI over TLS and HTTP/2 (issue 5)", () => {
  it("negotiates h2 by ALPN over TLS 1.3 with --ca, multiplexing on few connections", async () => {
    const server = await start("h2");
    const { code, result, stdout } = await run(["--target", server.url, "--ca", pki.ca.certFile]);
    expect([0, 3]).toContain(code);
    expect(result.requests.success).toBe(40);
    expect(result.transport.connections.byProtocol).toEqual({ h2: result.transport.connections.opened });
    expect(result.transport.connections.byTlsVersion).toEqual({
      "TLSv1.3": result.transport.connections.opened,
    });
    expect(result.transport.connections.opened).toBeLessThanOrEqual(4);
    expect(server.requests).toBe(40);
    expect(stdout).toContain("h2");
  });

  it("falls back to HTTP/1.1 when the server offers only that", async () => {
    const server = await start("https");
    const { result } = await run(["--target", server.url, "--ca", pki.ca.certFile]);
    expect(Object.keys(result.transport.connections.byProtocol)).toEqual(["http/1.1"]);
  });

  it("--http2 against a server without h2 fails clearly naming --http2, exit 2", async () => {
    const server = await start("https");
    const cli = await runCli(["--target", server.url, "--ca", pki.ca.certFile, "--http2", ...base]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("--http2");
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  });

  it("a certificate from an unknown CA is a tls error with a clear reason, and the run ends", async () => {
    const server = await start("h2");
    const { code, result, stdout } = await run(["--target", server.url, "--ca", otherPki.ca.certFile]);
    expect(code).toBe(3);
    expect(result.errors.tls).toBe(40);
    expect(stdout).toMatch(/unknown CA/i);
  });

  it("--servername verifies the certificate against another host name; a wrong one is a tls error", async () => {
    const server = await start("https");
    const ok = await run([
      "--target",
      server.url,
      "--ca",
      pki.ca.certFile,
      "--servername",
      "gateway.internal.test",
    ]);
    expect(ok.result.requests.success).toBe(40);
    const wrong = await run([
      "--target",
      server.url,
      "--ca",
      pki.ca.certFile,
      "--servername",
      "other.internal.test",
    ]);
    expect(wrong.result.errors.tls).toBe(40);
  });

  it("--insecure skips verification and says so in the summary", async () => {
    const server = await start("https");
    const { result, stdout } = await run(["--target", server.url, "--insecure"]);
    expect(result.requests.success).toBe(40);
    expect(stdout).toMatch(/--insecure/);
  });

  it("--no-keepalive opens one connection per request", async () => {
    const server = await start("https");
    const { result } = await run(["--target", server.url, "--ca", pki.ca.certFile, "--no-keepalive"]);
    expect(result.transport.connections.opened).toBe(40);
    expect(server.connections).toBe(40);
  });

  it("--tls-min 1.3 against a TLS 1.2 server fails with a tls error", async () => {
    const server = await start("https", { maxVersion: "TLSv1.2" });
    const { result } = await run(["--target", server.url, "--ca", pki.ca.certFile, "--tls-min", "1.3"]);
    expect(result.errors.tls).toBe(40);
  });

  it("--h2c speaks HTTP/2 over cleartext", async () => {
    const server = await start("h2c");
    const { result } = await run(["--target", server.url, "--h2c"]);
    expect(result.requests.success).toBe(40);
    expect(Object.keys(result.transport.connections.byProtocol)).toEqual(["h2c"]);
  });

  it("--threads 2 over h2/TLS 1.3: each thread its own connection, the connections merged in the results", async () => {
    const server = await start("h2");
    const { code, result } = await run(["--target", server.url, "--ca", pki.ca.certFile, "--threads", "2"]);
    expect([0, 3]).toContain(code);
    expect(result.generator.threads).toBe(2);
    expect(result.requests.success).toBe(40);
    expect(server.requests).toBe(40);
    const { connections } = result.transport;
    // One h2 connection per thread (the probe's is thread 0's first), counted across threads.
    expect(connections.opened).toBe(2);
    expect(server.connections).toBe(2);
    expect(connections.byProtocol).toEqual({ h2: 2 });
    expect(connections.byTlsVersion).toEqual({ "TLSv1.3": 2 });
    expect(connections.tlsHandshakeMs.max).toBeGreaterThan(0);
    expect(connections.requestsPerConnection.mean).toBe(20);
  });

  it("--threads 2 with a TLS failure: each thread's tls errors add up, with their reason", async () => {
    const server = await start("https");
    const { result } = await run(["--target", server.url, "--ca", otherPki.ca.certFile, "--threads", "2"]);
    expect(result.errors.tls).toBe(40);
    const keys = Object.keys(result.transport.errors);
    expect(keys).toHaveLength(1);
    const entry = result.transport.errors[keys[0] as string];
    expect(entry?.count).toBe(40);
    expect(entry?.reason).toMatch(/^tls: /);
  });

  it("TLS flags on an http:// target are invalid input naming the flag", async () => {
    const cli = await runCli(["--target", "http://127.0.0.1:9", "--insecure", ...base]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("--insecure");
  });
});

describe("the CLI against a server that recycles HTTP/1.1 connections (issue 16)", () => {
  it("--threads 2: requests caught by the server closing a reused connection are sent again, not errors", async () => {
    // Answers the first request on each connection and closes the connection when the second
    // arrives, unanswered: the idle-close race on every reuse.
    let answered = 0;
    const server = await startRawHttp1Server((socket, _index, onConnection) => {
      if (onConnection > 0) {
        socket.end();
        return;
      }
      answered++;
      const body = '{"success":true,"blocked":false}';
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    });
    try {
      const { result, stdout } = await run(["--target", server.url, "--threads", "2"]);
      expect(result.requests).toMatchObject({ total: 40, success: 40, error: 0 });
      expect(result.transport.errors).toEqual({});
      expect(answered).toBe(40);
      const retried = result.transport.retried.total;
      expect(retried).toBeGreaterThan(0);
      expect(result.transport.retried).toEqual({ total: retried, byReason: { idle_close: retried } });
      expect(stdout).toContain(
        `${retried} requests sent again on a new connection (idle_close ${retried}): the server had not processed them`,
      );
    } finally {
      await server.close();
    }
  });
});
