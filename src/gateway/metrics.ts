/**
 * The gateway's own Prometheus metrics. Each gateway owns a fresh `Registry`, never prom-client's
 * global one, so a test or `load-test demo` can run several gateways in one process without
 * "metric already registered" errors or shared counts.
 *
 * Counters and histogram buckets live in plain numbers on the hot path and reach prom-client only
 * when /metrics is scraped, because prom-client's `inc(labels)` and `observe(labels, v)` hash and
 * validate the label object on every call, and `observe` also indexes its buckets by the bound
 * converted to a string: about 4 µs per request, 3% of the gateway's CPU at 8k req/s.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { POLICIES } from "./policies.js";

export const REQUEST_OUTCOMES = ["allowed", "blocked", "rejected", "error"] as const;
/** allowed: 200; blocked: 403 by a policy; rejected: any other 4xx on /v1/execute; error: 5xx. */
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export const REJECT_REASONS = [
  "unauthorized",
  "bad_request",
  "payload_too_large",
  "method_not_allowed",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** A point-in-time copy of the gateway's counters (what /metrics reports, without parsing it). */
export interface GatewayStats {
  requests: Record<RequestOutcome, number>;
  rejections: Record<RejectReason, number>;
  /** Sum over requests of the policies each one ran. */
  policyEvaluations: number;
  /** Matches per policy id (blocking and logging policies alike). */
  policyMatches: Record<string, number>;
  llmRequests: number;
  inFlight: number;
}

/**
 * Bucket bounds in seconds. They include the methodology's latency levels ("Target Metrics": 3, 5, 10,
 * 20, 25 and 50 ms) so the target/degraded/critical split can be read off the histogram exactly,
 * sub-millisecond buckets for policy-only requests, and the methodology's 200 ms to 2 s LLM range.
 */
export const DURATION_BUCKETS_SECONDS = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 2.5, 5,
  10,
]);

export const METRIC_NAMES = Object.freeze({
  requests: "axonflow_gateway_requests_total",
  rejections: "axonflow_gateway_rejections_total",
  duration: "axonflow_gateway_request_duration_seconds",
  policyEvaluations: "axonflow_gateway_policy_evaluations_total",
  policyMatches: "axonflow_gateway_policy_matches_total",
  llmRequests: "axonflow_gateway_llm_requests_total",
  llmDuration: "axonflow_gateway_llm_duration_seconds",
  inFlight: "axonflow_gateway_in_flight_requests",
  llmPoolInUse: "axonflow_gateway_llm_pool_in_use",
  llmPoolLimit: "axonflow_gateway_llm_pool_limit",
  llmPoolWaiting: "axonflow_gateway_llm_pool_waiting",
});

/** What the LLM provider's pool gauges read (mock-provider.ts). */
export interface PoolState {
  readonly inUse: number;
  readonly limit: number;
  readonly waiting: number;
}

/** prom-client's metric object as its Registry formats it. */
type MetricObject = Awaited<ReturnType<Histogram<string>["get"]>>;
type MetricSample = MetricObject["values"][number];

/** Bucket counts of one label set, not cumulative; index `bounds.length` is above the last bound. */
class SeriesCounts {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    buckets: number,
  ) {
    this.counts = new Float64Array(buckets + 1);
  }
}

/**
 * A histogram recorded in typed arrays by `record()` and turned into prom-client's samples only in
 * `get()`, so a scrape prints exactly what prom-client's own Histogram would print (same names,
 * label order, `le` values) at no per-request cost inside prom-client.
 */
class CountedHistogram<L extends string> extends Histogram<L> {
  readonly #bounds: readonly number[];
  readonly #series: SeriesCounts[] = [];

  constructor(config: {
    name: string;
    help: string;
    labelNames: readonly L[];
    buckets: readonly number[];
    registers: Registry[];
  }) {
    super({ ...config, buckets: [...config.buckets] });
    this.#bounds = [...config.buckets];
  }

