import { createServer, type AddressInfo, type Socket } from "node:net";

/**
 * A raw HTTP/2 server on loopback (node:net, frames written by hand) for what node:http2 will
 * not send: GOAWAY with a chosen last stream id at a chosen moment, two-step shutdowns, and
 * malformed frames. It reads the client's preface and frames; `onHeaders` decides what each
 * request gets.
 */

export const DATA = 0x0;
export const HEADERS = 0x1;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;
export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY_FLAG = 0x20;
export const MAX_STREAM_ID = 2 ** 31 - 1;

const PREFACE_LENGTH = 24;

export function rawFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

/** `:status` as a literal without indexing, name by static entry 8 (RFC 7541 §6.2.2), raw digits. */
export function statusBlock(status: number): Buffer {
  const digits = Buffer.from(String(status), "latin1");
  return Buffer.concat([Buffer.from([0x08, digits.length]), digits]);
}

export interface RawConnection {
  /** 0 for the first connection the server accepted. */
  readonly index: number;
  readonly socket: Socket;
  /** Ids of the HEADERS frames the client sent, in order. */
  readonly streams: number[];
  send(bytes: Buffer): void;
  /** HEADERS `:status` then a DATA frame with END_STREAM. */
  respond(streamId: number, status?: number, body?: string): void;
  goaway(lastStreamId: number, code?: number): void;
  reset(streamId: number, code: number): void;
}

export interface RawServer {
  url: string;
  readonly connections: RawConnection[];
  /** HEADERS frames received over all connections. */
  headersReceived(): number;
  close(): Promise<void>;
}

export interface RawServerOptions {
  /** The SETTINGS the server opens with, as [id, value] pairs. */
  settings?: Array<[number, number]>;
  onHeaders(connection: RawConnection, streamId: number): void;
}

export async function startRawH2Server(options: RawServerOptions): Promise<RawServer> {
  const connections: RawConnection[] = [];
  const sockets = new Set<Socket>();
  let headersReceived = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    const connection: RawConnection = {
      index: connections.length,
      socket,
      streams: [],
      send: (bytes) => {
        if (!socket.destroyed && socket.writable) socket.write(bytes);
      },
      respond: (streamId, status = 200, body = "ok") => {
        connection.send(
          Buffer.concat([
            rawFrame(HEADERS, END_HEADERS, streamId, statusBlock(status)),
            rawFrame(DATA, END_STREAM, streamId, Buffer.from(body)),
          ]),
        );
      },
      goaway: (lastStreamId, code = 0) =>
        connection.send(rawFrame(GOAWAY, 0, 0, Buffer.concat([u32(lastStreamId), u32(code)]))),
      reset: (streamId, code) => connection.send(rawFrame(RST_STREAM, 0, streamId, u32(code))),
    };
    connections.push(connection);
    const settings = Buffer.alloc(6 * (options.settings?.length ?? 0));
    options.settings?.forEach(([id, value], i) => {
      settings.writeUInt16BE(id, i * 6);
      settings.writeUInt32BE(value, i * 6 + 2);
    });
    connection.send(rawFrame(SETTINGS, 0, 0, settings));
    let bytes = Buffer.alloc(0);
    let prefaceRead = false;
    socket.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (!prefaceRead) {
        if (bytes.length < PREFACE_LENGTH) return;
        bytes = bytes.subarray(PREFACE_LENGTH);
        prefaceRead = true;
      }
      while (bytes.length >= 9) {
        const length = bytes.readUIntBE(0, 3);
        if (bytes.length < 9 + length) break;
        const type = bytes[3] as number;
        const flags = bytes[4] as number;
        const streamId = bytes.readUInt32BE(5) & 0x7fffffff;
        bytes = bytes.subarray(9 + length);
        if (type === SETTINGS && (flags & 1) === 0) connection.send(rawFrame(SETTINGS, 1, 0));
        if (type === HEADERS) {
          headersReceived++;
          connection.streams.push(streamId);
          options.onHeaders(connection, streamId);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    headersReceived: () => headersReceived,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
