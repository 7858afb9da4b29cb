import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import type { TlsFlags } from "../config/transport-options.js";

/**
 * Everything a TLS connection needs, built once per run: OpenSSL parses the CA bundle and the
 * client key here, not on every handshake (which matters with `--no-keepalive`).
 */
export interface TlsSettings {
  secureContext: SecureContext;
  /** SNI and the name the certificate is checked against; undefined = the target's host (no SNI for an IP). */
  servername: string | undefined;
  rejectUnauthorized: boolean;
}

export function buildTlsSettings(flags: TlsFlags): TlsSettings {
  const secureContext = createSecureContext({
    minVersion: flags.minVersion,
    // `ca` replaces Node's bundled roots; --ca adds to them (a private CA beside the public ones).
    ...(flags.ca ? { ca: [...rootCertificates, flags.ca.pem] } : {}),
    ...(flags.cert && flags.key ? { cert: flags.cert.pem, key: flags.key.pem } : {}),
  });
  return {
    secureContext,
    servername: flags.servername,
    rejectUnauthorized: !flags.insecure,
  };
}

/**
 * TLS session tickets by server name, so a new connection resumes (RFC 8446 §2.2) the way a
 * browser does; with `--no-keepalive` this is what a returning client pays per connection.
 */
export class TlsSessionCache {
  private readonly sessions = new Map<string, Buffer>();

  get(key: string): Buffer | undefined {
    return this.sessions.get(key);
  }

  set(key: string, session: Buffer): void {
    this.sessions.set(key, session);
  }
}
