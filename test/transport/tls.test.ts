import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTransportFlags, type RawTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport } from "../../src/transport/http.js";
import { createTestPki, type PemPair, type TestPki } from "../helpers/tls.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";
import {
  sendMany,
  startServer,
  transportFor,
  type TestServer,
  type TlsServerOptions,
} from "../helpers/servers.js";

/**
 * TLS flags and TLS failures against loopback servers with certificates made for this file:
 * --ca, --insecure, --servername, --cert/--key (mutual TLS), --tls-min, and the reason each
 * failure is reported with. Every failing run must end by itself, quickly.
 */
let pki: TestPki;
let otherPki: TestPki;
let localhost: PemPair;
let gateway: PemPair;
let expired: PemPair;
let clientCert: PemPair;
let strangerClient: PemPair;
const cleanups = cleanupAfterEach();

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([createTestPki(), createTestPki("another CA")]);
  [localhost, gateway, expired, clientCert, strangerClient] = await Promise.all([
    pki.issue("localhost", { dns: ["localhost"], ips: ["127.0.0.1"] }),
    pki.issue("gateway.internal.test", { dns: ["gateway.internal.test"] }),
    pki.issue("localhost", { dns: ["localhost"], ips: ["127.0.0.1"], expired: true }),
    pki.issue("load-test client"),
    otherPki.issue("stranger"),
  ]);
});
afterAll(async () => {
  await pki.cleanup();
  await otherPki.cleanup();
});

async function server(
  kind: "h2" | "https",
  cert: PemPair,
  extra: Partial<TlsServerOptions> = {},
): Promise<TestServer> {
  const started = await startServer(kind, { key: cert.key, cert: cert.cert, ...extra });
  cleanups.push(() => started.close());
  return started;
}

function transport(url: string, raw: RawTransportFlags, workers = 4): HttpTransport {
  const created = transportFor(url, workers, parseTransportFlags(raw, new URL(url), workers));
  cleanups.push(() => created.close());
  return created;
}

/** Sends `count` requests and returns the failure keys (or statuses), and how long it took. */
async function attempt(client: HttpTransport, count = 6) {
  const startedMs = performance.now();
  const outcomes = await sendMany(client, count, 3);
  const tookMs = performance.now() - startedMs;
  const keys = outcomes.map((outcome) =>
    outcome.error ? analyzeTransportError(outcome.error).key : outcome.status,
  );
  const reasons = new Set(
    outcomes.flatMap((outcome) => (outcome.error ? [analyzeTransportError(outcome.error).reason] : [])),
  );
  return { keys: new Set(keys), reasons: [...reasons], tookMs };
}

describe("certificate verification", () => {
  it("a CA the client does not know: tls.unknown_ca with a hint, requests end at once", async () => {
    const target = await server("h2", localhost);
    for (const raw of [{}, { ca: otherPki.ca.certFile }]) {
      const client = transport(target.url, raw);
      const result = await attempt(client);
      expect(result.keys).toEqual(new Set(["tls.unknown_ca"]));
      expect(result.reasons).toEqual([
        "tls: certificate signed by unknown CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE) — pass --ca FILE or --insecure",
      ]);
      expect(result.tookMs).toBeLessThan(3000);
      const { connections } = client.transportSummary();
      expect(connections.opened).toBe(0);
      expect(connections.failed).toBeGreaterThan(0);
    }
    expect(target.requests).toBe(0);
  });

  it("the probe reports the same reason in one line naming --target", async () => {
    const target = await server("https", localhost);
    const probe = await transport(target.url, {}).probe();
    expect(probe.ok).toBe(false);
    if (!probe.ok) {
      expect(probe.flag).toBe("--target");
      expect(probe.failure.key).toBe("tls.unknown_ca");
      expect(probe.message).toMatch(
        /^--target https:\/\/127\.0\.0\.1:\d+: tls: certificate signed by unknown CA/,
      );
    }
  });

  it("--ca trusts the private CA; --insecure skips verification and says so", async () => {
    const target = await server("h2", localhost);
    const trusted = transport(target.url, { ca: pki.ca.certFile });
    expect((await attempt(trusted)).keys).toEqual(new Set([200]));
    expect(trusted.warnings()).toEqual([]);

    const insecure = transport(target.url, { insecure: true });
    expect((await attempt(insecure)).keys).toEqual(new Set([200]));
    expect(insecure.warnings()).toEqual([
      expect.stringMatching(/^--insecure: TLS certificates were not verified/),
    ]);
    expect(insecure.transportSummary().tls?.verified).toBe(false);
    expect(insecure.transportSummary().warnings).toEqual(insecure.warnings());
  });

  it("an expired certificate: tls.expired", async () => {
    const target = await server("https", expired);
    const result = await attempt(transport(target.url, { ca: pki.ca.certFile }));
    expect(result.keys).toEqual(new Set(["tls.expired"]));
    expect(result.reasons[0]).toBe("tls: certificate has expired (CERT_HAS_EXPIRED)");
  });
});

