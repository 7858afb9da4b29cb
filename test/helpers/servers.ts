import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { createServer as createHttpsServer } from "node:https";
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2Session,
  type Http2Server,
  type Http2SecureServer,
  type ServerHttp2Stream,
} from "node:http2";
import { createSecureContext, type SecureContext, type SecureVersion, type TLSSocket } from "node:tls";
import {
  HttpTransport,
  type PreparedRequest,
  type ResponseHeaders,
  type TransportOptions,
} from "../../src/transport/http.js";

export interface LocalServer {
  url: string;
  /** performance.now() of every request's arrival (after its body was read). */
  arrivalsMs: number[];
  /** Parsed JSON bodies, in arrival order. */
  bodies: unknown[];
  /** Authorization headers seen. */
  authorizations: Array<string | undefined>;
  connections: number;
  close(): Promise<void>;
}

export type Responder = (request: IncomingMessage, body: string, response: ServerResponse) => void;

/** A real HTTP/1.1 server on an ephemeral loopback port, recording what it receives. */
export async function startLocalServer(respond: Responder): Promise<LocalServer> {
  const state = {
    arrivalsMs: [] as number[],
    bodies: [] as unknown[],
    authorizations: [] as Array<string | undefined>,
    connections: 0,
  };
  const server: Server = createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      state.arrivalsMs.push(performance.now());
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        state.bodies.push(JSON.parse(body));
      } catch {
        state.bodies.push(body);
      }
      state.authorizations.push(request.headers.authorization);
      respond(request, body, response);
    });
  });
  server.on("connection", () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get arrivalsMs() {
      return state.arrivalsMs;
    },
    get bodies() {
      return state.bodies;
    },
    get authorizations() {
      return state.authorizations;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const json = (response: ServerResponse, status: number, value: unknown): void => {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
};

/** A target with no policy engine: every request is answered 200. */
export const allowEverything: Responder = (_request, _body, response) =>
  json(response, 200, { success: true, result: "ok" });

/** Answers after `delayMs(i)` for the i-th request. */
export function delayed(delayMs: (index: number) => number, inner: Responder = allowEverything): Responder {
  let index = 0;
  return (request, body, response) => {
    // At least the delay in real time: libuv starts a timer from the loop's cached clock, so a
    // 5 ms setTimeout set late in a loop turn can fire after 4.8 ms (a test then sees a 5 ms
    // server answer in less than 5 ms). Re-armed until the delay has really passed.
    const waitMs = delayMs(index++);
    const dueAtMs = performance.now() + waitMs;
    const answerWhenDue = (): void => {
      const leftMs = dueAtMs - performance.now();
      if (leftMs > 0) setTimeout(answerWhenDue, Math.ceil(leftMs));
      else inner(request, body, response);
    };
    setTimeout(answerWhenDue, waitMs);
  };
}

/** Port of a server that was started and closed: nothing listens there. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Servers for every protocol the transport speaks: HTTP/1.1 over TLS, h2, h2 with HTTP/1.1
// fallback, h2c; counted per connection and per request.

/** What a test server saw, counted per TCP/TLS connection and per request (stream). */
export interface TestServer {
  url: string;
  port: number;
  /** TCP connections accepted. */
  connections: number;
  /** TLS connections whose handshake completed, with what they negotiated. */
  secureConnections: Array<{
    alpn: string | false | null;
    tlsVersion: string | null;
    /** SNI the client sent (false: none, as for an IP address). */
    servername: string | false;
    clientCert: boolean;
    resumed: boolean;
  }>;
  /** HTTP/2 sessions. */
  sessions: number;
  /** Requests (HTTP/1.1) or streams (HTTP/2) answered. */
  requests: number;
  /** Most requests in flight at once on any one connection (HTTP/1.1 pipelining shows as > 1). */
  maxConcurrentPerConnection: number;
  /** Most TLS handshakes in progress at once (TCP accepted, handshake not finished). */
  maxHandshaking: number;
  /** Requests on each connection (HTTP/2: session) that carried any, in order of its first request. */
  requestsPerConnection: number[];
  close(): Promise<void>;
}

export interface TlsServerOptions {
  key: string;
  cert: string;
  /** Trusted CA for client certificates (mutual TLS). */
  ca?: string;
  requestCert?: boolean;
  maxVersion?: SecureVersion;
  /** Delay before each response, ms. */
  delayMs?: number;
  /** Holds each TLS handshake this long (needs SNI from the client, e.g. --servername localhost). */
  handshakeDelayMs?: number;
}

type Kind = "h2" | "h2+http1" | "https" | "h2c";

interface State {
  connections: number;
  handshaking: number;
  maxHandshaking: number;
  secureConnections: TestServer["secureConnections"];
  sessions: number;
  requests: number;
  maxConcurrentPerConnection: number;
  requestsPerConnection: number[];
}

const BODY = '{"success":true}';
const connectionIndex = new WeakMap<object, number>();
const connectionInFlight = new WeakMap<object, number>();

/** Counts a request on its connection (`key`: the TLS/TCP socket, or the HTTP/2 session). */
function track(state: State, key: object): () => void {
  const inFlight = (connectionInFlight.get(key) ?? 0) + 1;
  connectionInFlight.set(key, inFlight);
  if (inFlight > state.maxConcurrentPerConnection) state.maxConcurrentPerConnection = inFlight;
  let index = connectionIndex.get(key);
  if (index === undefined) {
    index = state.requestsPerConnection.push(0) - 1;
    connectionIndex.set(key, index);
  }
  state.requestsPerConnection[index] = (state.requestsPerConnection[index] ?? 0) + 1;
  state.requests++;
  return () => connectionInFlight.set(key, (connectionInFlight.get(key) ?? 1) - 1);
}

/** A server on an ephemeral loopback port: `h2` only, h2 with HTTP/1.1 fallback, HTTP/1.1 over TLS, or h2c. */
/** `options`: the TLS settings (every kind but h2c), or only a response delay for h2c. */
export async function startServer(
  kind: Kind,
  options?: TlsServerOptions | { delayMs: number },
): Promise<TestServer> {
  const state: State = {
    connections: 0,
    handshaking: 0,
    maxHandshaking: 0,
    secureConnections: [],
    sessions: 0,
    requests: 0,
    maxConcurrentPerConnection: 0,
    requestsPerConnection: [],
  };
  const sockets = new Set<Socket>();
  const handshakeDone = new WeakMap<Socket, () => void>();
  const sessions = new Set<Http2Session>();
  const delayMs = options?.delayMs ?? 0;
  const later = (fn: () => void): void => {
    if (delayMs > 0) setTimeout(fn, delayMs);
    else fn();
  };

  const onStream = (stream: ServerHttp2Stream): void => {
    const done = track(state, stream.session ?? stream);
    stream.on("error", () => undefined);
    stream.resume();
    stream.on("end", () =>
      later(() => {
        done();
        if (stream.destroyed) return;
        stream.respond({ ":status": 200, "content-type": "application/json" });
        stream.end(BODY);
      }),
    );
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    // Over HTTP/2 (the compat API of an allowHTTP1 server) a connection is the session.
    const h2Stream = (request as unknown as { stream?: ServerHttp2Stream }).stream;
    const done = track(state, h2Stream?.session ?? request.socket);
    request.resume();
    request.on("end", () =>
      later(() => {
        done();
        response.writeHead(200, { "content-type": "application/json", "content-length": `${BODY.length}` });
        response.end(BODY);
      }),
    );
  };

  const tls =
    options && "key" in options
      ? {
          key: options.key,
          cert: options.cert,
          ...(options.ca ? { ca: options.ca } : {}),
          ...(options.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
          ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
          ...(options.handshakeDelayMs
            ? {
                SNICallback: (
                  _name: string,
                  callback: (error: Error | null, context?: SecureContext) => void,
                ): void => {
                  const context = createSecureContext({ key: options.key, cert: options.cert });
                  setTimeout(() => callback(null, context), options.handshakeDelayMs);
                },
              }
            : {}),
        }
      : undefined;
  let server: Http2SecureServer | Http2Server | ReturnType<typeof createHttpsServer>;
  if (kind === "h2c") {
    server = createH2cServer();
  } else if (kind === "https") {
    server = createHttpsServer({ ...tls, keepAliveTimeout: 60_000 }, onRequest);
  } else {
    server = createSecureServer({ ...tls, allowHTTP1: kind === "h2+http1" });
    if (kind === "h2+http1") server.on("request", onRequest);
  }
  if (kind !== "https") {
    if (kind !== "h2+http1") (server as Http2Server).on("stream", onStream);
    (server as Http2Server).on("session", (session: Http2Session) => {
      state.sessions++;
      sessions.add(session);
      session.on("close", () => sessions.delete(session));
    });
  }
  server.on("connection", (socket: Socket) => {
    state.connections++;
    if (tls) {
      state.handshaking++;
      state.maxHandshaking = Math.max(state.maxHandshaking, state.handshaking);
      let counted = true;
      const done = (): void => {
        if (counted) state.handshaking--;
        counted = false;
      };
      socket.once("close", done);
      // The TLS socket wrapping this one reports the end of the handshake.
      handshakeDone.set(socket, done);
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
    (raw ? handshakeDone.get(raw) : undefined)?.();
    state.secureConnections.push({
      alpn: socket.alpnProtocol,
      tlsVersion: socket.getProtocol(),
      servername: (socket as TLSSocket & { servername?: string | false }).servername ?? false,
      clientCert: socket.authorized && Boolean(socket.getPeerCertificate()?.subject),
      resumed: socket.isSessionReused(),
    });
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const scheme = kind === "h2c" ? "http" : "https";
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    get connections() {
      return state.connections;
    },
    get maxHandshaking() {
      return state.maxHandshaking;
    },
    get secureConnections() {
      return state.secureConnections;
    },
    get sessions() {
      return state.sessions;
    },
    get requests() {
      return state.requests;
    },
    get maxConcurrentPerConnection() {
      return state.maxConcurrentPerConnection;
    },
    get requestsPerConnection() {
      return state.requestsPerConnection;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export const POST: PreparedRequest = {
  method: "POST",
  path: "/v1/execute",
  headers: ["content-type", "application/json"],
  body: Buffer.from('{"prompt":"hello"}'),
};

export interface Outcome {
  error: Error | null;
  status: number;
  body: string | null;
  /** The response fields the transport was asked for (`responseHeaders`), null without any. */
  headers: ResponseHeaders | null;
}

/** Sends `count` requests, at most `concurrency` in flight (like --workers), and waits for every callback. */
export function sendMany(
  transport: HttpTransport,
  count: number,
  concurrency = 1,
  request: PreparedRequest = POST,
): Promise<Outcome[]> {
  return new Promise((resolve) => {
    const outcomes: Outcome[] = [];
    let sent = 0;
    let finished = 0;
    if (count === 0) resolve(outcomes);
    const next = (): void => {
      if (sent >= count) return;
      sent++;
      transport.send(request, (error, status, body, _writtenAtMs, headers) => {
        outcomes.push({ error, status, body: body ? body.toString("utf8") : null, headers });
        finished++;
        if (finished === count) resolve(outcomes);
        else next();
      });
    };
    for (let i = 0; i < Math.min(concurrency, count); i++) next();
  });
}

/** A transport with the run's defaults for tests: `workers` in flight, 5 s timeout. */
export function transportFor(
  origin: string,
  workers: number,
  flags?: TransportOptions["flags"],
  timeoutMs = 5_000,
  responseHeaders?: readonly string[],
): HttpTransport {
  return new HttpTransport(
    {
      origin,
      connections: workers,
      maxInFlight: workers,
      timeoutMs,
      ...(flags ? { flags } : {}),
      ...(responseHeaders ? { responseHeaders } : {}),
    },
    () => performance.now(),
  );
}
