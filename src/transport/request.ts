/** What the transport sends and how it reports the answer, shared by every protocol's client. */

/** A request built once per test case and reused for every send (no per-request JSON encoding). */
export interface PreparedRequest {
  method: string;
  path: string;
  /** Flat [name, value, name, value…] as undici takes it. */
  headers: string[];
  body: Buffer | undefined;
}

/**
 * Response fields asked for by name (`TransportOptions.responseHeaders`) that a response carried,
 * in its head or its trailers, by lower-case name; a field that came more than once has its
 * values joined with ", " in the order received (RFC 9110 §5.3).
 */
export type ResponseHeaders = ReadonlyMap<string, string>;

/**
 * A request's end. `writtenAtMs`: clock ms when it was first written on a connection (over HTTP/2,
 * when its stream opened), NaN when it never was (its connection failed, or it timed out waiting
 * for a connection or a stream slot): service time counts from there, the wait before is queue time.
 * `headers`: the fields asked for that arrived, null when none was asked for or none arrived.
 */
export type ResponseCallback = (
  error: Error | null,
  statusCode: number,
  body: Buffer | null,
  writtenAtMs: number,
  headers: ResponseHeaders | null,
) => void;
