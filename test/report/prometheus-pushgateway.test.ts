/**
 * Pushgateway push against a REAL Prometheus Pushgateway (Debian package prometheus-pushgateway) on a
 * loopback port, plus local stubs for the failure modes (errors, stalls, slow answers).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunOptions } from "../../src/config/options.js";
import { startRun } from "../../src/engine/run.js";
import type { MetricsSnapshot } from "../../src/metrics/result.js";
import {
  groupingKey,
  parsePrometheusOptions,
  startPrometheusExport,
  type PrometheusOptions,
  type PushgatewayOptions,
  type RawPrometheusOptions,
} from "../../src/report/prometheus.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import {
  category,
  find,
  freePort,
  latency,
  makeBuckets,
  makeMixedRunResult,
  makeRunResult,
  makeSnapshot,
  parseExposition,
  startPrometheus,
  startPushgateway,
  valueOf,
  type PushgatewayProcess,
  type Sample,
} from "../helpers/pushgateway.js";

let runCounter = 0;
/** A distinct run id per test, so that the tests' groups never mix in the shared Pushgateway. */
function newRunId(): string {
  runCounter += 1;
  return `test-${process.pid}-${runCounter}-${Date.now()}`;
}

/** Options with the retry schedule shortened (or not) for the test. */
function options(raw: RawPrometheusOptions, pg: Partial<PushgatewayOptions> = {}): PrometheusOptions {
  const opts = parsePrometheusOptions(raw);
  if (opts.pushgateway === undefined) throw new Error("test options need pushgateway");
  return { ...opts, pushgateway: { ...opts.pushgateway, ...pg } };
}

