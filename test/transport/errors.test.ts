import { describe, expect, it } from "vitest";
import {
  analyzeTransportError,
  classifyTransportError,
  ConnectionClosedError,
  ConnectTimeoutError,
  H2NotNegotiatedError,
  InvalidRequestError,
  TransportClosedError,
  TruncatedBodyError,
  LoadTestTimeoutError,
  TransportErrorTally,
} from "../../src/transport/errors.js";

const withCode = (code: string, message = code, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { code, ...extra });

describe("our clients' own errors: named, with no undici code in the reason", () => {
  it.each([
    [
      new ConnectionClosedError("the server closed the connection before answering"),
      "reset.closed",
      "reset: the server closed the connection before answering",
    ],
    [
      new TruncatedBodyError(7),
      "protocol.truncated_body",
      "protocol: the server closed the connection after 7 body bytes, before the end of the body its headers announced",
    ],
    [
      new ConnectTimeoutError(3000, "127.0.0.1:9"),
      "timeout.connect",
      "timeout: no connection within --timeout 3000ms (LOAD_TEST_CONNECT_TIMEOUT)",
    ],
    [
      new InvalidRequestError('invalid request header "x-a"'),
      "other.invalid_request",
      'other: invalid request header "x-a"',
    ],
    [
      new TransportClosedError(),
      "other.closed_by_load_test",
      "other: the connection was shut down by load-test (end of the run)",
    ],
  ])("%s -> %s", (error, key, reason) => {
    const failure = analyzeTransportError(error);
    expect(failure.key).toBe(key);
    expect(failure.reason).toBe(reason);
    expect(classifyTransportError(error)).toBe(failure.kind);
  });
});

