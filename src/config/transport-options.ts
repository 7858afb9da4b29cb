import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext } from "node:tls";
import { InputError } from "./errors.js";
import { parseWholeNumber } from "./numbers.js";

/**
 * Connection flags as commander gives them (docs/TRANSPORT.md). `--no-keepalive` arrives as
 * `keepalive: false`; everything else is a string or a boolean switch.
 */
export interface RawTransportFlags {
  http1?: boolean;
  http2?: boolean;
  h2c?: boolean;
  connections?: string;
  ca?: string;
  insecure?: boolean;
  servername?: string;
  cert?: string;
  key?: string;
  tlsMin?: string;
  keepalive?: boolean;
  maxRequestsPerConnection?: string;
}

export type { ProtocolMode } from "../metrics/result.js";
import type { ProtocolMode } from "../metrics/result.js";

export type TlsMinVersion = "TLSv1.2" | "TLSv1.3";

/** A PEM file the user named, read once at start-up. */
export interface PemFile {
  path: string;
  pem: string;
}

export interface TlsFlags {
  /** Extra trusted roots, added to Node's bundled ones (`--ca`). */
  ca: PemFile | undefined;
  /** `--insecure`: certificates are not verified (the summary warns). */
  insecure: boolean;
  /** `--servername`: SNI and the name the certificate is verified against. */
  servername: string | undefined;
  /** `--cert` / `--key`: client certificate for mutual TLS (both or neither). */
  cert: PemFile | undefined;
  key: PemFile | undefined;
  minVersion: TlsMinVersion;
}

/** Validated connection flags, files read, every value in the unit its name says. */
export interface TransportFlags {
  protocol: ProtocolMode;
  /** `--connections`: cap on connections, at most `--workers`; undefined = the default for the protocol. */
  connections: number | undefined;
  tls: TlsFlags;
  /** False with `--no-keepalive`: one connection per request. */
  keepAlive: boolean;
  /** `--max-requests-per-connection`: a connection is closed after this many requests; undefined = no limit. */
  maxRequestsPerConnection: number | undefined;
}

/** Defaults: ALPN negotiation, keep-alive, verified TLS 1.2 or newer. */
export const DEFAULT_TRANSPORT_FLAGS: TransportFlags = {
  protocol: "auto",
  connections: undefined,
  tls: {
    ca: undefined,
    insecure: false,
    servername: undefined,
    cert: undefined,
    key: undefined,
    minVersion: "TLSv1.2",
  },
  keepAlive: true,
  maxRequestsPerConnection: undefined,
};

// RFC 1123 host name labels; SNI carries a host name, never an address (RFC 6066 §3).
const HOST_NAME =
  /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

function positiveInteger(flag: string, text: string): number {
  const value = parseWholeNumber(text);
  if (value === undefined || value < 1) {
    throw new InputError(flag, `must be an integer ≥ 1, got "${text}"`);
  }
  return value;
}

function readPem(flag: string, path: string, marker: RegExp, what: string): PemFile {
  if (path.trim() === "") throw new InputError(flag, "needs a file name");
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(flag, `cannot read file ${path}${code ? ` (${code})` : ""}`);
  }
  if (!marker.test(pem)) throw new InputError(flag, `${path} contains no PEM ${what}`);
  return { path, pem };
}

function parseTlsMin(text: string | undefined): TlsMinVersion {
  if (text === undefined) return "TLSv1.2";
  const normalized = text.trim().replace(/^tlsv?/i, "");
  if (normalized === "1.2") return "TLSv1.2";
  if (normalized === "1.3") return "TLSv1.3";
  throw new InputError("--tls-min", `must be 1.2 or 1.3, got "${text}"`);
}

function parseProtocol(raw: RawTransportFlags, https: boolean): ProtocolMode {
  if (raw.http1 && (raw.http2 || raw.h2c)) {
    throw new InputError("--http1", `cannot be combined with ${raw.http2 ? "--http2" : "--h2c"}`);
  }
  if (raw.h2c) {
    if (https) {
      throw new InputError(
        "--h2c",
        "is HTTP/2 over cleartext and needs an http:// target; over https:// use --http2",
      );
    }
    return "h2c"; // --http2 --h2c on http:// says the same thing twice
  }
  if (raw.http2) {
    if (!https) {
      throw new InputError(
        "--http2",
        "negotiates h2 by TLS ALPN and needs an https:// target; for HTTP/2 over cleartext use --h2c",
      );
    }
    return "http2";
  }
  return raw.http1 ? "http1" : "auto";
}

