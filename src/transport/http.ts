import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Pool, buildConnector, type Dispatcher } from "undici";

export interface TransportOptions {
  /** `http(s)://host:port` of the target. */
  origin: string;
  /** Connection cap: over HTTP/1.1 one request per connection, so at most `--workers` connections. */
  connections: number;
  /** Per-request timeout from the actual send, ms. */
  timeoutMs: number;
}

/** A request built once per test case and reused for every send (no per-request JSON encoding). */
export interface PreparedRequest {
  method: string;
  path: string;
  /** Flat [name, value, name, value…] as undici takes it. */
  headers: string[];
  body: Buffer | undefined;
}

export type ResponseCallback = (error: Error | null, statusCode: number, body: Buffer | null) => void;

/** Bodies are read only to classify the response (`"blocked": true`); more than this is counted, not kept. */
const MAX_KEPT_BODY_BYTES = 64 * 1024;

export interface ConnectionStats {
  opened: number;
  byProtocol: Record<string, number>;
  byTlsVersion: Record<string, number>;
}

class TimeoutError extends Error {
  readonly code = "LOAD_TEST_TIMEOUT";
  constructor(timeoutMs: number) {
    super(`request exceeded --timeout ${timeoutMs}ms`);
  }
}

/**
 * One in-flight request as an undici dispatch handler. `dispatch()` with a handler object
 * drives ~40% more requests/s than `request()` on this class of machine (no stream or promise
 * per request), which matters when the generator must not be the bottleneck.
 */
class ExchangeHandler implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  statusCode = 0;
  chunks: Buffer[] = [];
  keptBytes = 0;
  done = false;
  timedOut: TimeoutError | undefined;

  constructor(
    readonly transport: HttpTransport,
    readonly id: number,
    readonly deadlineMs: number,
    readonly callback: ResponseCallback,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut) controller.abort(this.timedOut);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.statusCode = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.keptBytes < MAX_KEPT_BODY_BYTES) {
      this.chunks.push(chunk);
      this.keptBytes += chunk.length;
    }
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    this.transport.settled(this.id);
    const chunks = this.chunks;
    const body =
      chunks.length === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.callback(null, this.statusCode, body);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.done) return;
    this.done = true;
    this.transport.settled(this.id);
    this.callback(this.timedOut ?? error, this.statusCode, null);
  }

  expire(): void {
    if (this.done) return;
    this.timedOut = new TimeoutError(this.transport.timeoutMs);
    if (this.controller) this.controller.abort(this.timedOut);
  }
}

/**
 * The HTTP client side: an undici Pool with keep-alive (connection reuse, the spec's
 * "Realistic Client Behavior"), a connection counter and one shared timeout sweep instead of
 * a timer per request.
 */
export class HttpTransport {
  readonly timeoutMs: number;
  readonly stats: ConnectionStats = { opened: 0, byProtocol: {}, byTlsVersion: {} };
  private readonly pool: Pool;
  private readonly inFlight = new Map<number, ExchangeHandler>();
  private nextId = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly origin: string;

  constructor(
    options: TransportOptions,
    private readonly nowMs: () => number,
  ) {
    this.timeoutMs = options.timeoutMs;
    this.origin = options.origin;
    const baseConnector = buildConnector({ timeout: options.timeoutMs });
    const stats = this.stats;
    this.pool = new Pool(options.origin, {
      connections: options.connections,
      pipelining: 1,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: (connectOptions, callback) => {
        baseConnector(connectOptions, (error, socket) => {
          if (!error && socket) recordConnection(stats, socket);
          (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
        });
      },
    });
  }

  send(request: PreparedRequest, callback: ResponseCallback): void {
    const id = this.nextId++;
    const handler = new ExchangeHandler(this, id, this.nowMs() + this.timeoutMs, callback);
    this.inFlight.set(id, handler);
    this.armSweep();
    try {
      this.pool.dispatch(
        {
          origin: this.origin,
          path: request.path,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body,
        },
        handler,
      );
    } catch (error) {
      handler.onResponseError(undefined as unknown as Dispatcher.DispatchController, error as Error);
    }
  }

  /** Called by a handler when it ends, so the sweep forgets it. */
  settled(id: number): void {
    this.inFlight.delete(id);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Aborts every request still in flight (end of an interrupted run). */
  abortAll(): void {
    for (const handler of this.inFlight.values()) handler.expire();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.pool.destroy().catch(() => undefined);
  }

  private armSweep(): void {
    if (this.sweepTimer) return;
    // Map iteration follows insertion order, which is send order, and every request has the same
    // timeout, so the sweep stops at the first handler that is not yet due: O(expired + 1).
    const periodMs = Math.max(5, Math.min(100, Math.floor(this.timeoutMs / 10)));
    this.sweepTimer = setInterval(() => {
      const nowMs = this.nowMs();
      for (const handler of this.inFlight.values()) {
        if (handler.deadlineMs > nowMs) break;
        if (!handler.timedOut) handler.expire();
      }
      if (this.inFlight.size === 0 && this.sweepTimer) {
        clearInterval(this.sweepTimer);
        this.sweepTimer = undefined;
      }
    }, periodMs);
    this.sweepTimer.unref();
  }
}

function recordConnection(stats: ConnectionStats, socket: Socket): void {
  stats.opened++;
  const tlsSocket = socket as Partial<TLSSocket>;
  const isTls = typeof tlsSocket.getProtocol === "function";
  const protocol = isTls && tlsSocket.alpnProtocol === "h2" ? "h2" : "http/1.1";
  stats.byProtocol[protocol] = (stats.byProtocol[protocol] ?? 0) + 1;
  const tlsVersion = isTls ? (tlsSocket.getProtocol?.() ?? "unknown") : "none";
  stats.byTlsVersion[tlsVersion] = (stats.byTlsVersion[tlsVersion] ?? 0) + 1;
}
