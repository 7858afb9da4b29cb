/**
 * The Prometheus export of one run: periodic Pushgateway pushes during the run, a live `/metrics`
 * endpoint, and at the end the final push, the optional delete of the group and the text file.
 * Nothing here prints or throws once the run has started: problems come back from finish() as
 * warnings, and `fatal` when the user asked for them to fail the run.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { MetricsSnapshot } from "../metrics/result.js";
import {
  PrometheusOptionError,
  redactUrl,
  type ListenAddress,
  type PrometheusOptions,
  type PushgatewayOptions,
} from "./prometheus-options.js";
import { describeGroup, pushWithRetry } from "./prometheus-pushgateway.js";
import { buildRegistry } from "./prometheus-registry.js";

export interface PrometheusExportResult {
  /** Human-readable problems for the run summary (no credentials in them). */
  warnings: string[];
  /**
   * True when the run must fail because of the export: the final push or the requested delete failed
   * and `--pushgateway-fatal` was given, or `--prometheus-file` could not be written.
   */
  fatal: boolean;
}

export interface PrometheusExport {
  /** e.g. http://127.0.0.1:9464/metrics while the live endpoint is up (with the actual port when 0 was asked). */
  listenUrl?: string;
  /** Final push (+ delete), file, server close. Resolves within the Pushgateway budget; never rejects. Idempotent. */
  finish(final: MetricsSnapshot): Promise<PrometheusExportResult>;
}

/**
 * Starts the export of a run. Rejects only before the run starts, with a PrometheusOptionError
 * (`--metrics-listen`) when the live endpoint cannot listen (address in use, not local, ...).
 */
export async function startPrometheusExport(
  opts: PrometheusOptions,
  runId: string,
  getSnapshot: () => MetricsSnapshot,
): Promise<PrometheusExport> {
  const current = (): Registry => buildRegistry(getSnapshot(), opts, runId);
  const server =
    opts.metricsListen === undefined ? undefined : await startMetricsServer(opts.metricsListen, current);
  const pusher =
    opts.pushgateway === undefined ? undefined : new PeriodicPusher(opts.pushgateway, runId, current);
  pusher?.start();

  let finished: Promise<PrometheusExportResult> | undefined;
  return {
    ...(server !== undefined ? { listenUrl: server.url } : {}),
    finish(final) {
      finished ??= finish(opts, runId, final, pusher, server);
      return finished;
    },
  };
}

async function finish(
  opts: PrometheusOptions,
  runId: string,
  final: MetricsSnapshot,
  pusher: PeriodicPusher | undefined,
  server: MetricsServer | undefined,
): Promise<PrometheusExportResult> {
  // A periodic push still on the wire could land after the final one and overwrite it: cancel it first.
  const closing = server?.close();
  await pusher?.stop();
  if (pusher === undefined && opts.prometheusFile === undefined) {
    await closing;
    return { warnings: [], fatal: false };
  }

  let registry: Registry;
  try {
    registry = buildRegistry(final, opts, runId);
  } catch (err) {
    await closing;
    return {
      warnings: [`Prometheus export failed: could not build the metrics (${message(err)})`],
      fatal: true,
    };
  }

  const results = await Promise.all([
    pusher === undefined ? undefined : finalPush(pusher, registry),
    opts.prometheusFile === undefined ? undefined : writeMetricsFile(opts.prometheusFile, registry),
    closing,
  ]);
  const warnings: string[] = [];
  let fatal = false;
  for (const r of results) {
    if (r === undefined) continue;
    warnings.push(...r.warnings);
    fatal ||= r.fatal;
  }
  return { warnings, fatal };
}