/**
 * Validates the connection flags against the target and `--workers`; reads the PEM files once.
 * Throws an InputError naming the first bad flag (the CLI prints it on one line, exit code 2).
 */
export function parseTransportFlags(raw: RawTransportFlags, targetUrl: URL, workers: number): TransportFlags {
  const https = targetUrl.protocol === "https:";
  const protocol = parseProtocol(raw, https);

  const connections =
    raw.connections === undefined
      ? undefined
      : // More connections than requests in flight would only ever sit idle.
        Math.min(positiveInteger("--connections", raw.connections), workers);

  const keepAlive = raw.keepalive !== false;
  let maxRequestsPerConnection: number | undefined;
  if (raw.maxRequestsPerConnection !== undefined) {
    if (!keepAlive) {
      throw new InputError(
        "--max-requests-per-connection",
        "cannot be combined with --no-keepalive (which is one request per connection)",
      );
    }
    maxRequestsPerConnection = positiveInteger("--max-requests-per-connection", raw.maxRequestsPerConnection);
  }

  // TLS flags on a cleartext target would be silently ignored: say so instead.
  const tlsFlagGiven: Array<[string, boolean]> = [
    ["--ca", raw.ca !== undefined],
    ["--insecure", Boolean(raw.insecure)],
    ["--servername", raw.servername !== undefined],
    ["--cert", raw.cert !== undefined],
    ["--key", raw.key !== undefined],
    ["--tls-min", raw.tlsMin !== undefined],
  ];
  if (!https) {
    const given = tlsFlagGiven.find(([, present]) => present);
    if (given)
      throw new InputError(given[0], `applies to https:// targets only, got ${targetUrl.protocol}//`);
  }

  const minVersion = parseTlsMin(raw.tlsMin);

  let servername: string | undefined;
  if (raw.servername !== undefined) {
    const name = raw.servername.trim();
    if (isIP(name.replace(/^\[|\]$/g, "")) !== 0) {
      throw new InputError(
        "--servername",
        `must be a host name, not an IP address (RFC 6066), got "${name}"`,
      );
    }
    if (!HOST_NAME.test(name)) throw new InputError("--servername", `not a valid host name: "${name}"`);
    servername = name.replace(/\.$/, "");
  }

  if (raw.cert !== undefined && raw.key === undefined) {
    throw new InputError("--cert", "needs --key (the client certificate's private key)");
  }
  if (raw.key !== undefined && raw.cert === undefined) {
    throw new InputError("--key", "needs --cert (the client certificate)");
  }
  const ca =
    raw.ca === undefined ? undefined : readPem("--ca", raw.ca, /-----BEGIN CERTIFICATE-----/, "certificate");
  const cert =
    raw.cert === undefined
      ? undefined
      : readPem("--cert", raw.cert, /-----BEGIN CERTIFICATE-----/, "certificate");
  const key =
    raw.key === undefined
      ? undefined
      : readPem("--key", raw.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key");

  // Let OpenSSL check what it will be given, so a bad file fails here and not on every request.
  if (ca) {
    try {
      createSecureContext({ ca: ca.pem });
    } catch (error) {
      throw new InputError("--ca", `${ca.path}: ${(error as Error).message}`);
    }
  }
  if (cert && key) {
    try {
      createSecureContext({ cert: cert.pem, key: key.pem });
    } catch (error) {
      const message = (error as Error).message;
      throw new InputError(
        "--key",
        /mismatch/i.test(message)
          ? `${key.path} does not match the certificate in ${cert.path}`
          : `${key.path}: ${message} (encrypted keys are not supported)`,
      );
    }
  }

  return {
    protocol,
    connections,
    tls: { ca, insecure: Boolean(raw.insecure), servername, cert, key, minVersion },
    keepAlive,
    maxRequestsPerConnection,
  };
}
