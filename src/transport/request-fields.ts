import { CLIENT_FRAMING_HEADERS, HEADER_VALUE, TOKEN } from "../config/headers.js";
import { InvalidRequestError } from "./errors.js";
import type { PreparedRequest } from "./request.js";

/** A request target as undici accepts it: no spaces, controls or characters beyond Latin-1. */
const PATH = /^[\u0021-\u00ff]+$/;

/** One header field of a request: as given, and its name in lower case. */
export interface RequestField {
  name: string;
  lowerName: string;
  value: string;
}

/**
 * The checks undici makes before writing (its lib/core/request.js), for both of our clients:
 * nothing is sent that would split or corrupt the request line, a header or a header block
 * (RFC 9112 §3, RFC 9110 §5.5). Throws `InvalidRequestError`; returns the header fields.
 */
export function checkedFields(request: PreparedRequest): RequestField[] {
  const { headers, method, path } = request;
  if (!TOKEN.test(method)) throw new InvalidRequestError(`invalid request method ${JSON.stringify(method)}`);
  if (!PATH.test(path)) throw new InvalidRequestError(`invalid request path ${JSON.stringify(path)}`);
  const fields: RequestField[] = [];
  for (let index = 0; index < headers.length; index += 2) {
    const name = headers[index] as string;
    const value = headers[index + 1] as string;
    const lowerName = name.toLowerCase();
    // Config validation rejects these (options.ts); a request built in code must not either.
    if (CLIENT_FRAMING_HEADERS.has(lowerName) || !TOKEN.test(name) || !HEADER_VALUE.test(value)) {
      throw new InvalidRequestError(`invalid request header ${JSON.stringify(name)}`);
    }
    fields.push({ name, lowerName, value });
  }
  return fields;
}

/** RFC 9110 §8.6: a request with a body says its length, and so does a POST, PUT or PATCH without one. */
export function declaresLength(method: string, bodyLength: number): boolean {
  return bodyLength > 0 || method === "POST" || method === "PUT" || method === "PATCH";
}
