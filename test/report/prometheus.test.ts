/**
 * Prometheus export without a Pushgateway: flag validation, the exposition (names, labels, values equal to
 * the RunResult), promtool, the text file and the live /metrics endpoint.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register as globalRegistry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetricsSnapshot } from "../../src/metrics/result.js";
import {
  PrometheusOptionError,
  buildRegistry,
  checkPrometheusOptions,
  parsePrometheusOptions,
  startPrometheusExport,
  type RawPrometheusOptions,
} from "../../src/report/prometheus.js";
import {
  category,
  find,
  latency,
  makeBuckets,
  makeMixedRunResult,
  makeRunResult,
  makeSnapshot,
  parseExposition,
  promtoolCheckMetrics,
  requireBinary,
  valueOf,
  type Sample,
} from "../helpers/pushgateway.js";

const RUN_ID = "run-2025-01-01T00-00-00Z-abc123";

async function exposition(snapshot: MetricsSnapshot, raw: RawPrometheusOptions = {}): Promise<string> {
  return buildRegistry(snapshot, parsePrometheusOptions(raw), RUN_ID).metrics();
}

async function samplesOf(snapshot: MetricsSnapshot, raw: RawPrometheusOptions = {}): Promise<Sample[]> {
  return parseExposition(await exposition(snapshot, raw));
}

/**
 * promtool exits 0 when clean, 1 on a parse error, 3 on lint problems. The spec's names end in `_ms`,
 * which promtool's lint flags ("abbreviated units"); that is the one lint problem allowed.
 */
async function expectPromtoolClean(text: string): Promise<void> {
  const { code, output } = await promtoolCheckMetrics(text);
  const problems = output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => !/^\w+_ms metric names should not contain abbreviated units$/.test(line));
  expect(problems, `promtool (exit ${code}):\n${output}`).toEqual([]);
  expect([0, 3]).toContain(code);
}

