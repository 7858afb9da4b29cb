import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/config/errors.js";
import {
  parseTransportFlags,
  type RawTransportFlags,
  type TransportFlags,
} from "../../src/config/transport-options.js";
import { createTestPki, type PemPair, type TestPki } from "../helpers/tls.js";

const HTTPS = new URL("https://127.0.0.1:8443");
const HTTP = new URL("http://127.0.0.1:8080");

let pki: TestPki;
let client: PemPair;
let other: PemPair;
let notPem: string;

beforeAll(async () => {
  pki = await createTestPki();
  client = await pki.issue("client");
  other = await pki.issue("other");
  notPem = join(pki.dir, "not-pem.txt");
  await writeFile(notPem, "hello\n");
});
afterAll(() => pki.cleanup());

function inputError(raw: RawTransportFlags, url = HTTPS, workers = 10): InputError {
  try {
    parseTransportFlags(raw, url, workers);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

describe("parseTransportFlags", () => {
  it("defaults: ALPN negotiation, keep-alive, verified TLS 1.2 or newer", () => {
    const flags: TransportFlags = parseTransportFlags({}, HTTPS, 10);
    expect(flags).toEqual({
      protocol: "auto",
      connections: undefined,
      tls: {
        ca: undefined,
        insecure: false,
        servername: undefined,
        cert: undefined,
        key: undefined,
        minVersion: "TLSv1.2",
      },
      keepAlive: true,
      maxRequestsPerConnection: undefined,
    });
    expect(parseTransportFlags({ keepalive: true }, HTTP, 10).keepAlive).toBe(true);
  });

  it.each([
    [{ http1: true }, HTTPS, "http1"],
    [{ http2: true }, HTTPS, "http2"],
    [{ h2c: true }, HTTP, "h2c"],
    [{ http2: true, h2c: true }, HTTP, "h2c"],
    [{}, HTTP, "auto"],
  ] as const)("protocol flags %j on %s -> %s", (raw, url, protocol) => {
    expect(parseTransportFlags(raw, url, 10).protocol).toBe(protocol);
  });

  it("reads the PEM files and the other TLS flags", () => {
    const flags = parseTransportFlags(
      {
        ca: pki.ca.certFile,
        cert: client.certFile,
        key: client.keyFile,
        servername: "Gateway.Internal.Test.",
        tlsMin: "1.3",
        insecure: false,
      },
      HTTPS,
      10,
    );
    expect(flags.tls.ca).toEqual({ path: pki.ca.certFile, pem: pki.ca.cert });
    expect(flags.tls.cert?.pem).toBe(client.cert);
    expect(flags.tls.key?.pem).toBe(client.key);
    expect(flags.tls.servername).toBe("Gateway.Internal.Test");
    expect(flags.tls.minVersion).toBe("TLSv1.3");
    expect(parseTransportFlags({ tlsMin: "TLSv1.2" }, HTTPS, 10).tls.minVersion).toBe("TLSv1.2");
  });

  it("connection control: --connections is capped by --workers; --no-keepalive; --max-requests-per-connection", () => {
    expect(parseTransportFlags({ connections: "4" }, HTTPS, 10).connections).toBe(4);
    expect(parseTransportFlags({ connections: "50" }, HTTPS, 10).connections).toBe(10);
    expect(parseTransportFlags({ keepalive: false }, HTTPS, 10).keepAlive).toBe(false);
    expect(parseTransportFlags({ maxRequestsPerConnection: "5" }, HTTP, 10).maxRequestsPerConnection).toBe(5);
  });

  it.each<[string, RawTransportFlags, URL, string, RegExp]>([
    ["--http1 with --http2", { http1: true, http2: true }, HTTPS, "--http1", /--http2/],
    ["--http1 with --h2c", { http1: true, h2c: true }, HTTP, "--http1", /--h2c/],
    ["--h2c on https", { h2c: true }, HTTPS, "--h2c", /http:\/\/.*--http2/],
    ["--http2 on http", { http2: true }, HTTP, "--http2", /--h2c/],
    ["zero connections", { connections: "0" }, HTTPS, "--connections", /integer ≥ 1/],
    ["text connections", { connections: "many" }, HTTPS, "--connections", /"many"/],
    [
      "fractional max requests",
      { maxRequestsPerConnection: "2.5" },
      HTTPS,
      "--max-requests-per-connection",
      /integer/,
    ],
    [
      "max requests with --no-keepalive",
      { maxRequestsPerConnection: "5", keepalive: false },
      HTTPS,
      "--max-requests-per-connection",
      /--no-keepalive/,
    ],
    ["--tls-min 1.1", { tlsMin: "1.1" }, HTTPS, "--tls-min", /1\.2 or 1\.3/],
    ["--tls-min text", { tlsMin: "latest" }, HTTPS, "--tls-min", /"latest"/],
    ["--ca on http", { ca: "/nonexistent" }, HTTP, "--ca", /https:\/\/ targets only/],
    ["--insecure on http", { insecure: true }, HTTP, "--insecure", /https/],
    ["--servername IP", { servername: "10.0.0.1" }, HTTPS, "--servername", /not an IP address/],
    ["--servername junk", { servername: "a b" }, HTTPS, "--servername", /not a valid host name/],
    [
      "--ca missing file",
      { ca: "/nonexistent/ca.pem" },
      HTTPS,
      "--ca",
      /cannot read file \/nonexistent\/ca.pem \(ENOENT\)/,
    ],
  ])("%s -> InputError naming %s", (_name, raw, url, flag, message) => {
    const error = inputError(raw, url);
    expect(error.field).toBe(flag);
    expect(error.message.startsWith(`${flag}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });

  it("rejects --cert without --key and the reverse", () => {
    expect(inputError({ cert: client.certFile }).field).toBe("--cert");
    expect(inputError({ key: client.keyFile }).field).toBe("--key");
  });

  it("rejects files that are not PEM, and a key that does not match the certificate", () => {
    expect(inputError({ ca: notPem }).message).toMatch(/contains no PEM certificate/);
    expect(inputError({ cert: notPem, key: client.keyFile }).field).toBe("--cert");
    expect(inputError({ cert: client.certFile, key: notPem }).message).toMatch(/contains no PEM private key/);
    const mismatch = inputError({ cert: client.certFile, key: other.keyFile });
    expect(mismatch.field).toBe("--key");
    expect(mismatch.message).toMatch(/does not match the certificate/);
  });
});
