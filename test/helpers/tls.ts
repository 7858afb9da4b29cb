import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";

/**
 * A throw-away PKI for tests: one CA per test file, leaf certificates issued on demand, all
 * generated at run time with the openssl CLI (EC P-256, so each step takes milliseconds). No key
 * is ever committed.
 */
const run = promisify(execFile);
const OPENSSL = process.env.OPENSSL_BIN ?? "/usr/bin/openssl";
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export interface PemPair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface IssueOptions {
  /** DNS names in subjectAltName. */
  dns?: string[];
  /** IP addresses in subjectAltName. */
  ips?: string[];
  /** notAfter before now: verification fails with CERT_HAS_EXPIRED. */
  expired?: boolean;
}

export interface TestPki {
  dir: string;
  ca: PemPair;
  /** A certificate for `name` signed by this CA (server or client: the tests need no key usage limits). */
  issue(name: string, options?: IssueOptions): Promise<PemPair>;
  cleanup(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run(OPENSSL, args, { cwd, timeout: 20_000 });
}

async function readPair(dir: string, base: string): Promise<PemPair> {
  const certFile = join(dir, `${base}.crt`);
  const keyFile = join(dir, `${base}.key`);
  return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8"), certFile, keyFile };
}

/** Creates a CA named `name` in a fresh temporary directory. */
export async function createTestPki(name = "load-test test CA"): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "load-test-pki-"));
  await openssl(
    ["req", "-x509", ...EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-subj", `/CN=${name}`, "-days", "2"],
    dir,
  );
  const ca = await readPair(dir, "ca");
  let serial = 0;
  return {
    dir,
    ca,
    async issue(commonName, options = {}) {
      const base = `leaf-${++serial}`;
      const names = [
        ...(options.dns ?? []).map((dns) => `DNS:${dns}`),
        ...(options.ips ?? []).map((ip) => `IP:${ip}`),
      ];
      await openssl(
        [
          "req",
          "-new",
          ...EC_KEY,
          "-keyout",
          `${base}.key`,
          "-out",
          `${base}.csr`,
          "-subj",
          `/CN=${commonName}`,
          ...(names.length > 0 ? ["-addext", `subjectAltName=${names.join(",")}`] : []),
        ],
        dir,
      );
      await openssl(
        [
          "x509",
          "-req",
          "-in",
          `${base}.csr`,
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-out",
          `${base}.crt`,
          // -1 day: notAfter lies before now, so the certificate is expired from the start.
          "-days",
          options.expired ? "-1" : "2",
          "-copy_extensions",
          "copyall",
        ],
        dir,
      );
      return readPair(dir, base);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A CA and one server certificate for localhost and 127.0.0.1 that the tests of a file share:
 * made before them and removed after them. Read its fields inside the tests.
 */
export function localhostPkiForFile(caName?: string): { readonly pki: TestPki; readonly leaf: PemPair } {
  let pki: TestPki | undefined;
  let leaf: PemPair | undefined;
  beforeAll(async () => {
    pki = await createTestPki(caName);
    leaf = await pki.issue("localhost", { dns: ["localhost"], ips: ["127.0.0.1"] });
  });
  afterAll(() => pki?.cleanup());
  return {
    get pki() {
      return pki as TestPki;
    },
    get leaf() {
      return leaf as PemPair;
    },
  };
}
