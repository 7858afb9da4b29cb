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

/** A header name in a profile or case: a token, and not one the client frames messages with. */
export const headerNameSchema = z
  .string()
  .regex(TOKEN, { error: NOT_A_HEADER_NAME })
  .refine((name) => !CLIENT_FRAMING_HEADERS.has(name.toLowerCase()), {
    error: (issue) => headerNameProblem(String(issue.input)),
  });
