/**
 * The run's results as Prometheus metric families, in a fresh prom-client Registry (never the global
 * one). prom-client writes the exposition format; this module only decides names, labels and values.
 *
 * Names (docs/METHODOLOGY.md "Metrics Collection", prefix `axonflow_load_test` by default, `--metric-prefix`):
 * - `<prefix>_latency_ms` TYPE summary: the methodology's `{quantile="0.5|0.95|0.99"}` lines, exact HDR values,
 *   plus `_sum`/`_count`. Quantiles cannot be averaged or summed across generators, so beside it:
 * - `<prefix>_request_latency_ms` TYPE histogram: `_bucket{le}`/`_sum`/`_count`, aggregatable in PromQL.
 *   It cannot share the name `<prefix>_latency_ms`: one family has one TYPE, and a summary and a
 *   histogram of the same name would be rejected by strict parsers (promtool, the Pushgateway).
 * - `<prefix>_requests_total{status="success|blocked|error"}` TYPE counter, and the families below.
 */
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client";
import {
  LATENCY_BUCKET_BOUNDS_MS,
  type LatencyBucket,
  type LatencySummaryMs,
  type MetricsSnapshot,
} from "../metrics/result.js";
import { redactUrl, type PrometheusOptions } from "./prometheus-options.js";

/** The methodology's quantiles ("axonflow_load_test_latency_ms{quantile=...}"). */
export const EXPORTED_QUANTILES = [
  ["0.5", "p50"],
  ["0.95", "p95"],
  ["0.99", "p99"],
] as const satisfies readonly (readonly [string, keyof LatencySummaryMs])[];

/**
 * Categories whose requests never reach an LLM (docs/METHODOLOGY.md "Test Categories": normal, security and policy are
 * answered by the policy engine; "llm" involves LLM providers). Series of every other test_type (llm, a
 * mixed run, custom categories) carry the `provider` label when `--provider` is given.
 */
const POLICY_ONLY_CATEGORIES: ReadonlySet<string> = new Set(["normal", "security", "policy"]);

/** prom-client's metric object as its Registry formats it. */
type MetricObject = Awaited<ReturnType<Summary<string>["get"]>>;
type MetricSample = MetricObject["values"][number];
type Labels = Record<string, string>;

/**
 * A summary (or histogram) whose samples are given, not observed: prom-client's Summary would compute its
 * own quantiles from observations, but the recorder already has exact HDR percentiles and cumulative
 * bucket counts. Only `get()` is replaced; prom-client still validates the name and writes the text.
 */
class PresetSummary extends Summary<string> {
  private samples: MetricSample[] = [];
  add(sample: MetricSample): void {
    this.samples.push(sample);
  }
  override async get(): Promise<MetricObject> {
    return presetObject(this, this.samples);
  }
}

class PresetHistogram extends Histogram<string> {
  private samples: MetricSample[] = [];
  add(sample: MetricSample): void {
    this.samples.push(sample);
  }
  override async get(): Promise<MetricObject> {
    return presetObject(this, this.samples);
  }
  /** prom-client's Registry prefers this over get() for histograms (lib/registry.js). */
  async getForPromString(): Promise<MetricObject> {
    return presetObject(this, this.samples);
  }
}

function presetObject(metric: object, values: MetricSample[]): MetricObject {
  // prom-client's Metric constructor sets name, help, type and aggregator on the instance
  // (lib/metric.js); its typings do not declare them.
  const { name, help, type, aggregator } = metric as MetricObject;
  return { name, help, type, aggregator, values } as MetricObject;
}

/**
 * A fresh Registry holding the snapshot as metric families. Counts equal the RunResult's counts; ms
 * figures are the RunResult's figures as given. `runId` is set on every series (label `run_id`).
 */
