/**
 * Maps transport failures to the small, stable set of error kinds the report shows
 * (DESIGN.md "Stable error kinds"): undici's UND_ERR_* codes and Node's errno/TLS codes.
 * HTTP statuses become `http_<status>` in the classifier, not here.
 */
export type TransportErrorKind =
  "timeout" | "connect_refused" | "reset" | "tls" | "protocol" | "dns" | "other";

const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT",
  "LOAD_TEST_TIMEOUT",
]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "ECONNABORTED"]);
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME"]);
const PROTOCOL_CODES = new Set([
  "UND_ERR_INFO",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_ERROR",
  "ERR_HTTP2_INVALID_SESSION",
]);
// OpenSSL verification failures surface as these codes on the socket error (RFC 5280 path validation).
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_NO_PROTOCOLS_AVAILABLE",
  "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ECONNRESET_TLS",
]);

function codeOf(error: unknown): string | undefined {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string")
    return error.code;
  return undefined;
}

export function classifyTransportError(error: unknown): TransportErrorKind {
  // undici wraps the socket's error as `cause` for some failures; look through the chain.
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const code = codeOf(current);
    if (code) {
      if (TIMEOUT_CODES.has(code)) return "timeout";
      if (code === "ECONNREFUSED") return "connect_refused";
      if (DNS_CODES.has(code)) return "dns";
      if (TLS_CODES.has(code) || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return "tls";
      if (PROTOCOL_CODES.has(code) || code.startsWith("HPE_") || code.startsWith("ERR_HTTP2_"))
        return "protocol";
      if (RESET_CODES.has(code)) return "reset";
    }
    current = current && typeof current === "object" && "cause" in current ? current.cause : undefined;
  }
  return "other";
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
