/**
 * Maps transport failures to the small, stable set of error kinds the report shows
 * (docs/TRANSPORT.md): our clients' LOAD_TEST_* errors (below), Node's errno/TLS
 * codes, and undici's UND_ERR_* codes where undici still carries a connection (ALPN discovery).
 * HTTP statuses become `http_<status>` in the classifier, not here.
 *
 * Each kind also has a detail (docs/TRANSPORT.md "Error kinds"): the timeout phase, the TLS
 * reason, the HTTP/2 frame, so a summary can say why, not only what.
 */
export type TransportErrorKind =
  "timeout" | "connect_refused" | "reset" | "tls" | "protocol" | "dns" | "other";

/** Where a request was when `--timeout` ran out. */
export type TimeoutPhase = "connect" | "headers" | "body";

/**
 * The run's own per-request timeout (one sweep, no timer per request). `connect`: no connection
 * carried the request yet (connecting, or waiting for one); `headers`: sent, no response yet;
 * `body`: the response started but did not end.
 */
export class LoadTestTimeoutError extends Error {
  readonly code = "LOAD_TEST_TIMEOUT";
  constructor(
    readonly timeoutMs: number,
    readonly phase: TimeoutPhase,
  ) {
    super(`request exceeded --timeout ${timeoutMs}ms (${phase})`);
  }
}

/** `--http2` and the server chose something else by ALPN (or accepted none of what was offered). */
export class H2NotNegotiatedError extends Error {
  readonly code = "LOAD_TEST_H2_NOT_NEGOTIATED";
  constructor(
    readonly origin: string,
    readonly offered: string | undefined,
  ) {
    super(
      `--http2: ${origin} did not offer h2 via ALPN` +
        (offered ? ` (it chose ${offered})` : " (it accepted no ALPN protocol offered)") +
        "; drop --http2 to negotiate, or use --http1",
    );
  }
}

/**
 * The server closed the connection in the middle of the TLS handshake. Kind `tls`: the usual
 * reason is a client certificate it requires or rejects (TLS 1.2), or a server that is not TLS.
 */
export class TlsHandshakeResetError extends Error {
  readonly code = "LOAD_TEST_TLS_HANDSHAKE_RESET";
  constructor(override readonly cause: Error & { code?: string }) {
    super(`the server closed the connection during the TLS handshake (${cause.code ?? cause.message})`);
  }
}

/**
 * A fresh TLS 1.3 connection closed before its first response. Kind `reset`; in TLS 1.3 the
 * client finishes its side of the handshake before the server checks the client certificate,
 * so this is how a missing or untrusted client certificate shows (RFC 8446 §4.4.2.4).
 */
export class ResetBeforeFirstResponseError extends Error {
  readonly code = "LOAD_TEST_RESET_BEFORE_FIRST_RESPONSE";
  constructor(override readonly cause: Error & { code?: string }) {
    super(
      `a new TLS 1.3 connection was closed before its first response (${cause.code ?? "closed"}: ${cause.message})`,
    );
  }
}

/**
 * Our clients' connection closed by the server (FIN, or the socket closing) before the response
 * ended. Kind `reset`, detail `closed`; `afterHead` when the response head had arrived.
 */
export class ConnectionClosedError extends Error {
  readonly code = "LOAD_TEST_CONNECTION_CLOSED";
}

/**
 * The server closed the connection in the middle of a response body that announced its length
 * or is chunked (RFC 9112 §6.3: an incomplete message). Kind `protocol`, detail `truncated_body`.
 */
export class TruncatedBodyError extends Error {
  readonly code = "LOAD_TEST_TRUNCATED_BODY";
  constructor(readonly bodyBytes: number) {
    super(
      `the server closed the connection after ${bodyBytes} body bytes, before the end of the body its headers announced`,
    );
  }
}

/**
 * A request our clients refuse to write (a method that is not a token, a path or header value
 * that would split the request; docs/TRANSPORT.md). Kind `other`, detail `invalid_request`.
 */
export class InvalidRequestError extends Error {
  readonly code = "LOAD_TEST_INVALID_REQUEST";
}

/** No connection within --timeout (the connector's own timer). Kind `timeout`, detail `connect`. */
export class ConnectTimeoutError extends Error {
  readonly code = "LOAD_TEST_CONNECT_TIMEOUT";
  constructor(
    readonly timeoutMs: number,
    target: string,
  ) {
    super(`no connection to ${target} within --timeout ${timeoutMs}ms`);
  }
}

/**
 * HTTP/2: a response whose DATA differs from its content-length (RFC 9113 §8.1.1: malformed).
 * Kind `protocol`, detail `content_length`.
 */