  /** A series whose counts `record()` updates; all series are printed, from zero, in creation order. */
  series(labels: Readonly<Record<L, string>>): SeriesCounts {
    const series = new SeriesCounts(labels, this.#bounds.length);
    this.#series.push(series);
    return series;
  }

  record(series: SeriesCounts, value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  override async get(): Promise<MetricObject> {
    return this.#object();
  }

  /** prom-client's Registry prefers this over get() for histograms (lib/registry.js). */
  async getForPromString(): Promise<MetricObject> {
    return this.#object();
  }

  #object(): MetricObject {
    const values: MetricSample[] = [];
    // prom-client's Metric constructor sets name, help, type and aggregator on the instance
    // (lib/metric.js); its typings do not declare them.
    const { name, help, type, aggregator } = this as unknown as MetricObject;
    for (const s of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          metricName: `${name}_bucket`,
          labels: { le: this.#bounds[i], ...s.labels },
          value: cumulative,
        } as MetricSample);
      }
      values.push({
        metricName: `${name}_bucket`,
        labels: { le: "+Inf", ...s.labels },
        value: s.count,
      } as MetricSample);
      values.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: s.sum } as MetricSample);
      values.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: s.count } as MetricSample);
    }
    return { name, help, type, aggregator, values } as MetricObject;
  }
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Record<RequestOutcome, number> = { allowed: 0, blocked: 0, rejected: 0, error: 0 };
  readonly #rejections: Record<RejectReason, number> = {
    unauthorized: 0,
    bad_request: 0,
    payload_too_large: 0,
    method_not_allowed: 0,
  };
  /** Indexed like POLICIES. */
  readonly #matches = new Float64Array(POLICIES.length);
  readonly #policyIndex = new Map(POLICIES.map((p, i) => [p.id, i]));
  #evaluations = 0;
  #llmRequests = 0;
  #inFlight = 0;
  readonly #duration: CountedHistogram<"outcome">;
  readonly #durationSeries: Record<RequestOutcome, SeriesCounts>;
  readonly #llmDuration: CountedHistogram<"provider">;
  readonly #llmSeries: SeriesCounts;

  constructor(providerName: string) {
    const registers = [this.registry];
    const requests = this.#requests;
    const rejections = this.#rejections;
    const matches = this.#matches;
    // `collect` runs with `this` bound to the metric, so the gateway's numbers are read through
    // these closures.
    const evaluations = (): number => this.#evaluations;
    const llmRequests = (): number => this.#llmRequests;
    const inFlight = (): number => this.#inFlight;

    new Counter({
      name: METRIC_NAMES.requests,
      help: "Requests to /v1/execute by outcome (allowed 200, blocked 403, rejected other 4xx, error 5xx)",
      labelNames: ["outcome"] as const,
      registers,
      collect() {
        this.reset();
        for (const outcome of REQUEST_OUTCOMES) this.inc({ outcome }, requests[outcome]);
      },
    });
    new Counter({
      name: METRIC_NAMES.rejections,
      help: "Requests to /v1/execute rejected before policy evaluation, by reason",
      labelNames: ["reason"] as const,
      registers,
      collect() {
        this.reset();
        for (const reason of REJECT_REASONS) this.inc({ reason }, rejections[reason]);
      },
    });
    new Counter({
      name: METRIC_NAMES.policyEvaluations,
      help: "Policy evaluations (one per policy run per request; evaluation stops at the first block)",
      registers,
      collect() {
        this.reset();
        this.inc(evaluations());
      },
    });
    new Counter({
      name: METRIC_NAMES.policyMatches,
      help: "Policy matches by policy id and action (block or log)",
      labelNames: ["policy", "action"] as const,
      registers,
      collect() {
        this.reset();
        POLICIES.forEach((p, i) => this.inc({ policy: p.id, action: p.action }, matches[i]!));
      },
    });
    new Counter({
      name: METRIC_NAMES.llmRequests,
      help: "Allowed requests forwarded to an LLM provider",
      labelNames: ["provider"] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ provider: providerName }, llmRequests());
      },
    });
    new Gauge({
      name: METRIC_NAMES.inFlight,
      help: "Requests to /v1/execute currently being processed",
      registers,
      collect() {
        this.set(inFlight());
      },
    });

    const duration = new CountedHistogram({
      name: METRIC_NAMES.duration,
      help: "Time from request arrival to response written, /v1/execute, by outcome",
      labelNames: ["outcome"] as const,
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#duration = duration;
    // Every series exists from the first scrape, so a dashboard sees 0 rather than no data.
    this.#durationSeries = {
      allowed: duration.series({ outcome: "allowed" }),
      blocked: duration.series({ outcome: "blocked" }),
      rejected: duration.series({ outcome: "rejected" }),
      error: duration.series({ outcome: "error" }),
    };

    this.#llmDuration = new CountedHistogram({
      name: METRIC_NAMES.llmDuration,
      help: "Time spent waiting for the LLM provider",
      labelNames: ["provider"] as const,
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#llmSeries = this.#llmDuration.series({ provider: providerName });
  }

  requestStarted(): void {
    this.#inFlight++;
  }

  requestFinished(outcome: RequestOutcome, durationSec: number): void {
    this.#inFlight--;
    this.#requests[outcome]++;
    this.#duration.record(this.#durationSeries[outcome], durationSec);
  }

  /** The client went away before an answer: no longer in flight, and no outcome to count. */
  requestAbandoned(): void {
    this.#inFlight--;
  }

  rejected(reason: RejectReason): void {
    this.#rejections[reason]++;
  }

  policiesRan(evaluated: number, blockingPolicyId: string | undefined, logged: readonly string[]): void {
    this.#evaluations += evaluated;
    if (blockingPolicyId !== undefined) this.#countMatch(blockingPolicyId);
    for (const id of logged) this.#countMatch(id);
  }

  llmCompleted(durationSec: number): void {
    this.#llmRequests++;
    this.#llmDuration.record(this.#llmSeries, durationSec);
  }

  #countMatch(id: string): void {
    const i = this.#policyIndex.get(id);
    if (i !== undefined) this.#matches[i]!++;
  }

  snapshot(): GatewayStats {
    const policyMatches: Record<string, number> = {};
    POLICIES.forEach((p, i) => (policyMatches[p.id] = this.#matches[i]!));
    return {
      requests: { ...this.#requests },
      rejections: { ...this.#rejections },
      policyEvaluations: this.#evaluations,
      policyMatches,
      llmRequests: this.#llmRequests,
      inFlight: this.#inFlight,
    };
  }

  /** Prometheus text exposition format (version 0.0.4). */
  /**
   * The process and runtime metrics a monitored target exposes (prom-client's default metrics:
   * CPU, resident memory, heap, event-loop lag, GC) and the provider's pool as an `_in_use` and
   * `_limit` gauge pair, the shape `--monitor` reads as a pool (docs/MONITOR.md "Pools"). Only the
   * running gateway calls this: the metrics' tests compare the registry with a plain one.
   */
  watchProcess(pool: PoolState): void {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge(METRIC_NAMES.llmPoolInUse, "LLM provider completions being answered now", () => pool.inUse);
    gauge(
      METRIC_NAMES.llmPoolLimit,
      "LLM provider completions answered at once at most (--llm-concurrency)",
      () => pool.limit,
    );
    gauge(METRIC_NAMES.llmPoolWaiting, "LLM provider completions waiting for a slot", () => pool.waiting);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
