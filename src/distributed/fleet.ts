import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { InputError } from "../config/errors.js";
import type { ShardReport, WorkerInput } from "../engine/thread-protocol.js";
import type { ShardSpec } from "./flags.js";
import {
  isRegisterRequest,
  isShardMessage,
  MAX_BODY_BYTES,
  TICK_MS,
  TOKEN_HEADER,
  type Command,
  type ShardMessage,
} from "./remote-protocol.js";

/** The longest a request's body may take to arrive. */
const BODY_TIMEOUT_MS = 10_000;

/** The shards' registration did not complete (exit 2, one line naming the missing shards). */
export class RegistrationError extends Error {
  constructor(
    message: string,
    /** Ctrl-C during the registration (exit 130), not its time running out (exit 2). */
    readonly interrupted = false,
  ) {
    super(message);
  }
}

export interface FleetOptions {
  shards: number;
  host: string;
  port: number;
  /** How long the shards have to register, from the moment the coordinator listens. */
  registerTimeoutMs: number;
  /** A shard silent this long (no report, no heartbeat) is lost. */
  lostAfterMs: number;
  /** The run definition and stripe shard K receives. */
  inputFor(shard: ShardSpec): WorkerInput;
  /** One line for the operator: a shard registered, left, was lost (the CLI prints it). */
  onEvent?(line: string): void;
}

/** Why a shard stopped counting, and when (epoch ms of its last contact). */
export interface Loss {
  reason: string;
  atEpochMs: number;
}

type Waiter = { type: ShardMessage["type"]; resolve: (message: ShardMessage | undefined) => void };

/** One registered shard process: its command stream and the replies nobody asked for yet. */
export class RemoteShard {
  latest: ShardReport | undefined;
  lost: Loss | undefined;
  /** It said "closed": the end of its stream is no loss. */
  done = false;
  lastContactEpochMs = Date.now();
  private waiters: Waiter[] = [];
  private readonly unclaimed: ShardMessage[] = [];

  constructor(
    readonly spec: ShardSpec,
    readonly token: string,
    readonly address: string,
    private readonly stream: ServerResponse,
  ) {}

  get live(): boolean {
    return this.lost === undefined;
  }

  send(command: Command): void {
    if (this.lost || this.stream.writableEnded || this.stream.destroyed) return;
    this.stream.write(`${JSON.stringify(command)}\n`);
  }

  /** The next message of `type`, or undefined once the shard is lost. */
  next<T extends ShardMessage["type"]>(type: T): Promise<Extract<ShardMessage, { type: T }> | undefined> {
    if (this.lost) return Promise.resolve(undefined);
    const index = this.unclaimed.findIndex((message) => message.type === type);
    if (index >= 0)
      return Promise.resolve(this.unclaimed.splice(index, 1)[0] as Extract<ShardMessage, { type: T }>);
    return new Promise((resolve) =>
      this.waiters.push({ type, resolve: resolve as (message: ShardMessage | undefined) => void }),
    );
  }

  deliver(message: ShardMessage): void {
    const index = this.waiters.findIndex((waiter) => waiter.type === message.type);
    if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(message);
    else this.unclaimed.push(message);
  }

  markLost(loss: Loss): void {
    if (this.lost) return;
    this.lost = loss;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve(undefined);
    this.end();
  }

  end(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }
}

/**
 * The coordinator's side of a live sharded run (docs/DISTRIBUTED.md "The coordinator"): an
 * HTTP/1.1 server where N shard processes register, each holding one streamed response open for
 * the coordinator's commands, and posting their replies and per-second reports. A shard whose
 * stream closes or that stays silent for `lostAfterMs` is lost: named, and left out from then on.
 */