async function finalPush(pusher: PeriodicPusher, registry: Registry): Promise<PrometheusExportResult> {
  const { pg, runId } = pusher;
  const where = redactUrl(pg.url);
  const group = describeGroup(pg, runId);
  const deadline = Date.now() + pg.finishBudgetMs;
  const warnings: string[] = [];
  let failed = false;

  const periodic =
    pusher.failed > 0
      ? `${pusher.failed} of ${pusher.attempted} periodic pushes failed (last: ${pusher.lastError})`
      : "";
  const pushed = await pushWithRetry(pg, runId, { method: "push", registry, deadline });
  if (pushed.ok) {
    if (periodic !== "") warnings.push(`pushgateway ${where}: ${periodic}; the final push succeeded`);
  } else {
    failed = true;
    const how =
      pushed.error?.startsWith("HTTP ") === true
        ? "rejected the final push"
        : "unreachable: final push failed";
    const tries = pushed.attempts === 1 ? "1 attempt" : `${pushed.attempts} attempts`;
    warnings.push(
      `pushgateway ${where} ${how} (group ${group}) after ${tries} (${pushed.error})` +
        (periodic !== "" ? `; ${periodic}` : ""),
    );
  }

  if (pg.deleteAfter) {
    const deleted = await pushWithRetry(pg, runId, { method: "delete", deadline });
    if (!deleted.ok) {
      failed = true;
      warnings.push(`pushgateway ${where}: could not delete group ${group} (${deleted.error})`);
    }
  }
  return { warnings, fatal: failed && pg.fatal };
}

/**
 * Pushes every interval, one push at a time: the next push is scheduled when the previous one (with its
 * retries) has finished, so a slow Pushgateway stretches the period instead of piling up requests.
 */
class PeriodicPusher {
  attempted = 0;
  failed = 0;
  lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private readonly cancel = new AbortController();

  constructor(
    readonly pg: PushgatewayOptions,
    readonly runId: string,
    private readonly current: () => Registry,
  ) {}

  start(): void {
    if (this.pg.intervalMs > 0) this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.pushOnce().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    }, this.pg.intervalMs);
    // The schedule alone must not keep the process alive (finish() may never come after a crash).
    this.timer.unref();
  }

  private async pushOnce(): Promise<void> {
    let registry: Registry;
    try {
      registry = this.current();
    } catch (err) {
      this.attempted += 1;
      this.failed += 1;
      this.lastError = `could not take a snapshot: ${message(err)}`;
      return;
    }
    const outcome = await pushWithRetry(this.pg, this.runId, {
      method: "push",
      registry,
      signal: this.cancel.signal,
    });
    if (outcome.cancelled === true) return;
    this.attempted += 1;
    if (!outcome.ok) {
      this.failed += 1;
      this.lastError = outcome.error;
    }
  }

  /** Stops the schedule and cancels a push in flight; resolves when it has let go. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.cancel.abort();
    await this.inFlight;
  }
}

async function writeMetricsFile(file: string, registry: Registry): Promise<PrometheusExportResult> {
  // Write then rename, so that a reader (e.g. node_exporter's textfile collector) never sees half a file.
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    // As --out does: a profile's `out/run.prom` works on a fresh checkout (out/ is git-ignored).
    await mkdir(dirname(file), { recursive: true });
    await writeFile(temp, await registry.metrics(), "utf8");
    await rename(temp, file);
    return { warnings: [], fatal: false };
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    return { warnings: [`could not write --prometheus-file ${file}: ${message(err)}`], fatal: true };
  }
}

interface MetricsServer {
  url: string;
  close(): Promise<undefined>;
}

async function startMetricsServer(address: ListenAddress, current: () => Registry): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res
        .writeHead(404, { "Content-Type": "text/plain; charset=utf-8" })
        .end("Not found: metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" }).end();
      return;
    }
    let registry: Registry;
    try {
      registry = current();
    } catch (err) {
      res
        .writeHead(500, { "Content-Type": "text/plain; charset=utf-8" })
        .end(`could not take a snapshot: ${message(err)}\n`);
      return;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { "Content-Type": registry.contentType });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" }).end(`${message(err)}\n`);
      },
    );
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(address.port, address.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    throw new PrometheusOptionError(
      "--metrics-listen",
      `cannot listen on ${formatHost(address.host)}:${address.port}: ${message(err)}`,
    );
  }
  // Like the push schedule, the endpoint alone must not keep the process alive.
  server.unref();
  const { port } = server.address() as AddressInfo;

  let closed: Promise<undefined> | undefined;
  return {
    url: `http://${formatHost(address.host)}:${port}/metrics`,
    close() {
      closed ??= new Promise((resolve) => {
        server.close(() => resolve(undefined));
        // Keep-alive connections of a scraper would otherwise hold close() open until they time out.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
