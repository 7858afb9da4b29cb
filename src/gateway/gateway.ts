/**
 * The reference policy gateway: the methodology's "Agent", small enough to read in one sitting and fast
 * enough (>= 10,000 req/s on one core for policy-only requests) that a load test against it
 * measures the load generator, not the target.
 *
 *   POST /v1/execute  {"prompt": "...", "mode": "chat" | "llm"}  Authorization: Bearer <client-id>
 *   GET  /health
 *   GET  /metrics     Prometheus text, this gateway's own registry
 *
 * The hot path does no logging, builds one response string, and reads the body into at most one
 * concatenation.
 */
import { performance } from "node:perf_hooks";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { openAccessLog, type AccessLog } from "./access-log.js";
import { BodyCollector } from "./body.js";
import { createLeanServer, type LeanExchange } from "./lean-http.js";
import { evaluatePolicies, POLICIES, warmUpPolicies } from "./policies.js";
import { GatewayMetrics, type GatewayStats, type RejectReason, type RequestOutcome } from "./metrics.js";
import {
  createMockProvider,
  DEFAULT_LLM_CONCURRENCY,
  DEFAULT_LLM_LATENCY_MS,
  validateLatencyRange,
  type LatencyRangeMs,
} from "./mock-provider.js";

export interface GatewayOptions {
  /** Interface to bind; loopback by default so `load-test serve` is never exposed by accident. */
  host?: string;
  /** 0 (the default) picks a free ephemeral port; read it back from `RunningGateway.port`. */
  port?: number;
  /** Uniform latency range of the mock LLM provider for `mode: "llm"`; default 200..2000 ms. */
  llmLatencyMs?: LatencyRangeMs;
  /** Largest accepted request body; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * The HTTP/1.1 server underneath: "node" (node:http) or "lean" (./lean-http.ts, llhttp on raw
   * sockets, about 20% less CPU per request here). Both send the same responses. Default "lean".
   */
  httpServer?: HttpServerKind;
  /** Completions the mock provider answers at once (its pool); default 256. */
  llmConcurrency?: number;
  /** Append an access and error log to this file (`serve --log`). */
  logFile?: string;
}

export type HttpServerKind = "node" | "lean";
export const HTTP_SERVER_KINDS: readonly HttpServerKind[] = ["node", "lean"];