describe("parsePrometheusOptions", () => {
  it("defaults to the spec's prefix and nothing enabled", () => {
    expect(parsePrometheusOptions({})).toEqual({ metricPrefix: "axonflow_load_test", extraLabels: {} });
  });

  it("parses every flag", () => {
    const opts = parsePrometheusOptions({
      metricPrefix: "acme_lt",
      client: "acme",
      environment: "staging",
      provider: "openai",
      labels: ["region=eu-west-1", "team=platform"],
      pushgateway: "http://127.0.0.1:9091",
      pushInterval: "500ms",
      pushgatewayDeleteAfter: true,
      pushgatewayFatal: true,
      pushgatewayJob: "nightly",
      pushgatewayInstance: "1/4",
      prometheusFile: "out.prom",
      metricsListen: "127.0.0.1:9464",
    });
    expect(opts).toMatchObject({
      metricPrefix: "acme_lt",
      client: "acme",
      environment: "staging",
      provider: "openai",
      extraLabels: { region: "eu-west-1", team: "platform" },
      pushgateway: {
        url: "http://127.0.0.1:9091",
        job: "nightly",
        instance: "1/4",
        intervalMs: 500,
        deleteAfter: true,
        fatal: true,
      },
      prometheusFile: "out.prom",
      metricsListen: { host: "127.0.0.1", port: 9464 },
    });
  });

  it.each([
    ["10s", 10_000],
    ["1m", 60_000],
    ["1m30s", 90_000],
    ["2.5s", 2_500],
    ["15", 15_000],
    ["0", 0],
  ])("--push-interval %s is %d ms", (pushInterval, ms) => {
    expect(
      parsePrometheusOptions({ pushgateway: "http://127.0.0.1:9091", pushInterval }).pushgateway?.intervalMs,
    ).toBe(ms);
  });

  it.each([
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["localhost:9464", { host: "localhost", port: 9464 }],
    ["[::1]:9464", { host: "::1", port: 9464 }],
    [":9464", { host: "0.0.0.0", port: 9464 }],
  ])("--metrics-listen %s", (metricsListen, expected) => {
    expect(parsePrometheusOptions({ metricsListen }).metricsListen).toEqual(expected);
  });

  it.each<[string, RawPrometheusOptions, string, RegExp]>([
    [
      "label name starting with a digit",
      { labels: ["1region=eu"] },
      "--label",
      /not a valid Prometheus label name/,
    ],
    ["label name with a dash", { labels: ["my-label=x"] }, "--label", /not a valid Prometheus label name/],
    ["label name starting with __", { labels: ["__name__=x"] }, "--label", /reserved for Prometheus/],
    ["label without =", { labels: ["region"] }, "--label", /expected name=value/],
    ["label with an empty value", { labels: ["region="] }, "--label", /empty value/],
    ["label given twice", { labels: ["a=1", "a=2"] }, "--label", /given twice/],
    ["reserved label job", { labels: ["job=x"] }, "--label", /set by the exporter/],
    ["reserved label run_id", { labels: ["run_id=x"] }, "--label", /set by the exporter/],
    ["reserved label le", { labels: ["le=1"] }, "--label", /set by the exporter/],
    ["spec label client", { labels: ["client=x"] }, "--label", /use --client/],
    ["credential-like label name", { labels: ["api_key=abc"] }, "--label", /credential/],
    ["Authorization value in a label", { labels: ["who=Bearer abc.def"] }, "--label", /Authorization/],
    ["Authorization value in --client", { client: "Bearer abc" }, "--client", /Authorization/],
    ["empty --environment", { environment: "  " }, "--environment", /empty/],
    [
      "prefix starting with a digit",
      { metricPrefix: "9lt" },
      "--metric-prefix",
      /not a valid metric name prefix/,
    ],
    [
      "prefix with a dash",
      { metricPrefix: "load-test" },
      "--metric-prefix",
      /not a valid metric name prefix/,
    ],
    ["prefix with a colon", { metricPrefix: "lt:x" }, "--metric-prefix", /not a valid metric name prefix/],
    [
      "prefix starting with __",
      { metricPrefix: "__lt" },
      "--metric-prefix",
      /not a valid metric name prefix/,
    ],
    [
      "pushgateway not a URL",
      { pushgateway: "pushgateway:9091x y" },
      "--pushgateway",
      /not a URL|not supported/,
    ],
    [
      "pushgateway ftp URL",
      { pushgateway: "ftp://127.0.0.1:9091" },
      "--pushgateway",
      /http:\/\/ or https:\/\//,
    ],
    ["pushgateway with a query", { pushgateway: "http://127.0.0.1:9091/?a=1" }, "--pushgateway", /query/],
    [
      "job with a slash",
      { pushgateway: "http://127.0.0.1:9091", pushgatewayJob: "a/b" },
      "--pushgateway-job",
      /"\/"/,
    ],
    ["push interval not a duration", { pushInterval: "fast" }, "--push-interval", /duration/],
    ["push interval too short", { pushInterval: "10ms" }, "--push-interval", /at least 100ms/],
    [
      "delete-after without pushgateway",
      { pushgatewayDeleteAfter: true },
      "--pushgateway-delete-after",
      /needs --pushgateway/,
    ],
    ["fatal without pushgateway", { pushgatewayFatal: true }, "--pushgateway-fatal", /needs --pushgateway/],
    ["listen without port", { metricsListen: "127.0.0.1" }, "--metrics-listen", /host:port/],
    ["listen port only digits", { metricsListen: "9464" }, "--metrics-listen", /host:port/],
    ["listen port out of range", { metricsListen: "127.0.0.1:70000" }, "--metrics-listen", /out of range/],
    ["empty file name", { prometheusFile: "" }, "--prometheus-file", /empty/],
  ])("rejects %s, naming %s", (_case, raw, flag, pattern) => {
    let caught: unknown;
    try {
      parsePrometheusOptions(raw);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PrometheusOptionError);
    const error = caught as PrometheusOptionError;
    expect(error.flag).toBe(flag);
    expect(error.message.startsWith(`${flag}: `)).toBe(true);
    expect(error.message).toMatch(pattern);
  });

  it("reports every problem at once through checkPrometheusOptions", () => {
    const { options, errors } = checkPrometheusOptions({
      metricPrefix: "9x",
      labels: ["ok=1", "bad-name=2", "job=3"],
      metricsListen: "nowhere",
    });
    expect(options).toBeUndefined();
    expect(errors.map((e) => e.flag)).toEqual(["--metric-prefix", "--label", "--label", "--metrics-listen"]);
  });
});