export class Fleet {
  readonly url: string;
  readonly count: number;
  private readonly slots: Array<RemoteShard | undefined>;
  private readonly listenedAtMs = Date.now();
  private registered: (() => void) | undefined;
  private readonly whenAllRegistered: Promise<void>;
  private closed = false;
  private readonly ticker: NodeJS.Timeout;
  /** Set once the first command goes out: from then on a shard that goes away is lost, not replaced. */
  private begun = false;
  private lossListener: ((shard: RemoteShard) => void) | undefined;
  private reportListener: ((shard: RemoteShard, report: ShardReport) => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: FleetOptions,
  ) {
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
    this.count = options.shards;
    this.slots = new Array<RemoteShard | undefined>(options.shards).fill(undefined);
    this.whenAllRegistered = new Promise((resolve) => (this.registered = resolve));
    this.ticker = setInterval(() => this.tick(), TICK_MS / 2);
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      this.route(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          reply(response, 500, error instanceof Error ? error.message : String(error));
        else response.destroy();
      });
    });
  }

  /** Listens on `--listen HOST:PORT`; a port in use or an address not here is invalid input. */
  static async listen(options: FleetOptions): Promise<Fleet> {
    // No request timeout: a registration's answer is the shard's command stream for the whole run.
    const server = createServer({ requestTimeout: 0, headersTimeout: 10_000, keepAliveTimeout: 5_000 });
    // Each shard holds its stream and up to two connections for its messages.
    server.maxConnections = options.shards * 4 + 16;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((error: Error) => {
      throw new InputError("--listen", `cannot listen on ${options.host}:${options.port}: ${error.message}`);
    });
    return new Fleet(server, options);
  }

  /** The shards, in stripe order, once every one has registered. */
  get shards(): RemoteShard[] {
    return this.slots.filter((shard): shard is RemoteShard => shard !== undefined);
  }

  onLoss(listener: (shard: RemoteShard) => void): void {
    this.lossListener = listener;
  }

  onReport(listener: (shard: RemoteShard, report: ShardReport) => void): void {
    this.reportListener = listener;
  }

  /**
   * Resolves once all N shards have registered; rejects (RegistrationError) naming the missing
   * ones when the registration time is over, or when `signal` aborts (Ctrl-C).
   */
  async whenRegistered(signal?: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      const remainingMs = this.listenedAtMs + this.options.registerTimeoutMs - Date.now();
      timer = setTimeout(
        () =>
          reject(
            new RegistrationError(
              `coordinate: ${this.missingText()} not registered within --register-timeout ${formatSeconds(this.options.registerTimeoutMs)} (listening on ${this.url})`,
            ),
          ),
        Math.max(0, remainingMs),
      );
      onAbort = () =>
        reject(
          new RegistrationError(
            `coordinate: interrupted while ${this.missingText()} had not registered`,
            true,
          ),
        );
      if (signal?.aborted) onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([this.whenAllRegistered, failed]);
      this.begun = true;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Ends every command stream and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    for (const shard of this.shards) shard.end();
    // Answers already written (the last 204s) get out first; a connection still open after a
    // second is cut.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const cut = setTimeout(() => this.server.closeAllConnections(), 1000);
    await closed;
    clearTimeout(cut);
  }

  private missingText(): string {
    const missing = this.slots.flatMap((shard, index) => (shard ? [] : [`${index}/${this.count}`]));
    return `shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
  }

  /** Pings keep each stream (and the proxies on its way) alive; silent shards are lost. */
  private tick(): void {
    const nowMs = Date.now();
    for (const shard of this.shards) {
      if (!shard.live || shard.done) continue;
      shard.send({ type: "ping" });
      if (this.begun && nowMs - shard.lastContactEpochMs > this.options.lostAfterMs)
        this.lose(shard, {
          reason: `no report for ${formatSeconds(nowMs - shard.lastContactEpochMs)}`,
          atEpochMs: shard.lastContactEpochMs,
        });
    }
  }

  private lose(shard: RemoteShard, loss: Loss): void {
    if (!shard.live || shard.done) return;
    shard.markLost(loss);
    this.lossListener?.(shard);
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? "/";
    if (request.method === "POST" && url === "/v1/register") return this.register(request, response);
    const match = /^\/v1\/shards\/(\d{1,6})\/messages$/.exec(url);
    if (request.method === "POST" && match) return this.message(Number(match[1]), request, response);
    request.resume();
    reply(response, 404, "not found: POST /v1/register or /v1/shards/K/messages");
  }

  private async register(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJson(request, response);
    if (body === undefined) return;
    if (!isRegisterRequest(body))
      return reply(
        response,
        400,
        "expected {version: 1, shard?: {index, count}}: is the shard's load-test the same version?",
      );
    const index = this.slotFor(body.shard, response);
    if (index === undefined) return;
    const spec = { index, count: this.count };
    const token = randomUUID();
    response.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    response.socket?.setNoDelay(true);
    const address = `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? "?"}`;
    const shard = new RemoteShard(spec, token, address, response);
    this.slots[index] = shard;
    shard.send({ type: "assign", shard: spec, token, input: this.options.inputFor(spec) });
    this.options.onEvent?.(
      `shard ${index}/${this.count} registered from ${address} (${this.shards.length} of ${this.count})`,
    );
    response.on("close", () => this.streamClosed(shard));
    if (this.shards.length === this.count) this.registered?.();
  }

  /** The stripe a registering shard gets: the one it asks for, or the first free one. */
  private slotFor(asked: ShardSpec | undefined, response: ServerResponse): number | undefined {
    if (this.begun) {
      reply(response, 409, `the run has begun with all ${this.count} shards; this shard is not part of it`);
      return undefined;
    }
    if (asked === undefined) {
      const free = this.slots.findIndex((shard) => shard === undefined);
      if (free < 0) reply(response, 409, `all ${this.count} shards are registered`);
      return free < 0 ? undefined : free;
    }
    if (asked.count !== this.count || asked.index < 0 || asked.index >= asked.count) {
      reply(
        response,
        409,
        `shard ${asked.index}/${asked.count} is not one of this run's ${this.count} shards (0/${this.count} … ${this.count - 1}/${this.count})`,
      );
      return undefined;
    }
    if (this.slots[asked.index]) {
      reply(response, 409, `shard ${asked.index}/${this.count} is already registered`);
      return undefined;
    }
    return asked.index;
  }

  /** Before the run begins a shard that leaves frees its stripe for another; after, it is lost. */
  private streamClosed(shard: RemoteShard): void {
    if (this.closed || shard.done || !shard.live) return;
    if (!this.begun) {
      shard.markLost({ reason: "left before the run began", atEpochMs: Date.now() });
      if (this.slots[shard.spec.index] === shard) this.slots[shard.spec.index] = undefined;
      this.options.onEvent?.(
        `shard ${shard.spec.index}/${this.count} left before the run began; its stripe is free again`,
      );
      return;
    }
    this.lose(shard, { reason: "connection closed", atEpochMs: Date.now() });
  }

  private async message(index: number, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const shard = this.slots[index];
    const token = request.headers[TOKEN_HEADER];
    if (!shard || token !== shard.token) {
      request.resume();
      return reply(response, 403, `not a registered shard of this run: ${index}/${this.count}`);
    }
    const body = await readJson(request, response);
    if (body === undefined) return;
    if (!isShardMessage(body)) return reply(response, 400, "not a shard message");
    if (!shard.live)
      return reply(response, 410, `shard ${index}/${this.count} was lost: ${shard.lost?.reason ?? ""}`);
    shard.lastContactEpochMs = Date.now();
    response.writeHead(204).end();
    if (body.type === "report" || body.type === "closed" || body.type === "left") {
      if (body.report) {
        shard.latest = body.report;
        this.reportListener?.(shard, body.report);
      }
    }
    if (body.type === "closed") shard.done = true;
    if (body.type === "left") return this.lose(shard, { reason: body.reason, atEpochMs: Date.now() });
    if (body.type === "failed")
      return this.lose(shard, { reason: `failed: ${body.message}`, atEpochMs: Date.now() });
    if (body.type !== "report" && body.type !== "heartbeat") shard.deliver(body);
  }

  /** Marks a shard lost from outside (it sent a report that cannot be merged, it did not close). */
  loseShard(shard: RemoteShard, reason: string): void {
    this.lose(shard, { reason, atEpochMs: Date.now() });
  }
}

function reply(response: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}

/** The body as JSON, or undefined once a 400/413 was sent for it. */
async function readJson(request: IncomingMessage, response: ServerResponse): Promise<unknown> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    reply(response, 413, `body over ${MAX_BODY_BYTES} bytes`);
    request.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // A body that trickles in (or never ends) does not hold a connection for ever.
  const timer = setTimeout(() => request.destroy(), BODY_TIMEOUT_MS);
  try {
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        reply(response, 413, `body over ${MAX_BODY_BYTES} bytes`);
        request.destroy();
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
  if (!request.complete) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    reply(response, 400, "the body is not JSON");
    return undefined;
  }
}

export function formatSeconds(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 100) / 10}s`;
}
