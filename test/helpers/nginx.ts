/**
 * A real nginx for the transport's interop tests: Debian's `nginx-light`, started by the test on a
 * free loopback port with its own prefix (a temp directory), in the foreground as one process
 * (`master_process off`, so the PID we stop is the one that serves), and its access log read back
 * so the tests can compare what we counted with what the server saw.
 *
 * nginx is not optional: when it is missing the test fails with the install command (the test
 * command installs it; see docs/TESTING.md).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireBinary } from "./pushgateway.js";

export interface NginxOptions {
  /** `listen` parameters after the address: "" (HTTP/1.1), "http2" (h2c, prior knowledge), "ssl http2". */
  listen?: string;
  /** Certificate and key files for `ssl` listeners. */
  tls?: { certFile: string; keyFile: string };
  /** Extra directives in the `http {}` block, e.g. "keepalive_requests 100;". */
  http?: string;
  /** Extra directives in the `server {}` block. */
  server?: string;
  /** The body `location /` returns (status 200, application/json). */
  body?: string;
}

/** One line of the access log (the `loadtest` format below). */
export interface NginxAccess {
  status: number;
  /** `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`. */
  protocol: string;
  /** nginx's connection serial number: lines with the same one came over one connection. */
  connection: number;
  /** The request's index on its connection (1-based). */
  connectionRequests: number;
  method: string;
  uri: string;
}

export interface NginxProcess {
  url: string;
  port: number;
  pid: number;
  dir: string;
  /** Every request nginx logged so far (it writes each line when the response is done). */
  accessLog(): Promise<NginxAccess[]>;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

const FIELD_SEPARATOR = "\t";

/** Starts nginx with `options`; resolves once its port accepts connections. */
export async function startNginx(options: NginxOptions = {}): Promise<NginxProcess> {
  const bin = requireBinary("nginx", "NGINX_BIN", "/usr/sbin/nginx");
  const dir = await mkdtemp(join(tmpdir(), "load-test-nginx-"));
  const port = await freePort();
  const tls = options.tls
    ? `ssl_certificate ${options.tls.certFile};\n    ssl_certificate_key ${options.tls.keyFile};\n    ssl_protocols TLSv1.2 TLSv1.3;`
    : "";
  const body = (options.body ?? '{"success":true,"blocked":false}').replace(/'/g, "\\'");
  const config = `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 4096; }
http {
  log_format loadtest '$status${FIELD_SEPARATOR}$server_protocol${FIELD_SEPARATOR}$connection${FIELD_SEPARATOR}$connection_requests${FIELD_SEPARATOR}$request_method${FIELD_SEPARATOR}$request_uri';
  access_log ${dir}/access.log loadtest;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${options.http ?? ""}
  server {
    listen 127.0.0.1:${port} ${options.listen ?? ""};
    ${tls}
    ${options.server ?? ""}
    location / { default_type application/json; return 200 '${body}'; }
  }
}
`;
  const configFile = join(dir, "nginx.conf");
  await writeFile(configFile, config);
  const child: ChildProcess = spawn(bin, ["-p", dir, "-e", join(dir, "error.log"), "-c", configFile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadlineMs = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`nginx exited (${child.exitCode}): ${stderr.slice(-1000)}`);
    }
    if (await accepting(port)) break;
    if (Date.now() > deadlineMs) {
      await stop();
      throw new Error(`nginx did not accept connections on ${port} within 15 s: ${stderr.slice(-1000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const scheme = options.listen?.includes("ssl") ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? 0,
    dir,
    async accessLog() {
      const text = await readFile(join(dir, "access.log"), "utf8").catch(() => "");
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const [status, protocol, connection, connectionRequests, method, uri] = line.split(FIELD_SEPARATOR);
          return {
            status: Number(status),
            protocol: protocol ?? "",
            connection: Number(connection),
            connectionRequests: Number(connectionRequests),
            method: method ?? "",
            uri: uri ?? "",
          };
        });
    },
    errorLog: () => readFile(join(dir, "error.log"), "utf8").catch(() => ""),
    stop,
  };
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
