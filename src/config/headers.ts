import { z } from "zod";

/** RFC 9110 §5.6.2 token: what a header name (or a method) may be. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers the client sets itself to frame each message and manage the connection (RFC 9112
 * §6–§9, RFC 9110 §7.6.1): a user's value would contradict the bytes actually sent, so
 * `--header`, a profile or a case naming one is refused. Keep-alive is `--no-keepalive`.
 */
export const CLIENT_FRAMING_HEADERS: ReadonlySet<string> = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "upgrade",
  "te",
  "trailer",
  "expect",
]);

export const NOT_A_HEADER_NAME = "not a valid header name";

/** Why `name` cannot be sent as a request header, or undefined when it can. */
export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return NOT_A_HEADER_NAME;
  if (CLIENT_FRAMING_HEADERS.has(name.toLowerCase())) {
    return `${name} is set by load-test itself (message framing and keep-alive; see --no-keepalive)`;
  }
  return undefined;
}

/** RFC 9110 §5.5 field value: visible characters, spaces and tabs, obs-text; no CR, LF or NUL. */
export const HEADER_VALUE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/**
 * Why `value` cannot be sent as a header value, or undefined when it can. A CR or LF would end
 * the header early (RFC 9112 §2.2), so the client refuses every request carrying it; the value
 * itself is never repeated, as it may be a secret.
 */
export function headerValueProblem(value: string): string | undefined {
  return HEADER_VALUE.test(value)
    ? undefined
    : "the value may hold only visible characters, spaces and tabs (no CR, LF or other control characters, RFC 9110 §5.5)";
}

/** A header value in a profile or case: a string or number that can be sent as it is. */
export const headerValueSchema = z
  .union([z.string(), z.number()], { error: "must be a string" })
  .refine((value) => headerValueProblem(String(value)) === undefined, {
    error: (issue) => headerValueProblem(String(issue.input)),
  });

/** A header name in a profile or case: a token, and not one the client frames messages with. */
export const headerNameSchema = z
  .string()
  .regex(TOKEN, { error: NOT_A_HEADER_NAME })
  .refine((name) => !CLIENT_FRAMING_HEADERS.has(name.toLowerCase()), {
    error: (issue) => headerNameProblem(String(issue.input)),
  });