describe("analyzeTransportError: stable kinds with a detail and one human line", () => {
  it.each([
    // TLS: the reason and what to do about it
    [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "tls.unknown_ca",
      /certificate signed by unknown CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\) — pass --ca FILE or --insecure/,
    ],
    ["SELF_SIGNED_CERT_IN_CHAIN", "tls.unknown_ca", /unknown CA/],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls.unknown_ca", /unknown CA/],
    ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "tls.unknown_ca", /unknown CA/],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls.hostname_mismatch", /does not match the host name.*--servername/],
    ["CERT_HAS_EXPIRED", "tls.expired", /certificate has expired \(CERT_HAS_EXPIRED\)/],
    ["CERT_NOT_YET_VALID", "tls.not_yet_valid", /not yet valid/],
    ["ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", "tls.protocol_version", /no TLS version.*--tls-min/],
    ["ERR_SSL_UNSUPPORTED_PROTOCOL", "tls.protocol_version", /TLS version/],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "tls.not_tls", /did not answer with TLS/],
    ["ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "tls.client_cert_required", /--cert FILE --key FILE/],
    ["ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "tls.handshake_failure", /refused the handshake/],
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "tls.client_cert_rejected", /rejected the client certificate/],
    ["ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL", "tls.no_alpn", /ALPN/],
    ["ERR_SSL_SOMETHING_NEW", "tls.handshake", /handshake failed \(ERR_SSL_SOMETHING_NEW/],
    // timeouts keep their kind and say the phase
    ["UND_ERR_CONNECT_TIMEOUT", "timeout.connect", /no connection/],
    ["UND_ERR_HEADERS_TIMEOUT", "timeout.headers", /no response headers/],
    ["UND_ERR_BODY_TIMEOUT", "timeout.body", /response body not complete/],
    // HTTP/2
    ["ERR_HTTP2_STREAM_ERROR", "protocol.rst_stream", /reset the HTTP\/2 stream/],
    ["ERR_HTTP2_SESSION_ERROR", "protocol.goaway", /closed the HTTP\/2 session/],
    ["ERR_HTTP2_ERROR", "protocol.h2_session", /HTTP\/2 session error/],
    ["HPE_INVALID_CONSTANT", "protocol.http1_parse", /invalid HTTP\/1.1 response/],
    ["UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "protocol.content_length", /content-length/],
    // the rest
    ["ECONNREFUSED", "connect_refused", /connection refused/],
    ["ECONNRESET", "reset.econnreset", /closed by the peer/],
    ["UND_ERR_SOCKET", "reset.closed", /closed by the peer/],
    ["ENOTFOUND", "dns.not_found", /cannot resolve/],
    ["EAI_AGAIN", "dns.temporary", /cannot resolve/],
    ["SOMETHING_ELSE", "other", /SOMETHING_ELSE/],
  ])("%s -> %s", (code, key, reason) => {
    const failure = analyzeTransportError(withCode(code));
    expect(failure.key).toBe(key);
    expect(failure.reason).toMatch(reason);
    expect(failure.reason.startsWith(`${failure.kind}: `)).toBe(true);
    expect(failure.reason).not.toMatch(/\n/);
    expect(classifyTransportError(withCode(code))).toBe(failure.kind);
  });

  it("keeps OpenSSL's readable reason and drops its source paths", () => {
    const openssl = withCode(
      "ERR_SSL_BAD_THING",
      "80BCA125087F0000:error:0A000460:SSL routines:ssl3_read_bytes:bad thing:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:\n",
      { reason: "bad thing" },
    );
    expect(analyzeTransportError(openssl).reason).toBe(
      "tls: handshake failed (ERR_SSL_BAD_THING: bad thing)",
    );
    const altname = withCode("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match", {
      reason: "Host: a.test. is not in the cert's altnames: DNS:b.test",
    });
    expect(analyzeTransportError(altname).reason).toContain(
      "Host: a.test. is not in the cert's altnames: DNS:b.test",
    );
  });

  it("says the timeout phase the request was in", () => {
    for (const phase of ["connect", "headers", "body"] as const) {
      const failure = analyzeTransportError(new LoadTestTimeoutError(250, phase));
      expect(failure.kind).toBe("timeout");
      expect(failure.key).toBe(`timeout.${phase}`);
      expect(failure.reason).toContain("--timeout 250ms");
    }
  });

  it("tells GOAWAY apart from a plain reset, though undici reports both as UND_ERR_SOCKET", () => {
    const goaway = withCode("UND_ERR_SOCKET", 'HTTP/2: "GOAWAY" frame received with code 0');
    expect(analyzeTransportError(goaway).key).toBe("protocol.goaway");
    expect(classifyTransportError(goaway)).toBe("protocol");
    const streamClosed = withCode("UND_ERR_INFO", "HTTP/2: stream closed before the response was complete");
    expect(analyzeTransportError(streamClosed).key).toBe("protocol.rst_stream");
  });

  it("names --http2 when the server did not offer h2", () => {
    const failure = analyzeTransportError(new H2NotNegotiatedError("https://127.0.0.1:8443", "http/1.1"));
    expect(failure.key).toBe("protocol.no_h2");
    expect(failure.reason).toBe(
      "protocol: --http2: https://127.0.0.1:8443 did not offer h2 via ALPN (it chose http/1.1); drop --http2 to negotiate, or use --http1",
    );
  });

  it("looks through undici's cause chain", () => {
    const wrapped = new Error("fetch failed", {
      cause: withCode("CERT_HAS_EXPIRED", "certificate has expired"),
    });
    expect(analyzeTransportError(wrapped).key).toBe("tls.expired");
  });
});

describe("TransportErrorTally", () => {
  it("counts by kind.detail with the first reason, most frequent first", () => {
    const tally = new TransportErrorTally();
    tally.record(withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"));
    for (let i = 0; i < 3; i++) tally.record(withCode("UNABLE_TO_VERIFY_LEAF_SIGNATURE"));
    const first = tally.record(new LoadTestTimeoutError(100, "headers"));
    expect(first.key).toBe("timeout.headers");
    expect(tally.toJSON()).toEqual({
      "tls.unknown_ca": {
        count: 3,
        reason:
          "tls: certificate signed by unknown CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE) — pass --ca FILE or --insecure",
      },
      connect_refused: {
        count: 1,
        reason: "connect_refused: connection refused (connect ECONNREFUSED 127.0.0.1:1)",
      },
      "timeout.headers": {
        count: 1,
        reason: "timeout: no response headers within --timeout 100ms (LOAD_TEST_TIMEOUT)",
      },
    });
    expect(Object.keys(tally.toJSON())[0]).toBe("tls.unknown_ca");
  });
});
