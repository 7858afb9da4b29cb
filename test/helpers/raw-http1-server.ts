import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";

export interface RawHttp1Server {
  url: string;
  /** Connections accepted and requests read so far. */
  state: { connections: number; requests: number };
  close(): Promise<void>;
}

/**
 * A raw HTTP/1.1 server on a loopback port for what nginx and node never send (HTTP/1.0, truncated
 * bodies, a close when a reused connection's request arrives): it reads each request (the head,
 * then its content-length's bytes) and lets `respond` write whatever bytes it likes.
 */
export async function startRawHttp1Server(
  respond: (socket: Socket, index: number, onConnection: number) => void,
): Promise<RawHttp1Server> {
  const state = { connections: 0, requests: 0 };
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    let buffered = "";
    let onConnection = 0;
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      for (;;) {
        const headEnd = buffered.indexOf("\r\n\r\n");
        if (headEnd < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, headEnd))?.[1] ?? 0);
        if (buffered.length < headEnd + 4 + length) return;
        buffered = buffered.slice(headEnd + 4 + length);
        respond(socket, state.requests++, onConnection++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
