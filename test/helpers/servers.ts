import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

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
