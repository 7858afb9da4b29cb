/**
 * Test helpers for the Prometheus export: a real Prometheus Pushgateway (and a real Prometheus) on
 * ephemeral loopback ports, promtool, a parser of the text exposition format (to read values back), and
 * a RunResult builder.
 *
 * The binaries come from the Debian packages `prometheus-pushgateway` and `prometheus` (prometheus,
 * promtool).
 * When they are missing the tests fail with the install command: they are not optional (CI installs them).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import {
  LATENCY_BUCKET_BOUNDS_MS,
  RESULTS_SCHEMA_VERSION,
  type CategoryResult,
  type LatencyBucket,
  type LatencySummaryMs,
  type MetricsSnapshot,
  type RunResult,
} from "../../src/metrics/result.js";

const INSTALL_HINT = "install it with: apt-get install -y prometheus-pushgateway prometheus";

/** Finds an executable: $ENV_VAR, then the Debian path, then PATH; throws a clear message when missing. */
export function requireBinary(name: string, envVar: string, debianPath: string): string {
  const candidates = [
    process.env[envVar],
    debianPath,
    ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, name)),
  ];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === "") continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(`${name} not found (looked at $${envVar}, ${debianPath} and PATH); ${INSTALL_HINT}`);
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface PushgatewayProcess {
  url: string;
  pid: number;
  /** The Pushgateway's own /metrics (all pushed groups), parsed. */
  scrape(): Promise<Sample[]>;
  stop(): Promise<void>;
}

/** Starts /usr/bin/prometheus-pushgateway on 127.0.0.1:<free port>, without persistence; waits until ready. */
export async function startPushgateway(): Promise<PushgatewayProcess> {
  const bin = requireBinary("prometheus-pushgateway", "PUSHGATEWAY_BIN", "/usr/bin/prometheus-pushgateway");
  const daemon = await startDaemon("prometheus-pushgateway", (port) => [
    bin,
    // Debian's build defaults --persistence.file to /var/lib/prometheus/pushgateway.data, which
    // would carry groups from one test run into the next: keep everything in memory.
    [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file="],
  ]);
  return {
    ...daemon,
    async scrape() {
      const res = await fetch(`${daemon.url}/metrics`);
      if (!res.ok) throw new Error(`pushgateway /metrics answered ${res.status}: ${await res.text()}`);
      return parseExposition(await res.text());
    },
  };
}

export interface PrometheusProcess {
  url: string;
  pid: number;
  /** Instant query; the result vector as label sets and numbers. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

/**
 * Starts /usr/bin/prometheus on 127.0.0.1:<free port>, scraping `target` (host:port) every second with
 * honor_labels (as a Pushgateway must be scraped), storing in a fresh directory under `dataDir`.
 */
export async function startPrometheus(target: string, dataDir: string): Promise<PrometheusProcess> {
  const bin = requireBinary("prometheus", "PROMETHEUS_BIN", "/usr/bin/prometheus");
  const config = join(dataDir, "prometheus.yml");
  await writeFile(
    config,
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      "scrape_configs:",
      "  - job_name: pushgateway",
      "    honor_labels: true",
      `    static_configs: [{ targets: ["${target}"] }]`,
      "",
    ].join("\n"),
  );
  const daemon = await startDaemon("prometheus", (port) => [
    bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dataDir, `data-${port}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
  ]);
  return {
    ...daemon,
    async query(promql) {
      const res = await fetch(`${daemon.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== "success" || body.data === undefined)
        throw new Error(`query failed: ${body.error}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}

/** Spawns a Prometheus-family daemon on a free loopback port and waits for its /-/ready. */
async function startDaemon(
  name: string,
  command: (port: number) => [string, string[]],
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  let lastError: unknown;
  // The port may be taken between freePort() and the bind: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const [bin, args] = command(port);
    const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4_000);
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(`${url}/-/ready`, child, () => stderr);
    } catch (err) {
      lastError = err;
      await stopChild(child);
      continue;
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${name} started without a pid`);
    return { url, pid, stop: () => stopChild(child) };
  }
  throw new Error(`${name} did not become ready: ${String(lastError)}`);
}

async function waitReady(readyUrl: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${stderr().slice(-500)}`);
    try {
      const res = await fetch(readyUrl);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not ready after 15 s: ${stderr().slice(-500)}`);
}

/** Kills the child by its PID (SIGTERM, then SIGKILL) and waits for it to exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
  }, 3_000);
  await exited;
  clearTimeout(timer);
}

/** Runs `promtool check metrics` with the text on stdin. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  const bin = requireBinary("promtool", "PROMTOOL_BIN", "/usr/bin/promtool");
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the text exposition format (version 0.0.4) into samples; comments are skipped. Enough for
 * reading values back in tests: label values with escapes, optional timestamps.
 */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (nameMatch?.[1] === undefined) throw new Error(`bad sample line: ${line}`);
    const name = nameMatch[1];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      for (;;) {
        rest = rest.replace(/^\s*,?\s*/, "");
        if (rest.startsWith("}")) {
          rest = rest.slice(1);
          break;
        }
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/.exec(rest);
        if (label?.[1] === undefined || label[2] === undefined) throw new Error(`bad labels in: ${line}`);
        labels[label[1]] = label[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        rest = rest.slice(label[0].length);
      }
    }
    const valueText = rest.trim().split(/\s+/)[0] ?? "";
    const value =
      valueText === "+Inf"
        ? Infinity
        : valueText === "-Inf"
          ? -Infinity
          : /^nan$/i.test(valueText)
            ? NaN
            : Number(valueText);
    if (valueText === "" || (Number.isNaN(value) && !/^nan$/i.test(valueText))) {
      throw new Error(`bad value in: ${line}`);
    }
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The samples named `name` whose labels include all of `labels`. */
export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample matching; throws when there is none or several. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = find(samples, name, labels);
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return (found[0] as Sample).value;
}