export class ContentLengthMismatchError extends Error {
  readonly code = "LOAD_TEST_CONTENT_LENGTH_MISMATCH";
  constructor(expected: number, received: number) {
    super(`the response's body was ${received} bytes where its content-length said ${expected}`);
  }
}

/** A request ended because the transport or its connection was shut down (end of a run). Kind `other`. */
export class TransportClosedError extends Error {
  readonly code = "LOAD_TEST_TRANSPORT_CLOSED";
  constructor() {
    super("the connection was shut down by load-test (end of the run)");
  }
}

const TIMEOUT_PHASE: Record<string, TimeoutPhase> = {
  LOAD_TEST_CONNECT_TIMEOUT: "connect",
  UND_ERR_CONNECT_TIMEOUT: "connect",
  ETIMEDOUT: "connect",
  UND_ERR_HEADERS_TIMEOUT: "headers",
  UND_ERR_BODY_TIMEOUT: "body",
};
const RESET_CODES = new Set([
  "LOAD_TEST_CONNECTION_CLOSED",
  "ECONNRESET",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "ECONNABORTED",
  "LOAD_TEST_RESET_BEFORE_FIRST_RESPONSE",
]);
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME"]);
const PROTOCOL_CODES = new Set([
  "UND_ERR_INFO",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE",
  "LOAD_TEST_H2_NOT_NEGOTIATED",
  "LOAD_TEST_TRUNCATED_BODY",
  "LOAD_TEST_CONTENT_LENGTH_MISMATCH",
]);

/**
 * TLS reasons: OpenSSL's verification codes (RFC 5280 path validation), Node's host name check
 * (RFC 9110 §4.3.4) and TLS alerts the server sent (RFC 8446 §6), each with a one-line hint.
 */
interface TlsReason {
  detail: string;
  text: string;
  hint?: string;
}
const UNKNOWN_CA: TlsReason = {
  detail: "unknown_ca",
  text: "certificate signed by unknown CA",
  hint: "pass --ca FILE or --insecure",
};
const CLIENT_CERT_REJECTED: TlsReason = {
  detail: "client_cert_rejected",
  text: "the server rejected the client certificate",
  hint: "check --cert/--key against the CA the server trusts",
};
const PROTOCOL_VERSION: TlsReason = {
  detail: "protocol_version",
  text: "no TLS version both sides accept",
  hint: "the server may not support --tls-min",
};
const TLS_REASONS: Record<string, TlsReason> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNKNOWN_CA,
  UNABLE_TO_GET_ISSUER_CERT: UNKNOWN_CA,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNKNOWN_CA,
  SELF_SIGNED_CERT_IN_CHAIN: UNKNOWN_CA,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNKNOWN_CA,
  CERT_UNTRUSTED: UNKNOWN_CA,
  CERT_SIGNATURE_FAILURE: {
    detail: "bad_signature",
    text: "certificate signature does not verify",
    hint: "pass --ca FILE with the right CA",
  },
  CERT_REJECTED: { detail: "rejected", text: "certificate rejected for this purpose" },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    detail: "hostname_mismatch",
    text: "certificate does not match the host name",
    hint: "pass --servername NAME to verify another name",
  },
  CERT_HAS_EXPIRED: { detail: "expired", text: "certificate has expired" },
  CERT_NOT_YET_VALID: { detail: "not_yet_valid", text: "certificate is not yet valid (check the clocks)" },
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: PROTOCOL_VERSION,
  ERR_SSL_UNSUPPORTED_PROTOCOL: PROTOCOL_VERSION,
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: PROTOCOL_VERSION,
  ERR_SSL_VERSION_TOO_LOW: PROTOCOL_VERSION,
  ERR_SSL_WRONG_VERSION_NUMBER: {
    detail: "not_tls",
    text: "the server did not answer with TLS",
    hint: "is the target plain http://?",
  },
  ERR_SSL_PACKET_LENGTH_TOO_LONG: {
    detail: "not_tls",
    text: "the server did not answer with TLS",
    hint: "is the target plain http://?",
  },
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: {
    detail: "client_cert_required",
    text: "the server requires a client certificate",
    hint: "pass --cert FILE --key FILE",
  },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: {
    detail: "handshake_failure",
    text: "the server refused the handshake (no common cipher, or a client certificate is required)",
    hint: "for mutual TLS pass --cert FILE --key FILE",
  },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: CLIENT_CERT_REJECTED,
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: CLIENT_CERT_REJECTED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: CLIENT_CERT_REJECTED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: CLIENT_CERT_REJECTED,
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: CLIENT_CERT_REJECTED,
  LOAD_TEST_TLS_HANDSHAKE_RESET: {
    detail: "handshake_reset",
    text: "the server closed the connection during the handshake",
    hint: "it may require or reject a client certificate (--cert FILE --key FILE)",
  },
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: {
    detail: "no_alpn",
    text: "the server accepts none of the offered ALPN protocols",
    hint: "--http1 offers only http/1.1, --http2 only h2",
  },
};