function snapshotWith(success: number, p99: number): MetricsSnapshot {
  return makeSnapshot(
    makeRunResult({
      categories: { normal: category(success, 100, 1, { latencyMs: latency(2, 4, p99) }) },
      latencyMs: latency(2, 4, p99),
    }),
  );
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("Pushgateway (real prometheus-pushgateway)", () => {
  let gateway: PushgatewayProcess;
  beforeAll(async () => {
    gateway = await startPushgateway();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  const ofRun = async (runId: string): Promise<Sample[]> =>
    (await gateway.scrape()).filter((s) => s.labels.run_id === runId);

  it("pushes the final results: spec names, labels, grouping key and exact values", async () => {
    const runId = newRunId();
    const result = makeMixedRunResult();
    const final = makeSnapshot(result);
    const opts = options({
      pushgateway: gateway.url,
      pushInterval: "0",
      client: "acme",
      environment: "staging",
      provider: "openai",
      labels: ["region=eu-west-1", "build=1234"],
    });
    const exp = await startPrometheusExport(opts, runId, () => {
      throw new Error("no periodic push with --push-interval 0");
    });
    expect(await exp.finish(final)).toEqual({ warnings: [], fatal: false });

    const samples = await ofRun(runId);
    const group = { job: "load-test", run_id: runId };
    const context = { ...group, client: "acme", environment: "staging", region: "eu-west-1", build: "1234" };
    // The Pushgateway's own record of the group.
    expect(valueOf(samples, "push_failure_time_seconds", group)).toBe(0);
    expect(valueOf(samples, "push_time_seconds", group)).toBeGreaterThan(1.7e9);

    for (const [name, c] of Object.entries(result.categories)) {
      const labels = { ...context, test_type: name };
      for (const status of ["success", "blocked", "error"] as const) {
        expect(valueOf(samples, "axonflow_load_test_requests_total", { ...labels, status })).toBe(c[status]);
      }
      for (const [quantile, key] of [
        ["0.5", "p50"],
        ["0.95", "p95"],
        ["0.99", "p99"],
      ] as const) {
        expect(valueOf(samples, "axonflow_load_test_latency_ms", { ...labels, quantile })).toBe(
          c.latencyMs[key],
        );
      }
      const completed = c.success + c.blocked + c.error;
      const buckets = find(samples, "axonflow_load_test_request_latency_ms_bucket", labels);
      expect(buckets.map((b) => [b.labels.le === "+Inf" ? Infinity : Number(b.labels.le), b.value])).toEqual([
        ...makeBuckets(completed).map((b) => [b.leMs, b.cumulativeCount]),
        [Infinity, completed],
      ]);
      expect(valueOf(samples, "axonflow_load_test_request_latency_ms_count", labels)).toBe(completed);
      expect(valueOf(samples, "axonflow_load_test_correctness_ratio", labels)).toBe(c.correctness);
      // provider only where the category calls an LLM
      for (const s of find(samples, "axonflow_load_test_requests_total", labels)) {
        expect(s.labels.provider).toBe(name === "llm" ? "openai" : undefined);
      }
    }
    const run = { ...context, test_type: "mixed", provider: "openai" };
    expect(valueOf(samples, "axonflow_load_test_latency_ms", { ...run, quantile: "0.99" })).toBe(
      result.latencyMs.p99,
    );
    expect(valueOf(samples, "axonflow_load_test_requests_unexpected_total", run)).toBe(
      result.requests.unexpected,
    );
    expect(valueOf(samples, "axonflow_load_test_requests_dropped_total", run)).toBe(result.requests.dropped);
    expect(valueOf(samples, "axonflow_load_test_errors_total", { ...run, kind: "timeout" })).toBe(4);
    expect(valueOf(samples, "axonflow_load_test_achieved_rate_per_second", run)).toBe(
      result.rate.achievedPerSec,
    );
    expect(valueOf(samples, "axonflow_load_test_target_rate_per_second", run)).toBe(result.rate.targetPerSec);
    expect(valueOf(samples, "axonflow_load_test_send_lag_ms", { ...run, quantile: "0.99" })).toBe(
      result.sendLagMs.p99,
    );
    expect(valueOf(samples, "axonflow_load_test_run_info", run)).toBe(1);
    // Every pushed series carries the grouping key and the context labels.
    for (const s of samples.filter((x) => x.name.startsWith("axonflow_load_test_"))) {
      expect(s.labels).toMatchObject(context);
    }
  });

  it("groups shards by instance (values with / use the Pushgateway's base64 form) under --pushgateway-job", async () => {
    const runId = newRunId();
    for (const [instance, success] of [
      ["1/2", 100],
      ["2/2", 250],
    ] as const) {
      const opts = options({
        pushgateway: gateway.url,
        pushInterval: "0",
        pushgatewayJob: "nightly",
        pushgatewayInstance: instance,
      });
      const exp = await startPrometheusExport(opts, runId, makeSnapshot);
      expect(await exp.finish(snapshotWith(success, 9))).toEqual({ warnings: [], fatal: false });
    }
    const samples = await ofRun(runId);
    const shard = (instance: string): Record<string, string> => ({
      job: "nightly",
      instance,
      status: "success",
    });
    expect(valueOf(samples, "axonflow_load_test_requests_total", shard("1/2"))).toBe(100);
    expect(valueOf(samples, "axonflow_load_test_requests_total", shard("2/2"))).toBe(250);
    // sum over shards, as PromQL's sum by (run_id) would give
    const total = find(samples, "axonflow_load_test_requests_total", { status: "success" }).reduce(
      (a, s) => a + s.value,
      0,
    );
    expect(total).toBe(350);
    const pg = options({ pushgateway: gateway.url, pushgatewayInstance: "1/2" }).pushgateway;
    expect(pg && groupingKey(pg, "r")).toEqual({
      jobName: "load-test",
      groupings: { run_id: "r", "instance@base64": "MS8y" },
    });
  });

  it("aggregates in a real Prometheus across shards: counter sums and histogram_quantile over sum by (le)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-prometheus-"));
    const prometheus = await startPrometheus(new URL(gateway.url).host, dir);
    try {
      const runId = newRunId();
      for (const instance of ["1/2", "2/2"]) {
        // 99 + 100 + 1 = 200 completed per shard: 100 at most 1 ms, 200 at most 2 ms.
        const snapshot = snapshotWith(99, 2);
        snapshot.categoryLatencyBucketsMs.normal = [
          { leMs: 1, cumulativeCount: 100 },
          { leMs: 2, cumulativeCount: 200 },
        ];
        const opts = options({ pushgateway: gateway.url, pushInterval: "0", pushgatewayInstance: instance });
        const exp = await startPrometheusExport(opts, runId, makeSnapshot);
        expect(await exp.finish(snapshot)).toEqual({ warnings: [], fatal: false });
      }
      const sel = `{run_id="${runId}"}`;
      const byStatus = await waitFor(
        "Prometheus to scrape both shards",
        async () => {
          const rows = await prometheus.query(`sum by (status) (axonflow_load_test_requests_total${sel})`);
          const map = Object.fromEntries(rows.map((r) => [r.metric.status, r.value]));
          return map.success === 198 ? map : undefined;
        },
        20_000,
      );
      expect(byStatus).toEqual({ success: 198, blocked: 200, error: 2 });
      // rank 0.75 * 400 = 300 falls in (1, 2] ms holding 200 of the 400: 1 + (300 - 200) / 200 = 1.5
      const [p75] = await prometheus.query(
        `histogram_quantile(0.75, sum by (le) (axonflow_load_test_request_latency_ms_bucket${sel}))`,
      );
      expect(p75?.value).toBeCloseTo(1.5, 9);
      const [blockRate] = await prometheus.query(
        `sum(axonflow_load_test_requests_total{run_id="${runId}",status="blocked"}) / sum(axonflow_load_test_requests_total${sel})`,
      );
      expect(blockRate?.value).toBe(0.5);
      // the spec's summary lines stay one per shard (instance from the grouping key, kept by honor_labels)
      const p99 = await prometheus.query(`axonflow_load_test_latency_ms{run_id="${runId}",quantile="0.99"}`);
      expect(p99.map((r) => [r.metric.instance, r.metric.job, r.value]).sort()).toEqual([
        ["1/2", "load-test", 2],
        ["2/2", "load-test", 2],
      ]);
    } finally {
      await prometheus.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("pushes during the run, every --push-interval, then the final values", async () => {
    const runId = newRunId();
    let current = snapshotWith(10, 5);
    const exp = await startPrometheusExport(
      options({ pushgateway: gateway.url, pushInterval: "150ms" }),
      runId,
      () => current,
    );
    const successOf = async (): Promise<number | undefined> =>
      find(await ofRun(runId), "axonflow_load_test_requests_total", { status: "success" })[0]?.value;

    await waitFor("the first periodic push", async () => ((await successOf()) === 10 ? true : undefined));
    current = snapshotWith(20, 6);
    await waitFor("a later periodic push", async () => ((await successOf()) === 20 ? true : undefined));
    const p99 = valueOf(await ofRun(runId), "axonflow_load_test_latency_ms", { quantile: "0.99" });
    expect(p99).toBe(6);

    expect(await exp.finish(snapshotWith(30, 7))).toEqual({ warnings: [], fatal: false });
    expect(await successOf()).toBe(30);
    // no periodic push after finish() overwrites the final values
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await successOf()).toBe(30);
  });

  it("--pushgateway-delete-after removes the run's group at the end", async () => {
    const runId = newRunId();
    const exp = await startPrometheusExport(
      options({ pushgateway: gateway.url, pushInterval: "100ms", pushgatewayDeleteAfter: true }),
      runId,
      () => snapshotWith(10, 5),
    );
    await waitFor("a periodic push", async () => ((await ofRun(runId)).length > 0 ? true : undefined));
    expect(await exp.finish(snapshotWith(11, 5))).toEqual({ warnings: [], fatal: false });
    expect(await ofRun(runId)).toEqual([]);
  });
});

describe("with the real engine and reference gateway", () => {
  let gateway: PushgatewayProcess;
  let target: RunningGateway;
  let dir: string;
  beforeAll(async () => {
    [gateway, target, dir] = await Promise.all([
      startPushgateway(),
      startGateway({ llmLatencyMs: { min: 5, max: 15 } }),
      mkdtemp(join(tmpdir(), "load-test-prom-e2e-")),
    ]);
  });
  afterAll(async () => {
    await Promise.all([gateway?.stop(), target?.close(), dir && rm(dir, { recursive: true, force: true })]);
  });

  it("live /metrics moves during the run; file and Pushgateway end with the RunResult's exact values", async () => {
    const runId = newRunId();
    const file = join(dir, "run.prom");
    const handle = startRun(
      parseRunOptions({
        target: target.url,
        rps: "200",
        duration: "3s",
        category: "mixed",
        warmup: "0s",
        apiKey: "demo-org",
        threads: "2",
      }),
    );
    const exp = await startPrometheusExport(
      options({
        pushgateway: gateway.url,
        pushInterval: "300ms",
        metricsListen: "127.0.0.1:0",
        prometheusFile: file,
        client: "demo-org",
        provider: "mock",
      }),
      runId,
      () => handle.snapshot(),
    );
    const completedLive = async (): Promise<number> => {
      const samples = parseExposition(await (await fetch(exp.listenUrl ?? "")).text());
      return find(samples, "axonflow_load_test_requests_total").reduce((a, x) => a + x.value, 0);
    };
    // Worker threads (--threads) report once a second: sample at their first report, then a
    // second later (the run lasts 3 s after the threads have started).
    let early = 0;
    for (let waitedMs = 0; early === 0 && waitedMs < 5000; waitedMs += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      early = await completedLive();
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const later = await completedLive();
    expect(early).toBeGreaterThan(0);
    expect(later).toBeGreaterThan(early);

    const result = await handle.result;
    const final = handle.snapshot();
    expect(await exp.finish(final)).toEqual({ warnings: [], fatal: false });

    const fromFile = parseExposition(await readFile(file, "utf8"));
    const fromGateway = (await gateway.scrape()).filter((x) => x.labels.run_id === runId);
    for (const samples of [fromFile, fromGateway]) {
      const run = { test_type: "mixed", client: "demo-org", provider: "mock" };
      for (const [quantile, key] of [
        ["0.5", "p50"],
        ["0.95", "p95"],
        ["0.99", "p99"],
      ] as const) {
        expect(valueOf(samples, "axonflow_load_test_latency_ms", { ...run, quantile })).toBe(
          result.latencyMs[key],
        );
        expect(valueOf(samples, "axonflow_load_test_send_lag_ms", { ...run, quantile })).toBe(
          result.sendLagMs[key],
        );
      }
      expect(Object.keys(result.categories).length).toBeGreaterThan(1);
      for (const [name, c] of Object.entries(result.categories)) {
        for (const status of ["success", "blocked", "error"] as const) {
          expect(valueOf(samples, "axonflow_load_test_requests_total", { test_type: name, status })).toBe(
            c[status],
          );
        }
        expect(
          valueOf(samples, "axonflow_load_test_request_latency_ms_bucket", { test_type: name, le: "+Inf" }),
        ).toBe(c.success + c.blocked + c.error);
        if (c.correctness !== null) {
          expect(valueOf(samples, "axonflow_load_test_correctness_ratio", { test_type: name })).toBe(
            c.correctness,
          );
        }
      }
      expect(valueOf(samples, "axonflow_load_test_requests_unexpected_total", run)).toBe(
        result.requests.unexpected,
      );
      expect(valueOf(samples, "axonflow_load_test_requests_dropped_total", run)).toBe(
        result.requests.dropped,
      );
      expect(valueOf(samples, "axonflow_load_test_achieved_rate_per_second", run)).toBe(
        result.rate.achievedPerSec,
      );
      expect(valueOf(samples, "axonflow_load_test_target_rate_per_second", run)).toBe(
        result.rate.targetPerSec,
      );
      expect(valueOf(samples, "axonflow_load_test_correctness_ratio", run)).toBe(result.correctness);
      const total = find(samples, "axonflow_load_test_requests_total").reduce((a, x) => a + x.value, 0);
      expect(total).toBe(result.requests.success + result.requests.blocked + result.requests.error);
      // the API key used as Authorization never shows up
      expect(JSON.stringify(samples)).not.toContain("Bearer");
    }
  });
});

/** A local HTTP server standing in for a misbehaving Pushgateway; records each request. */
async function stubGateway(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{
  url: string;
  requests: { method: string; url: string; body: string; at: number }[];
  maxConcurrent: number;
  close(): Promise<void>;
}> {
  const requests: { method: string; url: string; body: string; at: number }[] = [];
  let active = 0;
  const state = { maxConcurrent: 0 };
  const server: Server = createServer((req, res) => {
    active += 1;
    state.maxConcurrent = Math.max(state.maxConcurrent, active);
    let closed = false;
    const done = (): void => {
      if (!closed) active -= 1;
      closed = true;
    };
    res.on("close", done);
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", body, at: Date.now() });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get maxConcurrent() {
      return state.maxConcurrent;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("Pushgateway failures never break or stall the run", () => {
  it("unreachable (nothing listening): finish() resolves quickly with a warning; not fatal by default", async () => {
    const port = await freePort();
    const withCredentials = new URL(`http://127.0.0.1:${port}`);
    withCredentials.username = "user";
    withCredentials.password = "hunter2";
    const exp = await startPrometheusExport(
      options({ pushgateway: withCredentials.toString(), pushInterval: "0" }),
      newRunId(),
      makeSnapshot,
    );
    const started = Date.now();
    const outcome = await exp.finish(makeSnapshot());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(outcome.fatal).toBe(false);
    expect(outcome.warnings).toHaveLength(1);
    const [warning] = outcome.warnings;
    expect(warning?.startsWith(`pushgateway http://127.0.0.1:${port} unreachable: final push failed`)).toBe(
      true,
    );
    expect(warning).toMatch(/ after 3 attempts \(connect ECONNREFUSED/);
    expect(outcome.warnings.join("\n")).not.toContain("hunter2");
  });

  it("unreachable with --pushgateway-fatal: fatal, and the --prometheus-file is still written", async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "load-test-pg-"));
    try {
      const file = join(dir, "final.prom");
      const exp = await startPrometheusExport(
        options({
          pushgateway: `http://127.0.0.1:${port}`,
          pushInterval: "0",
          pushgatewayFatal: true,
          prometheusFile: file,
        }),
        newRunId(),
        makeSnapshot,
      );
      const outcome = await exp.finish(makeSnapshot());
      expect(outcome.fatal).toBe(true);
      expect(outcome.warnings).toHaveLength(1);
      expect(outcome.warnings[0]).toMatch(/unreachable/);
      const written = parseExposition(await readFile(file, "utf8"));
      expect(valueOf(written, "axonflow_load_test_requests_total", { status: "blocked" })).toBe(3_500);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answering 500: retries with backoff, then warns (periodic failures summarised)", async () => {
    const stub = await stubGateway((_req, res) => res.writeHead(500).end("storage full"));
    try {
      const exp = await startPrometheusExport(
        options({ pushgateway: stub.url, pushInterval: "100ms", pushgatewayFatal: true }, { backoffMs: 50 }),
        newRunId(),
        makeSnapshot,
      );
      // let a periodic push (3 attempts) fail first
      await waitFor("three periodic attempts", async () => (stub.requests.length >= 3 ? true : undefined));
      const before = stub.requests.length;
      const outcome = await exp.finish(makeSnapshot());
      expect(outcome.fatal).toBe(true);
      expect(outcome.warnings).toHaveLength(1);
      expect(outcome.warnings[0]).toMatch(
        /rejected the final push .* after 3 attempts \(HTTP 500: storage full\)/,
      );
      expect(outcome.warnings[0]).toMatch(
        /\d+ of \d+ periodic pushes failed \(last: HTTP 500: storage full\)/,
      );
      // the final push was tried exactly 3 times, spaced by the backoff (50 ms, then 100 ms)
      const finals = stub.requests.slice(before).filter((r) => r.method === "PUT");
      expect(finals.length).toBeGreaterThanOrEqual(3);
      const last3 = finals.slice(-3);
      expect((last3[1]?.at ?? 0) - (last3[0]?.at ?? 0)).toBeGreaterThanOrEqual(40);
      expect((last3[2]?.at ?? 0) - (last3[1]?.at ?? 0)).toBeGreaterThanOrEqual(90);
      expect(last3[0]?.url).toMatch(/^\/metrics\/job\/load-test\/run_id\//);
    } finally {
      await stub.close();
    }
  });

  it("answering 400 (bad metrics): no pointless retries", async () => {
    const stub = await stubGateway((_req, res) => res.writeHead(400).end("pushed metrics are invalid"));
    try {
      const exp = await startPrometheusExport(
        options({ pushgateway: stub.url, pushInterval: "0" }),
        newRunId(),
        makeSnapshot,
      );
      const outcome = await exp.finish(makeSnapshot());
      expect(stub.requests).toHaveLength(1);
      expect(outcome).toEqual({
        fatal: false,
        warnings: [
          expect.stringMatching(
            /rejected the final push .* after 1 attempt \(HTTP 400: pushed metrics are invalid\)/,
          ),
        ],
      });
    } finally {
      await stub.close();
    }
  });

  it("stalling (never answers): each attempt times out, finish() stays within its budget", async () => {
    const stub = await stubGateway(() => {
      // never answer
    });
    try {
      const exp = await startPrometheusExport(
        options(
          { pushgateway: stub.url, pushInterval: "0", pushgatewayDeleteAfter: true },
          { attemptTimeoutMs: 200, backoffMs: 20, finishBudgetMs: 1_000 },
        ),
        newRunId(),
        makeSnapshot,
      );
      const started = Date.now();
      const outcome = await exp.finish(makeSnapshot());
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(1_500);
      expect(outcome.fatal).toBe(false);
      expect(outcome.warnings[0]).toMatch(/final push failed .* \(timed out after 200 ms\)/);
      // the delete gets what is left of the budget, and says so
      expect(outcome.warnings[1]).toMatch(
        /could not delete group job="load-test",run_id="[^"]+" \((timed out|not attempted)/,
      );
    } finally {
      await stub.close();
    }
  });

  it("slow: pushes never overlap, and finish() cancels a push in flight so the final one lands last", async () => {
    const stub = await stubGateway((_req, res) => {
      setTimeout(() => res.writeHead(200).end(), 250);
    });
    try {
      let success = 1;
      const exp = await startPrometheusExport(
        options({ pushgateway: stub.url, pushInterval: "100ms" }),
        newRunId(),
        () => snapshotWith(success++, 5),
      );
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(stub.maxConcurrent).toBe(1);
      const periodic = stub.requests.length;
      // 100 ms wait + 250 ms answer per push: about 3 in 1.2 s, never 12
      expect(periodic).toBeGreaterThanOrEqual(2);
      expect(periodic).toBeLessThanOrEqual(4);

      const outcome = await exp.finish(snapshotWith(999_999, 5));
      expect(outcome).toEqual({ warnings: [], fatal: false });
      const last = stub.requests.at(-1);
      expect(
        valueOf(parseExposition(last?.body ?? ""), "axonflow_load_test_requests_total", {
          status: "success",
        }),
      ).toBe(999_999);
    } finally {
      await stub.close();
    }
  });
});