describe("--servername", () => {
  it("reaches a certificate for gateway.internal.test at 127.0.0.1 with verification on", async () => {
    const target = await server("h2", gateway);
    const client = transport(target.url, { ca: pki.ca.certFile, servername: "gateway.internal.test" });
    expect((await attempt(client)).keys).toEqual(new Set([200]));
    expect(target.secureConnections[0]?.servername).toBe("gateway.internal.test");
    expect(client.transportSummary().tls?.servername).toBe("gateway.internal.test");
  });

  it("without it, or with another name: tls.hostname_mismatch naming the names", async () => {
    const target = await server("h2", gateway);
    const missing = await attempt(transport(target.url, { ca: pki.ca.certFile }));
    expect(missing.keys).toEqual(new Set(["tls.hostname_mismatch"]));
    expect(missing.reasons[0]).toMatch(
      /^tls: certificate does not match the host name \(ERR_TLS_CERT_ALTNAME_INVALID: IP: 127\.0\.0\.1 is not in the cert's list.*\) — pass --servername NAME/,
    );
    const wrong = await attempt(
      transport(target.url, { ca: pki.ca.certFile, servername: "other.internal.test" }),
    );
    expect(wrong.keys).toEqual(new Set(["tls.hostname_mismatch"]));
    expect(wrong.reasons[0]).toContain("other.internal.test");
    expect(wrong.reasons[0]).toContain("DNS:gateway.internal.test");
  });
});

describe("--tls-min", () => {
  it("1.3 against a server that stops at TLS 1.2: tls.protocol_version", async () => {
    const target = await server("https", localhost, { maxVersion: "TLSv1.2" });
    const result = await attempt(transport(target.url, { ca: pki.ca.certFile, tlsMin: "1.3" }));
    expect(result.keys).toEqual(new Set(["tls.protocol_version"]));
    expect(result.reasons[0]).toMatch(
      /no TLS version both sides accept \(ERR_SSL_.*\) — the server may not support --tls-min/,
    );
  });

  it("the default (1.2) connects and the summary says TLS 1.2 was negotiated", async () => {
    const target = await server("https", localhost, { maxVersion: "TLSv1.2" });
    const client = transport(target.url, { ca: pki.ca.certFile });
    expect((await attempt(client)).keys).toEqual(new Set([200]));
    const { connections, tls } = client.transportSummary();
    expect(Object.keys(connections.byTlsVersion)).toEqual(["TLSv1.2"]);
    expect(tls?.minVersion).toBe("TLSv1.2");
  });
});

describe("mutual TLS (--cert/--key)", () => {
  it("is accepted with the client certificate", async () => {
    const target = await server("h2", localhost, { ca: pki.ca.cert, requestCert: true });
    const client = transport(target.url, {
      ca: pki.ca.certFile,
      cert: clientCert.certFile,
      key: clientCert.keyFile,
    });
    expect((await attempt(client)).keys).toEqual(new Set([200]));
    expect(target.secureConnections.every((c) => c.clientCert)).toBe(true);
    expect(client.transportSummary().tls?.clientCertificate).toBe(true);
  });

  it("without one (TLS 1.3): the requests end with a failure that names --cert", async () => {
    const target = await server("https", localhost, { ca: pki.ca.cert, requestCert: true });
    const result = await attempt(transport(target.url, { ca: pki.ca.certFile }));
    // TLS 1.3 finishes the client's side of the handshake before the server checks the
    // certificate: the alert arrives as a TLS error, or the server just closes the new connection.
    for (const key of result.keys) {
      expect(["tls.client_cert_required", "reset.before_first_response"]).toContain(key);
    }
    for (const reason of result.reasons) expect(reason).toMatch(/--cert/);
    expect(result.tookMs).toBeLessThan(3000);
    expect(target.requests).toBe(0);
  });

  it("without one (TLS 1.2): tls.handshake_failure; with one from another CA: rejected", async () => {
    const target = await server("https", localhost, {
      ca: pki.ca.cert,
      requestCert: true,
      maxVersion: "TLSv1.2",
    });
    const missing = await attempt(transport(target.url, { ca: pki.ca.certFile }));
    expect(missing.keys).toEqual(new Set(["tls.handshake_failure"]));
    expect(missing.reasons[0]).toMatch(/--cert FILE --key FILE/);
    const stranger = await attempt(
      transport(target.url, {
        ca: pki.ca.certFile,
        cert: strangerClient.certFile,
        key: strangerClient.keyFile,
      }),
    );
    // OpenSSL servers send an unknown_ca alert; Node's closes the connection mid-handshake.
    for (const key of stranger.keys)
      expect(["tls.client_cert_rejected", "tls.handshake_reset"]).toContain(key);
    for (const reason of stranger.reasons) expect(reason).toMatch(/client certificate/);
  });
});