describe("buildRegistry", () => {
  it("writes the spec's lines with the RunResult's values and the spec's labels", async () => {
    const snapshot = makeSnapshot();
    const { result } = snapshot;
    const samples = await samplesOf(snapshot, {
      client: "acme",
      environment: "staging",
      labels: ["region=eu-west-1"],
    });
    const common = {
      run_id: RUN_ID,
      client: "acme",
      environment: "staging",
      region: "eu-west-1",
      test_type: "normal",
    };

    // Spec "Metrics Collection": axonflow_load_test_latency_ms{quantile="0.5"} 2.4, 0.95 -> 4.8, 0.99 -> 8.2
    expect(valueOf(samples, "axonflow_load_test_latency_ms", { ...common, quantile: "0.5" })).toBe(2.4);
    expect(valueOf(samples, "axonflow_load_test_latency_ms", { ...common, quantile: "0.95" })).toBe(4.8);
    expect(valueOf(samples, "axonflow_load_test_latency_ms", { ...common, quantile: "0.99" })).toBe(8.2);
    // ... and axonflow_load_test_requests_total{status="success"} 15000, blocked 3500, error 0
    expect(valueOf(samples, "axonflow_load_test_requests_total", { ...common, status: "success" })).toBe(
      15_000,
    );
    expect(valueOf(samples, "axonflow_load_test_requests_total", { ...common, status: "blocked" })).toBe(
      3_500,
    );
    expect(valueOf(samples, "axonflow_load_test_requests_total", { ...common, status: "error" })).toBe(0);

    const completed = result.requests.success + result.requests.blocked + result.requests.error;
    expect(valueOf(samples, "axonflow_load_test_latency_ms_count", common)).toBe(completed);
    expect(valueOf(samples, "axonflow_load_test_latency_ms_sum", common)).toBeCloseTo(
      result.latencyMs.mean * completed,
      6,
    );
    expect(valueOf(samples, "axonflow_load_test_requests_unexpected_total", common)).toBe(
      result.requests.unexpected,
    );
    expect(valueOf(samples, "axonflow_load_test_requests_dropped_total", common)).toBe(
      result.requests.dropped,
    );
    expect(valueOf(samples, "axonflow_load_test_correctness_ratio", common)).toBe(result.correctness);
    expect(valueOf(samples, "axonflow_load_test_target_rate_per_second", common)).toBe(
      result.rate.targetPerSec,
    );
    expect(valueOf(samples, "axonflow_load_test_achieved_rate_per_second", common)).toBe(
      result.rate.achievedPerSec,
    );
    expect(valueOf(samples, "axonflow_load_test_sent_rate_per_second", common)).toBe(result.rate.sentPerSec);
    expect(valueOf(samples, "axonflow_load_test_duration_seconds", common)).toBe(result.durationSec);
    expect(valueOf(samples, "axonflow_load_test_generator_trustworthy", common)).toBe(1);
    expect(valueOf(samples, "axonflow_load_test_send_lag_ms", { ...common, quantile: "0.5" })).toBe(
      result.sendLagMs.p50,
    );
    expect(valueOf(samples, "axonflow_load_test_send_lag_ms", { ...common, quantile: "0.95" })).toBe(
      result.sendLagMs.p95,
    );
    expect(valueOf(samples, "axonflow_load_test_send_lag_ms", { ...common, quantile: "0.99" })).toBe(
      result.sendLagMs.p99,
    );
    expect(valueOf(samples, "axonflow_load_test_send_lag_ms_count", common)).toBe(result.requests.total);
    expect(
      valueOf(samples, "axonflow_load_test_run_info", {
        ...common,
        target: "http://127.0.0.1:8080",
        path: "/v1/execute",
      }),
    ).toBe(1);

    // Every series carries run_id and the context labels; provider only where a category calls an LLM.
    for (const s of samples) {
      expect(s.labels).toMatchObject(common);
      expect(s.labels).not.toHaveProperty("provider");
      expect(s.labels).not.toHaveProperty("job");
      expect(s.labels).not.toHaveProperty("instance");
    }
  });

  it("exports a real histogram: the recorder's cumulative buckets, +Inf, _sum and _count", async () => {
    const snapshot = makeSnapshot();
    const samples = await samplesOf(snapshot);
    const buckets = find(samples, "axonflow_load_test_request_latency_ms_bucket", { test_type: "normal" });
    const completed = 15_000 + 3_500;
    expect(buckets.map((b) => [b.labels.le, b.value])).toEqual([
      ...makeBuckets(completed).map((b) => [String(b.leMs), b.cumulativeCount]),
      ["+Inf", completed],
    ]);
    // the fixture's last finite bucket holds 3 fewer: +Inf still counts the slow ones
    expect(buckets.at(-2)?.value).toBe(completed - 3);
    expect(valueOf(samples, "axonflow_load_test_request_latency_ms_count", { test_type: "normal" })).toBe(
      completed,
    );
    expect(
      valueOf(samples, "axonflow_load_test_request_latency_ms_sum", { test_type: "normal" }),
    ).toBeCloseTo(2.9 * completed, 6);
  });

  it("uses the recorder's +Inf bucket when it gives one", async () => {
    const snapshot = makeSnapshot();
    snapshot.categoryLatencyBucketsMs.normal = [
      { leMs: 1, cumulativeCount: 10 },
      { leMs: Infinity, cumulativeCount: 18_400 },
    ];
    const samples = await samplesOf(snapshot);
    const buckets = find(samples, "axonflow_load_test_request_latency_ms_bucket", { test_type: "normal" });
    expect(buckets.map((b) => [b.labels.le, b.value])).toEqual([
      ["1", 10],
      ["+Inf", 18_400],
    ]);
  });

  it("splits a mixed run by test_type so that sum() over categories is the run and nothing counts twice", async () => {
    const result = makeMixedRunResult();
    const samples = await samplesOf(makeSnapshot(result), { provider: "openai" });
    const categories = Object.keys(result.categories);

    for (const [name, c] of Object.entries(result.categories)) {
      for (const status of ["success", "blocked", "error"] as const) {
        expect(valueOf(samples, "axonflow_load_test_requests_total", { test_type: name, status })).toBe(
          c[status],
        );
      }
      expect(valueOf(samples, "axonflow_load_test_latency_ms", { test_type: name, quantile: "0.99" })).toBe(
        c.latencyMs.p99,
      );
      expect(valueOf(samples, "axonflow_load_test_correctness_ratio", { test_type: name })).toBe(
        c.correctness,
      );
      expect(valueOf(samples, "axonflow_load_test_request_latency_ms_count", { test_type: name })).toBe(
        c.success + c.blocked + c.error,
      );
    }
    // Additive families: only per-category series, so their sums are the run's totals.
    const testTypes = (name: string): string[] => [
      ...new Set(find(samples, name).map((s) => s.labels.test_type ?? "")),
    ];
    expect(testTypes("axonflow_load_test_requests_total").sort()).toEqual([...categories].sort());
    expect(testTypes("axonflow_load_test_request_latency_ms_bucket").sort()).toEqual([...categories].sort());
    for (const status of ["success", "blocked", "error"] as const) {
      const sum = find(samples, "axonflow_load_test_requests_total", { status }).reduce(
        (a, s) => a + s.value,
        0,
      );
      expect(sum).toBe(result.requests[status]);
    }
    const infSum = find(samples, "axonflow_load_test_request_latency_ms_bucket", { le: "+Inf" }).reduce(
      (a, s) => a + s.value,
      0,
    );
    expect(infSum).toBe(result.requests.success + result.requests.blocked + result.requests.error);
    // Quantiles: the run as a whole as test_type="mixed", beside each category.
    expect(valueOf(samples, "axonflow_load_test_latency_ms", { test_type: "mixed", quantile: "0.5" })).toBe(
      2.4,
    );
    expect(valueOf(samples, "axonflow_load_test_correctness_ratio", { test_type: "mixed" })).toBe(
      result.correctness,
    );
    // Errors by kind, exactly.
    expect(valueOf(samples, "axonflow_load_test_errors_total", { kind: "timeout" })).toBe(4);
    expect(valueOf(samples, "axonflow_load_test_errors_total", { kind: "connect_refused" })).toBe(2);
    // provider: on the LLM category and on the run as a whole, not on the policy-only categories.
    for (const s of samples) {
      const expected = s.labels.test_type === "llm" || s.labels.test_type === "mixed" ? "openai" : undefined;
      expect(s.labels.provider, `${s.name} ${JSON.stringify(s.labels)}`).toBe(expected);
    }
    await expectPromtoolClean(await exposition(makeSnapshot(result), { provider: "openai" }));
  });

  it("--metric-prefix replaces axonflow_load_test in every name", async () => {
    const samples = await samplesOf(makeSnapshot(), { metricPrefix: "acme_gateway_lt" });
    expect(samples.length).toBeGreaterThan(30);
    for (const s of samples) expect(s.name.startsWith("acme_gateway_lt_")).toBe(true);
    expect(valueOf(samples, "acme_gateway_lt_requests_total", { status: "blocked" })).toBe(3_500);
    expect(valueOf(samples, "acme_gateway_lt_latency_ms", { quantile: "0.95" })).toBe(4.8);
  });

  it("writes no quantile lines before the first response, and zero counts", async () => {
    const result = makeRunResult({ categories: {}, category: "normal" });
    Object.assign(result.requests, { total: 0, success: 0, blocked: 0, error: 0, dropped: 0, unexpected: 0 });
    result.correctness = null;
    result.latencyMs = latency(0, 0, 0, { mean: 0 });
    const samples = await samplesOf({
      result,
      latencyBucketsMs: makeBuckets(3).map((b) => ({ ...b, cumulativeCount: 0 })),
      categoryLatencyBucketsMs: {},
    });
    expect(find(samples, "axonflow_load_test_latency_ms")).toEqual([]);
    expect(find(samples, "axonflow_load_test_send_lag_ms")).toEqual([]);
    expect(find(samples, "axonflow_load_test_correctness_ratio")).toEqual([]);
    expect(valueOf(samples, "axonflow_load_test_latency_ms_count", { test_type: "normal" })).toBe(0);
    expect(
      valueOf(samples, "axonflow_load_test_requests_total", { status: "success", test_type: "normal" }),
    ).toBe(0);
    expect(valueOf(samples, "axonflow_load_test_request_latency_ms_bucket", { le: "+Inf" })).toBe(0);
    await expectPromtoolClean(
      await buildRegistry(
        { result, latencyBucketsMs: [], categoryLatencyBucketsMs: {} },
        parsePrometheusOptions({}),
        RUN_ID,
      ).metrics(),
    );
  });

  it("escapes label values and keeps credentials out of run_info", async () => {
    const target = new URL("https://gateway.example.com:8443/?api_key=abc");
    target.username = "user";
    target.password = "s3cret";
    const result = makeRunResult({ target: target.toString(), path: "/v1/execute?token=x" });
    const samples = await samplesOf(makeSnapshot(result), { labels: ['note=say "hi"\\ there'] });
    const info = find(samples, "axonflow_load_test_run_info")[0];
    expect(info?.labels.target).toBe("https://gateway.example.com:8443");
    expect(info?.labels.path).toBe("/v1/execute");
    expect(info?.labels.note).toBe('say "hi"\\ there');
    const text = await exposition(makeSnapshot(result), {});
    expect(text).not.toMatch(/s3cret|api_key|token=/);
  });

  it("builds a fresh registry each time and never touches prom-client's global one", async () => {
    const opts = parsePrometheusOptions({});
    const a = buildRegistry(makeSnapshot(), opts, RUN_ID);
    const b = buildRegistry(makeSnapshot(makeMixedRunResult()), opts, RUN_ID);
    expect(a).not.toBe(b);
    expect(a).not.toBe(globalRegistry);
    expect(globalRegistry.getMetricsAsArray()).toEqual([]);
    expect(
      valueOf(parseExposition(await a.metrics()), "axonflow_load_test_requests_total", { status: "blocked" }),
    ).toBe(3_500);
  });

  it("passes promtool check metrics (only the spec's _ms unit is flagged)", async () => {
    await expectPromtoolClean(
      await exposition(makeSnapshot(), {
        client: "acme",
        environment: "prod",
        provider: "anthropic",
        labels: ["a=b"],
      }),
    );
  });

  it("a missing promtool or pushgateway binary fails the tests with the install command (never skips)", () => {
    expect(() =>
      requireBinary("no-such-promtool", "NO_SUCH_PROMTOOL_BIN", "/usr/bin/no-such-promtool"),
    ).toThrow(/no-such-promtool not found .*apt-get install -y prometheus-pushgateway prometheus/);
  });

  it("promtool does catch a broken exposition (the check above is not vacuous)", async () => {
    const { code } = await promtoolCheckMetrics("# TYPE x_total counter\nx_total{le=} 1\n");
    expect(code).toBe(1);
  });
});