// ---- RunResult / MetricsSnapshot fixture -------------------------------------------------------

export function latency(
  p50: number,
  p95: number,
  p99: number,
  over: Partial<LatencySummaryMs> = {},
): LatencySummaryMs {
  return {
    min: p50 / 4,
    mean: (p50 + p95) / 2,
    p50,
    p90: (p50 + p95) / 2,
    p95,
    p99,
    p999: p99 * 1.5,
    max: p99 * 2,
    ...over,
  };
}

export function category(
  success: number,
  blocked: number,
  error: number,
  over: Partial<CategoryResult> = {},
): CategoryResult {
  return {
    requests: success + blocked + error,
    success,
    blocked,
    error,
    correctness: 1,
    latencyMs: latency(1, 2, 3),
    ...over,
  };
}

/** A plausible RunResult: the spec's baseline at 100 RPS (P50 2.4, P95 4.8, P99 8.2 ms), one category. */
export function makeRunResult(over: Partial<RunResult> = {}): RunResult {
  const categories = over.categories ?? {
    normal: category(15_000, 3_500, 0, {
      correctness: 0.99935,
      latencyMs: latency(2.4, 4.8, 8.2, { mean: 2.9 }),
    }),
  };
  const totals = Object.values(categories).reduce(
    (acc, c) => ({
      success: acc.success + c.success,
      blocked: acc.blocked + c.blocked,
      error: acc.error + c.error,
    }),
    { success: 0, blocked: 0, error: 0 },
  );
  const total = totals.success + totals.blocked + totals.error;
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    target: "http://127.0.0.1:8080",
    path: "/v1/execute",
    category: Object.keys(categories).length === 1 ? (Object.keys(categories)[0] as string) : "mixed",
    startedAt: "2025-01-01T00:00:00.000Z",
    endedAt: "2025-01-01T00:03:05.000Z",
    durationSec: 185,
    interrupted: false,
    rate: { targetPerSec: 100, achievedPerSec: 99.97, sentPerSec: 100, closedLoop: false },
    requests: { sent: total, total, ...totals, dropped: 7, unexpected: 12 },
    correctness: 0.99935,
    latencyMs: latency(2.4, 4.8, 8.2, { mean: 2.9 }),
    serviceTimeMs: latency(2.3, 4.6, 8.0),
    queueTimeMs: latency(0.005, 0.01, 0.02),
    sendLagMs: latency(0.012, 0.051, 0.203, { mean: 0.02 }),
    categories,
    errors: {},
    transport: {
      mode: "auto",
      protocol: "http/1.1",
      retried: { total: 0, byReason: {} },
      connections: {
        opened: 10,
        failed: 0,
        resumed: 0,
        byProtocol: { "http/1.1": 10 },
        byTlsVersion: { none: 10 },
        connectMs: latency(0.2, 0.4, 0.5),
        tlsHandshakeMs: latency(0, 0, 0),
        requestsPerConnection: { mean: 1850, max: 2000 },
        limit: 50,
        streamsPerConnection: null,
        serverMaxStreams: null,
        keepAlive: true,
        maxRequestsPerConnection: null,
      },
      tls: null,
      warnings: [],
      errors: {},
    },
    generator: {
      eventLoopDelayMs: { p50: 0.1, p99: 1.2, max: 3 },
      ownSendLagMs: { p50: 0.5, p99: 1.2, max: 3 },
      maxInFlight: 12,
      workers: 50,
      threads: 1,
      pacing: "precise",
      trustworthy: true,
    },
    verdict: { level: "target", checks: [], warnings: [] },
    timeline: [],
    ...over,
  };
}

/** Cumulative buckets over LATENCY_BUCKET_BOUNDS_MS for `count` requests, spread so that each bucket differs. */
export function makeBuckets(count: number): LatencyBucket[] {
  const n = LATENCY_BUCKET_BOUNDS_MS.length;
  return LATENCY_BUCKET_BOUNDS_MS.map((leMs, i) => ({
    leMs,
    // Monotonic, reaching count - 3 at the last bound: 3 requests slower than 30 s land in +Inf only.
    cumulativeCount: Math.floor(((count - 3) * (i + 1) * (i + 1)) / (n * n)),
  }));
}

export function makeSnapshot(result: RunResult = makeRunResult()): MetricsSnapshot {
  const completed = (c: { success: number; blocked: number; error: number }): number =>
    c.success + c.blocked + c.error;
  return {
    result,
    latencyBucketsMs: makeBuckets(completed(result.requests)),
    categoryLatencyBucketsMs: Object.fromEntries(
      Object.entries(result.categories).map(([name, c]) => [name, makeBuckets(completed(c))]),
    ),
  };
}

/** A mixed run with all four spec categories, errors of two kinds, and an LLM category. */
export function makeMixedRunResult(): RunResult {
  return makeRunResult({
    categories: {
      normal: category(6_000, 0, 2, { correctness: 0.9995, latencyMs: latency(2.1, 4.1, 7.9) }),
      security: category(0, 2_000, 1, { correctness: 0.998, latencyMs: latency(1.2, 2.2, 3.3) }),
      policy: category(40, 1_460, 0, { correctness: 0.97, latencyMs: latency(1.5, 2.5, 3.5) }),
      llm: category(497, 0, 3, { correctness: 1, latencyMs: latency(420, 1250.5, 1890.25) }),
    },
    errors: { timeout: 4, connect_refused: 2 },
  });
}