export function buildRegistry(snapshot: MetricsSnapshot, opts: PrometheusOptions, runId: string): Registry {
  if (runId === "") throw new Error("buildRegistry: runId must not be empty");
  const { result } = snapshot;
  const p = opts.metricPrefix;
  const registry = new Registry();
  const registers = [registry];

  // Labels on every series; the registry merges them into each sample (prom-client "default labels").
  registry.setDefaultLabels({
    run_id: runId,
    ...(opts.client !== undefined ? { client: opts.client } : {}),
    ...(opts.environment !== undefined ? { environment: opts.environment } : {}),
    ...opts.extraLabels,
  });

  const seriesLabels = (testType: string): Labels =>
    opts.provider !== undefined && !POLICY_ONLY_CATEGORIES.has(testType)
      ? { test_type: testType, provider: opts.provider }
      : { test_type: testType };
  const runLabels = seriesLabels(result.category);

  // One view per category, and one of the run as a whole under its own category (e.g. "mixed").
  const run: SeriesSource = {
    testType: result.category,
    counts: result.requests,
    latency: result.latencyMs,
    correctness: result.correctness,
    buckets: snapshot.latencyBucketsMs,
  };
  const categoryEntries = Object.entries(result.categories);
  const perCategory = categoryEntries.map(([name, c]): SeriesSource => ({
    testType: name,
    counts: c,
    latency: c.latencyMs,
    correctness: c.correctness,
    buckets:
      snapshot.categoryLatencyBucketsMs[name] ??
      (categoryEntries.length === 1 ? snapshot.latencyBucketsMs : []),
  }));
  // Additive families (counters, histogram): per category only, never a "mixed" total beside them, so
  // that sum() over test_type is the run's total and nothing counts twice. Before any category has
  // results, the run's own figures stand in.
  const additive = perCategory.length > 0 ? perCategory : [run];
  // Non-additive families (quantiles, ratios) cannot be summed: the run as a whole, plus each category
  // that is not the run's own.
  const overall = [run, ...perCategory.filter((c) => c.testType !== result.category)];

  const latency = new PresetSummary({
    name: `${p}_latency_ms`,
    help: "Latency from the intended send time to the end of the response (ms), exact HDR percentiles of the run so far; _sum and _count cover completed requests.",
    registers,
  });
  for (const s of overall) {
    const count = completed(s.counts);
    const labels = seriesLabels(s.testType);
    // No quantile lines without observations: a 0 ms p99 would look like the best result ever.
    if (count > 0) {
      for (const [quantile, key] of EXPORTED_QUANTILES) {
        latency.add({ labels: { ...labels, quantile }, value: s.latency[key] });
      }
    }
    latency.add({ metricName: `${p}_latency_ms_sum`, labels, value: sumMs(s.latency.mean, count) });
    latency.add({ metricName: `${p}_latency_ms_count`, labels, value: count });
  }

  const histogram = new PresetHistogram({
    name: `${p}_request_latency_ms`,
    help: "Latency from the intended send time to the end of the response (ms), cumulative buckets; aggregate with sum by (le) and histogram_quantile.",
    // Unused (get() is replaced); the bounds the recorder uses, for anyone inspecting the object.
    buckets: [...LATENCY_BUCKET_BOUNDS_MS],
    registers,
  });
  for (const s of additive) {
    const labels = seriesLabels(s.testType);
    const count = completed(s.counts);
    for (const bucket of histogramBuckets(s.buckets, count)) {
      histogram.add({
        metricName: `${p}_request_latency_ms_bucket`,
        labels: { ...labels, le: bucket.le },
        value: bucket.count,
      });
    }
    histogram.add({ metricName: `${p}_request_latency_ms_sum`, labels, value: sumMs(s.latency.mean, count) });
    histogram.add({ metricName: `${p}_request_latency_ms_count`, labels, value: count });
  }

  const requests = new Counter({
    name: `${p}_requests_total`,
    help: "Completed requests by outcome: success (allowed), blocked (rejected by a policy), error.",
    labelNames: ["status", "test_type", "provider"],
    registers,
  });
  for (const s of additive) {
    const labels = seriesLabels(s.testType);
    requests.inc({ ...labels, status: "success" }, s.counts.success);
    requests.inc({ ...labels, status: "blocked" }, s.counts.blocked);
    requests.inc({ ...labels, status: "error" }, s.counts.error);
  }

  new Counter({
    name: `${p}_requests_unexpected_total`,
    help: "Completed requests whose outcome did not match their test case's expectation.",
    labelNames: ["test_type", "provider"],
    registers,
  }).inc(runLabels, result.requests.unexpected);

  new Counter({
    name: `${p}_requests_dropped_total`,
    help: "Requests due within the run but never sent: the in-flight cap (--workers) was full until the end.",
    labelNames: ["test_type", "provider"],
    registers,
  }).inc(runLabels, result.requests.dropped);

  const errors = new Counter({
    name: `${p}_errors_total`,
    help: "Failed requests by error kind (timeout, connection refused, reset, TLS, protocol, HTTP status).",
    labelNames: ["kind", "test_type", "provider"],
    registers,
  });
  for (const [kind, count] of Object.entries(result.errors)) errors.inc({ ...runLabels, kind }, count);

  const correctness = new Gauge({
    name: `${p}_correctness_ratio`,
    help: "Completed requests whose outcome matched their test case's expectation, divided by completed requests.",
    labelNames: ["test_type", "provider"],
    registers,
  });
  for (const s of overall) {
    if (s.correctness !== null) correctness.set(seriesLabels(s.testType), s.correctness);
  }

  const gauge = (name: string, help: string, value: number): void => {
    new Gauge({ name: `${p}_${name}`, help, labelNames: ["test_type", "provider"], registers }).set(
      runLabels,
      value,
    );
  };
  gauge(
    "target_rate_per_second",
    "Scheduled arrival rate (requests per second, average over the run); 0 in a closed loop (--rps max).",
    result.rate.targetPerSec,
  );
  gauge(
    "achieved_rate_per_second",
    "Completed requests per second over the run so far.",
    result.rate.achievedPerSec,
  );
  gauge("sent_rate_per_second", "Sent requests per second over the run so far.", result.rate.sentPerSec);
  gauge("duration_seconds", "Elapsed time of the run.", result.durationSec);
  gauge(
    "generator_trustworthy",
    "1 when the generator kept its schedule; 0 when its own delay is part of the latencies.",
    result.generator.trustworthy ? 1 : 0,
  );

  const sendLag = new PresetSummary({
    name: `${p}_send_lag_ms`,
    help: "Actual minus intended send time (ms), exact HDR percentiles of the run so far; _sum and _count cover completed requests.",
    registers,
  });
  const sent = result.requests.total;
  if (sent > 0) {
    for (const [quantile, key] of EXPORTED_QUANTILES) {
      sendLag.add({ labels: { ...runLabels, quantile }, value: result.sendLagMs[key] });
    }
  }
  sendLag.add({
    metricName: `${p}_send_lag_ms_sum`,
    labels: runLabels,
    value: sumMs(result.sendLagMs.mean, sent),
  });
  sendLag.add({ metricName: `${p}_send_lag_ms_count`, labels: runLabels, value: sent });

  // RunResult.target is credential-free by contract; redact anyway, labels end up everywhere.
  new Gauge({
    name: `${p}_run_info`,
    help: "Always 1; labels describe the run (join on run_id).",
    labelNames: ["target", "path", "test_type", "provider"],
    registers,
  }).set({ ...runLabels, target: redactUrl(result.target), path: result.path.replace(/[?#].*$/, "") }, 1);

  return registry;
}

interface CategoryCounts {
  success: number;
  blocked: number;
  error: number;
}

/** What the families of one test_type are made of. */
interface SeriesSource {
  testType: string;
  counts: CategoryCounts;
  latency: LatencySummaryMs;
  correctness: number | null;
  buckets: LatencyBucket[];
}

/** Requests with a latency: every completed request, whatever its outcome. */
function completed(c: CategoryCounts): number {
  return c.success + c.blocked + c.error;
}

/** Sum of the observations from the HDR mean, rounded to the HDR precision (1 µs). */
function sumMs(meanMs: number, count: number): number {
  return count === 0 ? 0 : Math.round(meanMs * count * 1000) / 1000;
}

/**
 * The recorder's cumulative buckets as `le` samples, ending with `+Inf`. When the recorder gives no
 * infinite bound, `+Inf` is the number of completed requests (each has a latency), so requests slower
 * than the last bound are still counted.
 */
function histogramBuckets(buckets: LatencyBucket[], count: number): { le: string; count: number }[] {
  const sorted = [...buckets].sort((a, b) => a.leMs - b.leMs);
  const finite = sorted.filter((b) => Number.isFinite(b.leMs));
  const infinite = sorted.find((b) => b.leMs === Number.POSITIVE_INFINITY);
  const last = finite.at(-1)?.cumulativeCount ?? 0;
  const total = infinite?.cumulativeCount ?? Math.max(count, last);
  return [
    ...finite.map((b) => ({ le: String(b.leMs), count: b.cumulativeCount })),
    { le: "+Inf", count: total },
  ];
}