function codeOf(error: unknown): string | undefined {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string")
    return error.code;
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : "";
}

/** The error in undici's `cause` chain that carries the code we understand, and its kind. */
function findCoded(error: unknown): { kind: TransportErrorKind; code: string; error: unknown } | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const code = codeOf(current);
    if (code) {
      const kind = kindOfCode(code, current);
      if (kind) return { kind, code, error: current };
    }
    current = current && typeof current === "object" && "cause" in current ? current.cause : undefined;
  }
  return undefined;
}

function kindOfCode(code: string, error: unknown): TransportErrorKind | undefined {
  if (code === "LOAD_TEST_TIMEOUT" || code in TIMEOUT_PHASE) return "timeout";
  if (code === "ECONNREFUSED") return "connect_refused";
  if (DNS_CODES.has(code)) return "dns";
  if (code in TLS_REASONS || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return "tls";
  if (PROTOCOL_CODES.has(code) || code.startsWith("HPE_") || code.startsWith("ERR_HTTP2_")) return "protocol";
  // undici reports a GOAWAY frame as a socket error; it is the server's HTTP/2 decision, not a reset.
  if (code === "UND_ERR_SOCKET" && /GOAWAY/.test(messageOf(error))) return "protocol";
  if (RESET_CODES.has(code)) return "reset";
  return undefined;
}

export function classifyTransportError(error: unknown): TransportErrorKind {
  return findCoded(error)?.kind ?? "other";
}

/** A short, secret-free description for the summary, e.g. "connect ECONNREFUSED 127.0.0.1:1". */
export function describeTransportError(error: unknown): string {
  if (error instanceof Error) {
    const code = codeOf(error);
    const cause = (error as { cause?: unknown }).cause;
    const causeText = cause instanceof Error && cause.message !== error.message ? ` (${cause.message})` : "";
    return `${code ? `${code}: ` : ""}${error.message}${causeText}`;
  }
  return String(error);
}

/** One classified failure: the stable kind, its detail, the tally key and a one-line reason. */
export interface TransportFailure {
  kind: TransportErrorKind;
  /** e.g. `connect` for a timeout, `unknown_ca` for tls, `goaway` for protocol; undefined when the kind says it all. */
  detail: string | undefined;
  /** `kind.detail`, or the kind alone: the key of the summary's error breakdown. */
  key: string;
  /** One human line, e.g. "tls: certificate signed by unknown CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE) — pass --ca FILE or --insecure". */
  reason: string;
}

function failure(kind: TransportErrorKind, detail: string | undefined, reason: string): TransportFailure {
  return { kind, detail, key: detail ? `${kind}.${detail}` : kind, reason: `${kind}: ${reason}` };
}

/** OpenSSL messages carry source file paths; Node puts the readable part in `reason`. */
function opensslText(error: unknown): string | undefined {
  const reason = (error as { reason?: unknown }).reason;
  if (typeof reason === "string" && reason !== "") return reason;
  const message = messageOf(error);
  return message.includes("../deps/openssl") || message.includes(":error:")
    ? undefined
    : message || undefined;
}

function tlsFailure(code: string, error: unknown): TransportFailure {
  const known = TLS_REASONS[code];
  const extra =
    code === "ERR_TLS_CERT_ALTNAME_INVALID"
      ? opensslText(error)
      : error instanceof TlsHandshakeResetError
        ? (error.cause.code ?? error.cause.message)
        : undefined;
  if (known) {
    const hint = known.hint ? ` — ${known.hint}` : "";
    return failure("tls", known.detail, `${known.text} (${code}${extra ? `: ${extra}` : ""})${hint}`);
  }
  const text = opensslText(error);
  return failure("tls", "handshake", `handshake failed (${code}${text ? `: ${text}` : ""})`);
}

function timeoutFailure(code: string, error: unknown): TransportFailure {
  const phase: TimeoutPhase =
    error instanceof LoadTestTimeoutError ? error.phase : (TIMEOUT_PHASE[code] ?? "headers");
  const limit =
    error instanceof LoadTestTimeoutError || error instanceof ConnectTimeoutError
      ? ` within --timeout ${error.timeoutMs}ms`
      : "";
  const text =
    phase === "connect"
      ? `no connection${limit} (${code})`
      : phase === "headers"
        ? `no response headers${limit} (${code})`
        : `response body not complete${limit} (${code})`;
  return failure("timeout", phase, text);
}

function protocolFailure(code: string, error: unknown): TransportFailure {
  const message = messageOf(error);
  if (code === "LOAD_TEST_H2_NOT_NEGOTIATED") return failure("protocol", "no_h2", message);
  if (code === "LOAD_TEST_TRUNCATED_BODY") return failure("protocol", "truncated_body", message);
  if (/GOAWAY/i.test(message) || code === "ERR_HTTP2_GOAWAY_SESSION") {
    return failure("protocol", "goaway", `the server sent HTTP/2 GOAWAY (${message})`);
  }
  if (code === "ERR_HTTP2_SESSION_ERROR") {
    // Node's "Session closed with error code N": the server ended the session with a GOAWAY error.
    return failure("protocol", "goaway", `the server closed the HTTP/2 session (${message})`);
  }
  if (code === "ERR_HTTP2_STREAM_ERROR" || /HTTP\/2: "?stream/i.test(message)) {
    return failure("protocol", "rst_stream", `the server reset the HTTP/2 stream (${message})`);
  }
  if (code.startsWith("ERR_HTTP2_") || /HTTP\/2/.test(message)) {
    return failure("protocol", "h2_session", `HTTP/2 session error (${code}: ${message})`);
  }
  if (code.startsWith("HPE_"))
    return failure("protocol", "http1_parse", `invalid HTTP/1.1 response (${code})`);
  if (code.endsWith("CONTENT_LENGTH_MISMATCH")) {
    return failure("protocol", "content_length", `content-length mismatch (${code})`);
  }
  return failure("protocol", code.toLowerCase().replace(/^und_err_/, ""), `${message} (${code})`);
}

/** Classifies a transport error with its detail and a one-line human reason (docs/TRANSPORT.md). */
export function analyzeTransportError(error: unknown): TransportFailure {
  if (error instanceof InvalidRequestError) return failure("other", "invalid_request", error.message);
  if (error instanceof TransportClosedError) return failure("other", "closed_by_load_test", error.message);
  const found = findCoded(error);
  if (!found) return failure("other", undefined, describeTransportError(error));
  const { kind, code } = found;
  switch (kind) {
    case "timeout":
      return timeoutFailure(code, found.error);
    case "tls":
      return tlsFailure(code, found.error);
    case "protocol":
      return protocolFailure(code, found.error);
    case "connect_refused":
      return failure(kind, undefined, `connection refused (${messageOf(found.error) || code})`);
    case "dns":
      return failure(
        kind,
        code === "EAI_AGAIN" ? "temporary" : "not_found",
        `cannot resolve the host name (${code})`,
      );
    case "reset":
      if (found.error instanceof ResetBeforeFirstResponseError) {
        const cause = found.error.cause;
        return failure(
          kind,
          "before_first_response",
          `the server closed a new TLS 1.3 connection before its first response (${cause.code ?? "closed"}: ${cause.message})` +
            " — a server requiring client certificates does this when none or an untrusted one is sent: check --cert/--key",
        );
      }
      if (code === "LOAD_TEST_CONNECTION_CLOSED") return failure(kind, "closed", messageOf(found.error));
      return failure(
        kind,
        code === "UND_ERR_SOCKET" ? "closed" : code.toLowerCase().replace(/^und_err_/, ""),
        `connection closed by the peer (${code}: ${messageOf(found.error)})`,
      );
    default:
      return failure("other", undefined, describeTransportError(error));
  }
}

/**
 * Counts failures by `kind.detail` with the first reason seen for each (the summary's error
 * breakdown). Kept beside the recorder so the measured window decides what is counted.
 */
export class TransportErrorTally {
  private readonly byKey: Record<string, { count: number; reason: string }> = {};

  record(error: unknown): TransportFailure {
    const classified = analyzeTransportError(error);
    const entry = this.byKey[classified.key];
    if (entry) entry.count++;
    else this.byKey[classified.key] = { count: 1, reason: classified.reason };
    return classified;
  }

  /** `{ "tls.unknown_ca": { count, reason } }`, most frequent first. */
  toJSON(): Record<string, { count: number; reason: string }> {
    const entries = Object.entries(this.byKey).sort((a, b) => b[1].count - a[1].count);
    return Object.fromEntries(entries.map(([key, value]) => [key, { ...value }]));
  }
}
