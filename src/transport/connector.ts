import { connect as netConnect, type NetConnectOpts, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { ConnectionProtocol, OpenedConnection } from "./connections.js";
import { ConnectTimeoutError, H2NotNegotiatedError, TlsHandshakeResetError } from "./errors.js";
import { READER, SHARED_ONREAD, type ReadingSocket } from "./http1.js";
import type { TlsSessionCache, TlsSettings } from "./tls.js";

/** How every connection of a transport is opened. */
export interface ConnectorSettings {
  /** `https://host:port` or `http://host:port`, for messages. */
  origin: string;
  /** Undefined over cleartext. */
  tls: TlsSettings | undefined;
  /** ALPN offer in preference order (RFC 7301), e.g. ["h2", "http/1.1"] like a browser. */
  alpn: string[];
  /** HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3). */
  h2c: boolean;
  /** `--http2`: a TLS connection that did not negotiate h2 is an error. */
  requireH2: boolean;
  timeoutMs: number;
  sessions: TlsSessionCache;
}

export type ConnectedCallback = (
  error: Error | null,
  socket: Socket | null,
  connection: OpenedConnection | undefined,
) => void;

const ALPN_NOT_ACCEPTED = "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL";

/**
 * Opens one connection like undici's `buildConnector` does (TCP no-delay and keep-alive, a
 * connect timeout, TLS session reuse), and also measures it: TCP connect time, TLS handshake
 * time, the ALPN protocol and the TLS version. `done` is called once.
 */
export function openConnection(
  settings: ConnectorSettings,
  hostname: string,
  port: number,
  done: ConnectedCallback,
): Socket {
  const startMs = performance.now();
  let tcpMs: number | undefined;
  let finished = false;
  const tls = settings.tls;
  const sessionKey = tls?.servername ?? hostname;
  let socket: Socket;
  if (tls) {
    socket = tlsConnect({
      host: hostname,
      port,
      servername: tls.servername,
      secureContext: tls.secureContext,
      rejectUnauthorized: tls.rejectUnauthorized,
      ALPNProtocols: settings.alpn,
      session: settings.sessions.get(sessionKey),
    });
    socket.on("session", (session: Buffer) => settings.sessions.set(sessionKey, session));
  } else if (!settings.h2c) {
    // Cleartext HTTP/1.1: read by Http1Connection from one shared buffer (SHARED_ONREAD).
    socket = netConnect({ host: hostname, port, onread: SHARED_ONREAD });
    (socket as ReadingSocket)[READER] = null;
  } else {
    // For undici: as its connector, a 64 KiB read buffer (Node's typings omit the option).
    socket = netConnect({ host: hostname, port, highWaterMark: 64 * 1024 } as NetConnectOpts);
  }
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);

  const timer = setTimeout(() => {
    fail(new ConnectTimeoutError(settings.timeoutMs, `${hostname}:${port}`));
  }, settings.timeoutMs);
  timer.unref();

  function fail(error: Error): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
    done(error, null, undefined);
  }

  function succeed(
    protocol: ConnectionProtocol,
    tlsVersion: string,
    tlsHandshakeMs: number | undefined,
  ): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const connectMs = (tcpMs ?? performance.now()) - startMs;
    done(null, socket, {
      protocol,
      tlsVersion,
      connectMs,
      tlsHandshakeMs,
      resumed: tls ? (socket as TLSSocket).isSessionReused() : false,
    });
  }

  socket.once("connect", () => {
    tcpMs = performance.now();
    if (!tls) {
      // undici picks its HTTP/2 client by this property; over cleartext only prior knowledge says h2.
      if (settings.h2c) (socket as Socket & { alpnProtocol?: string }).alpnProtocol = "h2";
      succeed(settings.h2c ? "h2c" : "http/1.1", "none", undefined);
    }
  });
  if (tls) {
    socket.once("secureConnect", () => {
      const tlsSocket = socket as TLSSocket;
      const handshakeMs = performance.now() - (tcpMs ?? startMs);
      const alpn = tlsSocket.alpnProtocol;
      if (settings.requireH2 && alpn !== "h2") {
        fail(new H2NotNegotiatedError(settings.origin, alpn || undefined));
        return;
      }
      succeed(alpn === "h2" ? "h2" : "http/1.1", tlsSocket.getProtocol() ?? "unknown", handshakeMs);
    });
  }
  socket.on("error", (error: Error & { code?: string }) => {
    if (settings.requireH2 && error.code === ALPN_NOT_ACCEPTED) {
      fail(Object.assign(new H2NotNegotiatedError(settings.origin, undefined), { cause: error }));
      return;
    }
    if (tls && tcpMs !== undefined && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
      fail(new TlsHandshakeResetError(error));
      return;
    }
    if (error.code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      // undici handles this code specially (it expects another servername to be tried) and leaves
      // the failed requests counted as running, so the connection would stall until --timeout.
      // Wrapped, it is an ordinary connect failure; the classifier finds the code in `cause`.
      fail(new Error(error.message, { cause: error }));
      return;
    }
    fail(error);
  });
  return socket;
}
