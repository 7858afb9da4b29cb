/**
 * One bounded GET for the monitor (docs/MONITOR.md "A source that misbehaves"): it ends by the
 * deadline whatever the server does (no answer, a trickle of bytes), and reads at most
 * `maxBytes`, so a slow or huge source costs the run a warning, never a stall.
 */
import { request } from "undici";

export class FetchProblem extends Error {
  constructor(
    message: string,
    /** The body of an HTTP error answer (Prometheus explains a bad query there). */
    readonly body = "",
  ) {
    super(message);
  }
}

export interface FetchOptions {
  timeoutMs: number;
  maxBytes: number;
  accept: string;
  /**
   * Receives a successful answer's body as it arrives (then `text` is empty), so the whole page
   * is never held; an error it throws ends the read and is thrown as is.
   */
  sink?: (chunk: Buffer) => void;
}

/** A URL for messages and results: no credentials, no query string. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

function authorization(url: URL): Record<string, string> {
  if (url.username === "" && url.password === "") return {};
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

export async function fetchBounded(
  url: string,
  options: FetchOptions,
): Promise<{ text: string; contentType: string }> {
  const parsed = new URL(url);
  const headers = { accept: options.accept, ...authorization(parsed) };
  parsed.username = "";
  parsed.password = "";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs);
  let sinkError: unknown;
  try {
    const response = await request(parsed, {
      method: "GET",
      headers,
      signal: abort.signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const chunks: Buffer[] = [];
    const sink = response.statusCode < 400 ? options.sink : undefined;
    let bytes = 0;
    for await (const chunk of response.body) {
      bytes += (chunk as Buffer).length;
      if (bytes > options.maxBytes) {
        abort.abort();
        throw new FetchProblem(`larger than ${options.maxBytes} bytes`);
      }
      if (!sink) chunks.push(chunk as Buffer);
      else
        try {
          sink(chunk as Buffer);
        } catch (error) {
          sinkError = error;
          abort.abort();
          throw error;
        }
    }
    if (response.statusCode >= 400)
      throw new FetchProblem(`HTTP ${response.statusCode}`, Buffer.concat(chunks).toString("utf8", 0, 2048));
    const contentType = String(response.headers["content-type"] ?? "");
    return { text: Buffer.concat(chunks).toString("utf8"), contentType };
  } catch (error) {
    if (error instanceof FetchProblem || (sinkError !== undefined && error === sinkError)) throw error;
    const code = (error as { code?: string }).code;
    // undici's own timers (armed with the same deadline) may fire before ours: the same cause.
    if (abort.signal.aborted || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT")
      throw new FetchProblem(`no answer within ${options.timeoutMs} ms`);
    throw new FetchProblem(
      code === "ECONNREFUSED" ? "connection refused" : (code ?? (error as Error).message),
    );
  } finally {
    clearTimeout(timer);
  }
}