describe("startPrometheusExport: --prometheus-file and --metrics-listen", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "load-test-prom-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the final snapshot to --prometheus-file, promtool-clean, atomically", async () => {
    const file = join(dir, "final.prom");
    const running = makeSnapshot();
    const final = makeSnapshot(makeMixedRunResult());
    const exp = await startPrometheusExport(
      parsePrometheusOptions({ prometheusFile: file }),
      RUN_ID,
      () => running,
    );
    expect(exp.listenUrl).toBeUndefined();
    expect(await exp.finish(final)).toEqual({ warnings: [], fatal: false });
    const text = await readFile(file, "utf8");
    const samples = parseExposition(text);
    expect(
      valueOf(samples, "axonflow_load_test_requests_total", { test_type: "llm", status: "success" }),
    ).toBe(497);
    expect(valueOf(samples, "axonflow_load_test_latency_ms", { test_type: "llm", quantile: "0.95" })).toBe(
      1250.5,
    );
    await expectPromtoolClean(text);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("creates the --prometheus-file's missing directories, as --out does", async () => {
    const file = join(dir, "out", "nested", "final.prom");
    const exp = await startPrometheusExport(
      parsePrometheusOptions({ prometheusFile: file }),
      RUN_ID,
      makeSnapshot,
    );
    expect(await exp.finish(makeSnapshot())).toEqual({ warnings: [], fatal: false });
    expect(await readFile(file, "utf8")).toContain("axonflow_load_test_requests_total");
  });

  it("reports an unwritable --prometheus-file as a lost file (not a failed push), and finish() is idempotent", async () => {
    await writeFile(join(dir, "a-file"), "");
    const file = join(dir, "a-file", "final.prom");
    const exp = await startPrometheusExport(
      parsePrometheusOptions({ prometheusFile: file }),
      RUN_ID,
      makeSnapshot,
    );
    const first = await exp.finish(makeSnapshot());
    expect(first.fatal).toBe(false);
    expect(first.warnings).toHaveLength(1);
    expect(first.writeFailed).toMatch(
      /--prometheus-file .*final\.prom: could not write the file: .*not a directory/,
    );
    expect(first.warnings[0]).toBe(first.writeFailed);
    expect(await exp.finish(makeSnapshot())).toBe(first);
  });

  it("serves live /metrics from getSnapshot() while running, and stops at finish()", async () => {
    let current = makeSnapshot();
    const exp = await startPrometheusExport(
      parsePrometheusOptions({ metricsListen: "127.0.0.1:0", client: "acme" }),
      RUN_ID,
      () => current,
    );
    const url = exp.listenUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    if (url === undefined) throw new Error("no listenUrl");

    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const a = parseExposition(await first.text());
    expect(valueOf(a, "axonflow_load_test_requests_total", { status: "success", client: "acme" })).toBe(
      15_000,
    );
    expect(valueOf(a, "axonflow_load_test_latency_ms", { quantile: "0.99" })).toBe(8.2);

    // The run moves on: the next scrape sees the new snapshot.
    current = makeSnapshot(
      makeRunResult({
        categories: { normal: category(15_900, 3_700, 4, { latencyMs: latency(2.5, 5.1, 9.7) }) },
        latencyMs: latency(2.5, 5.1, 9.7),
      }),
    );
    const b = parseExposition(await (await fetch(url)).text());
    expect(valueOf(b, "axonflow_load_test_requests_total", { status: "success" })).toBe(15_900);
    expect(valueOf(b, "axonflow_load_test_requests_total", { status: "error" })).toBe(4);
    expect(valueOf(b, "axonflow_load_test_latency_ms", { quantile: "0.99" })).toBe(9.7);

    expect((await fetch(url.replace(/\/metrics$/, "/other"))).status).toBe(404);
    expect((await fetch(url, { method: "POST" })).status).toBe(405);

    expect(await exp.finish(current)).toEqual({ warnings: [], fatal: false });
    await expect(fetch(url)).rejects.toThrow();
  });

  it("answers 500 when the snapshot cannot be taken, without stopping the endpoint", async () => {
    let fail = true;
    const exp = await startPrometheusExport(
      parsePrometheusOptions({ metricsListen: "127.0.0.1:0" }),
      RUN_ID,
      () => {
        if (fail) throw new Error("recorder busy");
        return makeSnapshot();
      },
    );
    const url = exp.listenUrl ?? "";
    const bad = await fetch(url);
    expect(bad.status).toBe(500);
    expect(await bad.text()).toMatch(/recorder busy/);
    fail = false;
    expect((await fetch(url)).status).toBe(200);
    await exp.finish(makeSnapshot());
  });

  it("rejects an address in use before the run, naming --metrics-listen", async () => {
    const first = await startPrometheusExport(
      parsePrometheusOptions({ metricsListen: "127.0.0.1:0" }),
      RUN_ID,
      makeSnapshot,
    );
    const port = new URL(first.listenUrl ?? "").port;
    const second = startPrometheusExport(
      parsePrometheusOptions({ metricsListen: `127.0.0.1:${port}` }),
      RUN_ID,
      makeSnapshot,
    );
    await expect(second).rejects.toBeInstanceOf(PrometheusOptionError);
    await expect(second).rejects.toMatchObject({ flag: "--metrics-listen", message: /EADDRINUSE/ });
    await first.finish(makeSnapshot());
    // and the freed port can be listened on again
    const again = await startPrometheusExport(
      parsePrometheusOptions({ metricsListen: `127.0.0.1:${port}` }),
      RUN_ID,
      makeSnapshot,
    );
    await again.finish(makeSnapshot());
  });

  it("with nothing enabled, finish() is a no-op", async () => {
    const exp = await startPrometheusExport(parsePrometheusOptions({}), RUN_ID, () => {
      throw new Error("must not be called");
    });
    expect(await exp.finish(makeSnapshot())).toEqual({ warnings: [], fatal: false });
  });
});