export interface RunningGateway {
  /** `http://host:port`, IPv6 hosts in brackets. */
  url: string;
  host: string;
  port: number;
  /** The gateway's counters, as /metrics would report them. */
  stats(): GatewayStats;
  /** Stops listening and destroys every connection, idle keep-alive ones included. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_GATEWAY_HOST = "127.0.0.1";
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_HTTP_SERVER: HttpServerKind = "lean";
export { DEFAULT_LLM_CONCURRENCY, DEFAULT_LLM_LATENCY_MS };

/**
 * 65 s outlives the 60 s idle timeout of common load balancers and of most client pools, so the
 * client, not the gateway, closes an idle connection and never races a request against our FIN.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Above keepAliveTimeout, or Node may cut an idle keep-alive socket early (nodejs/node#27363). */
const HEADERS_TIMEOUT_MS = 66_000;

/** RFC 6750 §2.1: "Bearer" (case-insensitive scheme, RFC 9110 §11.1) then one b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

const JSON_HEADERS = "application/json; charset=utf-8";

/** Fixed error bodies, serialised once. */
const ERRORS = {
  unauthorized: errorBody(
    "unauthorized",
    'missing or malformed Authorization header; expected "Bearer <client-id>"',
  ),
  invalidJson: errorBody("bad_request", "request body is not valid JSON"),
  notObject: errorBody("bad_request", "request body must be a JSON object"),
  prompt: errorBody("bad_request", '"prompt" is required and must be a non-empty string'),
  mode: errorBody("bad_request", '"mode" must be "chat" or "llm"'),
  tooLarge: (max: number) => errorBody("payload_too_large", `request body exceeds ${max} bytes`),
  executeMethod: errorBody("method_not_allowed", "use POST for /v1/execute"),
  readMethod: errorBody("method_not_allowed", "use GET or HEAD"),
  notFound: errorBody("not_found", "no such endpoint; see /v1/execute, /health, /metrics"),
  provider: errorBody("provider_error", "the LLM provider failed"),
  internal: errorBody("internal_error", "internal error"),
} as const;

const NON_BLANK = /\S/;

/**
 * The constant parts of the two policy-only responses, serialised once; per request only the
 * numbers are spliced in, so the hot path builds one string and no intermediate objects. Policy
 * ids are `[a-z0-9-]+` (checked by the policy tests), so they need no JSON escaping.
 */
const ALLOWED_HEAD = `{"success":true,"blocked":false,"result":"Request approved by the policy engine.","policy_info":{`;
const BLOCKED_HEAD = new Map(
  POLICIES.map((p) => [
    p.id,
    `{"success":false,"blocked":true,"block_reason":${JSON.stringify(p.description)},"policy_info":{`,
  ]),
);

function errorBody(code: string, message: string): string {
  return JSON.stringify({ success: false, blocked: false, error: message, code });
}

function validateOptions(opts: GatewayOptions): Required<Omit<GatewayOptions, "logFile">> {
  const host = opts.host ?? DEFAULT_GATEWAY_HOST;
  const httpServer = opts.httpServer ?? DEFAULT_HTTP_SERVER;
  if (!HTTP_SERVER_KINDS.includes(httpServer)) {
    throw new RangeError(
      `httpServer must be one of ${HTTP_SERVER_KINDS.join(", ")}; got ${String(httpServer)}`,
    );
  }
  const port = opts.port ?? 0;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const llmLatencyMs = opts.llmLatencyMs ?? DEFAULT_LLM_LATENCY_MS;
  if (typeof host !== "string" || host.length === 0) throw new TypeError("host must be a non-empty string");
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`port must be an integer in 0..65535; got ${port}`);
  }
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new RangeError(`maxBodyBytes must be a positive integer; got ${maxBodyBytes}`);
  }
  validateLatencyRange(llmLatencyMs);
  const llmConcurrency = opts.llmConcurrency ?? DEFAULT_LLM_CONCURRENCY;
  return { host, port, maxBodyBytes, llmLatencyMs, httpServer, llmConcurrency };
}

/**
 * One request and its response as the gateway's handlers see them, whichever server runs
 * underneath: the lean server's own exchange, or `NodeExchange` over node:http's pair.
 */
type Exchange = LeanExchange;

/** node:http's request and response behind the `Exchange` the handlers use. */
class NodeExchange implements Exchange {
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  get method(): string {
    return this.req.method ?? "GET";
  }
  get url(): string {
    return this.req.url ?? "/";
  }
  get versionMajor(): number {
    return this.req.httpVersionMajor;
  }
  get versionMinor(): number {
    return this.req.httpVersionMinor;
  }
  get answered(): boolean {
    return this.res.headersSent || this.res.destroyed;
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  }

  setHeader(name: string, value: string): void {
    this.res.setHeader(name, value);
  }

  respond(status: number, fields: readonly string[], body: string): void {
    if (this.answered) return;
    // A flat [name, value, ...] array goes straight into the header block; setHeader() would first
    // store each header in the response's header map. Headers set earlier by the caller (connection,
    // www-authenticate) still merge in.
    this.res.writeHead(status, fields as string[]);
    this.res.end(body);
  }

  writeContinue(): void {
    this.res.writeContinue();
  }

  readBody(maxBytes: number, onBody: (body: Buffer | undefined) => void, onOverflow: () => void): void {
    const req = this.req;
    const body = new BodyCollector(maxBytes);
    const onData = (chunk: Buffer): void => {
      if (body.add(chunk)) return;
      // A chunked body without Content-Length ran over: stop buffering, discard the rest.
      req.off("data", onData);
      req.resume();
      onOverflow();
    };
    req.on("data", onData);
    req.on("end", () => {
      if (!body.overflowed) onBody(body.take());
    });
    // No 'error' listener: a client that vanishes mid-body gets no answer, Node has already
    // destroyed the socket, and IncomingMessage emits 'error' only when someone listens.
  }

  onAbandon(callback: () => void): void {
    // 'close' also follows a response that was sent: the callback tells the two apart.
    this.res.once("close", callback);
  }
}

export async function startGateway(opts: GatewayOptions = {}): Promise<RunningGateway> {
  const { host, port, maxBodyBytes, llmLatencyMs, httpServer, llmConcurrency } = validateOptions(opts);
  warmUpPolicies();
  const provider = createMockProvider(llmLatencyMs, Math.random, llmConcurrency);
  const metrics = new GatewayMetrics(provider.name);
  metrics.watchProcess(provider);
  const log: AccessLog | undefined = opts.logFile === undefined ? undefined : openAccessLog(opts.logFile);
  const startedAt = Date.now();
  const tooLargeBody = ERRORS.tooLarge(maxBodyBytes);

  const healthBody = (): string =>
    JSON.stringify({
      status: "ok",
      policies: POLICIES.length,
      provider: provider.name,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
    });

  const route = (ex: Exchange): void => {
    const url = ex.url;
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (path === "/v1/execute") {
      execute(ex);
    } else if (path === "/health") {
      if (isRead(ex)) send(ex, 200, healthBody());
      else send(ex, 405, ERRORS.readMethod, "GET, HEAD");
    } else if (path === "/metrics") {
      if (isRead(ex)) serveMetrics(ex);
      else send(ex, 405, ERRORS.readMethod, "GET, HEAD");
    } else {
      send(ex, 404, ERRORS.notFound);
    }
  };

  function serveMetrics(ex: Exchange): void {
    metrics.text().then(
      (text) =>
        ex.respond(
          200,
          ["content-type", metrics.contentType, "content-length", String(Buffer.byteLength(text))],
          text,
        ),
      () => send(ex, 500, ERRORS.internal),
    );
  }

  function execute(ex: Exchange): void {
    const started = performance.now();
    metrics.requestStarted();
    // Counted out once: when answered, or when the client vanished first (mid-body, or while
    // the mock provider was answering): then nothing is answered and the in-flight gauge drops.
    let counted = false;
    const finish = (status: number, body: string, outcome: RequestOutcome, allow?: string): void => {
      send(ex, status, body, allow);
      if (counted) return;
      counted = true;
      const durationSec = (performance.now() - started) / 1000;
      metrics.requestFinished(outcome, durationSec);
      log?.request(ex.method, "/v1/execute", status, outcome, durationSec * 1000);
    };
    ex.onAbandon(() => {
      if (counted) return;
      counted = true;
      metrics.requestAbandoned();
    });
    // A client that asked for 100-continue and is refused before it gets one will not send its
    // body, so the connection cannot carry another request (RFC 9110 §10.1.1): close it.
    let awaitingContinue = ex.header("expect")?.toLowerCase() === "100-continue";
    const reject = (status: number, body: string, reason: RejectReason, allow?: string): void => {
      if (awaitingContinue) ex.setHeader("connection", "close");
      metrics.rejected(reason);
      finish(status, body, "rejected", allow);
    };

    if (ex.method !== "POST") return reject(405, ERRORS.executeMethod, "method_not_allowed", "POST");
    // Authentication comes before the body is read: an unauthenticated client gets no parsing work.
    const auth = ex.header("authorization");
    if (auth === undefined || !BEARER.test(auth)) {
      ex.setHeader("www-authenticate", 'Bearer realm="load-test"'); // RFC 6750 §3, RFC 9110 §11.6.1
      return reject(401, ERRORS.unauthorized, "unauthorized");
    }
    const declared = ex.header("content-length");
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      // RFC 9110 §15.5.14: the server may close the connection rather than read the content.
      ex.setHeader("connection", "close");
      return reject(413, tooLargeBody, "payload_too_large");
    }

    if (awaitingContinue) {
      ex.writeContinue();
      awaitingContinue = false;
    }

    ex.readBody(
      maxBodyBytes,
      (body) => {
        try {
          handleBody(body === undefined ? "" : body.toString("utf8"));
        } catch {
          finish(500, ERRORS.internal, "error");
        }
      },
      () => {
        // A chunked body without Content-Length ran over: answer now and close.
        ex.setHeader("connection", "close");
        reject(413, tooLargeBody, "payload_too_large");
      },
    );

    function handleBody(text: string): void {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return reject(400, ERRORS.invalidJson, "bad_request");
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return reject(400, ERRORS.notObject, "bad_request");
      }
      const { prompt, mode } = parsed as { prompt?: unknown; mode?: unknown };
      if (typeof prompt !== "string" || !NON_BLANK.test(prompt)) {
        return reject(400, ERRORS.prompt, "bad_request");
      }
      if (mode !== undefined && mode !== "chat" && mode !== "llm") {
        return reject(400, ERRORS.mode, "bad_request");
      }

      const policyStarted = performance.now();
      const verdict = evaluatePolicies(prompt);
      const processingMs = roundMs(performance.now() - policyStarted);
      metrics.policiesRan(verdict.policiesEvaluated, verdict.policyId, verdict.logged);
      const logged = verdict.logged.length === 0 ? "[]" : JSON.stringify(verdict.logged);

      if (verdict.blocked) {
        const id = verdict.policyId!;
        return finish(
          403,
          `${BLOCKED_HEAD.get(id)}"policies_evaluated":${verdict.policiesEvaluated},"processing_time_ms":${processingMs},"policy_id":"${id}","logged_policies":${logged}}}`,
          "blocked",
        );
      }
      if (mode !== "llm") {
        return finish(
          200,
          `${ALLOWED_HEAD}"policies_evaluated":${verdict.policiesEvaluated},"processing_time_ms":${processingMs},"logged_policies":${logged}}}`,
          "allowed",
        );
      }
      const policyInfo = {
        policies_evaluated: verdict.policiesEvaluated,
        processing_time_ms: processingMs,
        logged_policies: verdict.logged,
      };
      // Policies run before the provider is called (docs/METHODOLOGY.md: the Agent checks every prompt first).
      provider.complete(prompt).then(
        (completion) => {
          metrics.llmCompleted(completion.latencyMs / 1000);
          finish(
            200,
            JSON.stringify({
              success: true,
              blocked: false,
              result: completion.text,
              provider: provider.name,
              provider_latency_ms: roundMs(completion.latencyMs),
              policy_info: policyInfo,
            }),
            "allowed",
          );
        },
        (error: unknown) => {
          log?.line(
            "ERROR",
            `LLM provider ${provider.name} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
          finish(502, ERRORS.provider, "error");
        },
      );
    }
  }

  const listening =
    httpServer === "lean" ? await listenLean(route, host, port) : await listenNode(route, host, port);
  const boundPort = listening.port;
  log?.line("INFO", `gateway listening on ${host}:${boundPort}`);
  let closing: Promise<void> | undefined;

  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`,
    host,
    port: boundPort,
    stats: () => metrics.snapshot(),
    close(): Promise<void> {
      closing ??= (async () => {
        provider.close();
        await listening.close();
        log?.line("INFO", "gateway stopped");
        await log?.close();
      })();
      return closing;
    },
  };
}

interface Listening {
  port: number;
  /** Stops listening and destroys every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

async function listenNode(route: (ex: Exchange) => void, host: string, port: number): Promise<Listening> {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => route(new NodeExchange(req, res));
  const server: Server = createServer(
    { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, noDelay: true },
    onRequest,
  );
  // With this listener Node no longer answers "Expect: 100-continue" itself: execute() sends the
  // 100 only after auth and the declared size pass, so a rejected client never uploads its body
  // (RFC 9110 §10.1.1).
  server.on("checkContinue", onRequest);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // server.close() only stops accepting; keep-alive sockets (65 s) would hold it open.
        server.closeAllConnections();
      }),
  };
}

async function listenLean(route: (ex: Exchange) => void, host: string, port: number): Promise<Listening> {
  const lean = createLeanServer(
    {
      keepHeaders: ["authorization", "content-length", "expect"],
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
    },
    route,
  );
  const address = await lean.listen(port, host);
  return { port: address.port, close: () => lean.close() };
}

function isRead(ex: Exchange): boolean {
  return ex.method === "GET" || ex.method === "HEAD";
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function send(ex: Exchange, status: number, body: string, allow?: string): void {
  if (ex.answered) return;
  const length = String(Buffer.byteLength(body));
  ex.respond(
    status,
    allow === undefined
      ? ["content-type", JSON_HEADERS, "content-length", length]
      : // RFC 9110 §15.5.6: a 405 response must list the allowed methods.
        ["content-type", JSON_HEADERS, "content-length", length, "allow", allow],
    body,
  );
}
