/**
 * The results contract (`--out FILE`), documented in docs/RESULTS.md and checked against
 * docs/results.schema.json. Field names are stable; bump RESULTS_SCHEMA_VERSION on any
 * breaking change.
 */
export const RESULTS_SCHEMA_VERSION = 1;

export type Level = "target" | "degraded" | "critical";
export type Outcome = "success" | "blocked" | "error";

// Types the transport and the options fill in, defined here so the results import nothing.

/** How the scheduler wakes up to send (docs/PACING.md). */
export type Pacing = "precise" | "tick";

/**
 * How the protocol is chosen: `auto` negotiates by ALPN over TLS like a browser (h2 when offered,
 * else HTTP/1.1) and speaks HTTP/1.1 over cleartext; `http1` never offers h2; `http2` offers only
 * h2 and fails when the server does not accept it; `h2c` speaks HTTP/2 over cleartext with prior
 * knowledge (RFC 9113 §3.3).
 */
export type ProtocolMode = "auto" | "http1" | "http2" | "h2c";

/**
 * Protocol a connection speaks, as reported: ALPN's names, `h2c` for HTTP/2 over cleartext, and
 * `http/1.0` for a connection whose server answered its first response as HTTP/1.0.
 */
export type ConnectionProtocol = "http/1.0" | "http/1.1" | "h2" | "h2c";

/** Requests sent again, by reason (`idle_close`, `goaway`): the results' `transport.retried`. */
export interface RetriedSummary {
  total: number;
  byReason: Record<string, number>;
}

/** Counts of connections as the results have always shown them (RunResult.transport.connections). */
export interface ConnectionStats {
  opened: number;
  byProtocol: Record<string, number>;
  byTlsVersion: Record<string, number>;
}

export interface ConnectionsSummary extends ConnectionStats {
  /** Connection attempts that failed before carrying a request (refused, TLS, timeout, no h2). */
  failed: number;
  /** TLS connections that resumed an earlier session. */
  resumed: number;
  connectMs: LatencySummaryMs;
  /** All zeros over cleartext. */
  tlsHandshakeMs: LatencySummaryMs;
  /** Responses per connection: `mean` over every connection opened, `max` on any one. */
  requestsPerConnection: { mean: number; max: number };
}

/** The results' `transport` object (docs/TRANSPORT.md "What is recorded"). */
export interface TransportSummary {
  /** What was asked: `auto` (ALPN), `http1`, `http2`, `h2c`. */
  mode: ProtocolMode;
  /** What the connections spoke: `http/1.1`, `http/1.0`, `h2`, `h2c`, `mixed`, or null when none opened. */
  protocol: ConnectionProtocol | "mixed" | null;
  /**
   * Requests sent again on a new connection, by reason: `idle_close` (HTTP/1.1: the server closed
   * a reused idle connection as the request was written), `goaway` and `refused_stream` (HTTP/2).
   * Not errors (docs/TRANSPORT.md "Retries").
   */
  retried: RetriedSummary;
  connections: ConnectionsSummary & {
    /** Cap on open connections for the protocol spoken. */
    limit: number;
    /** HTTP/2 only: streams one connection carries at most (null over HTTP/1.1). */
    streamsPerConnection: number | null;
    /**
     * HTTP/2 only: the lowest SETTINGS_MAX_CONCURRENT_STREAMS a server announced, or null (none
     * announced, or HTTP/1.1). Below `streamsPerConnection` it, not --workers, capped the streams.
     */
    serverMaxStreams: number | null;
    keepAlive: boolean;
    maxRequestsPerConnection: number | null;
  };
  /** Null over cleartext. */
  tls: {
    minVersion: string;
    /** False with --insecure: certificates were not checked. */
    verified: boolean;
    servername: string | null;
    extraCa: boolean;
    clientCertificate: boolean;
  } | null;
  warnings: string[];
}

/** Percentiles of one HDR histogram, in milliseconds (µs precision, 3 significant digits). */
export interface LatencySummaryMs {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export interface CategoryResult {
  requests: number;
  success: number;
  blocked: number;
  error: number;
  /** Completed requests whose outcome matched their case's expectation ÷ completed requests; null when none completed. */
  correctness: number | null;
  latencyMs: LatencySummaryMs;
}

/** One k6 stage of a ramping run (`--stages`), by intended send time. */
export interface StageResult extends CategoryResult {
  index: number;
  startSec: number;
  endSec: number;
  /** The asked rate moves linearly from `fromPerSec` to `toPerSec` over the stage. */
  fromPerSec: number;
  toPerSec: number;
  /** Requests the stage asks for ÷ its duration (0 for an instant step). */
  askedPerSec: number;
  /** Completed requests scheduled in the stage ÷ its duration. */
  achievedPerSec: number;
}

/** The first `window` requests on their own (`--coldstart-window`): cold connections, JIT, caches. */
export interface ColdStartResult extends CategoryResult {
  window: number;
}

export interface TimelineEntry {
  /** Seconds since the start of the run (entry t covers [t, t+1)). */
  t: number;
  sent: number;
  completed: number;
  success: number;
  blocked: number;
  error: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /**
   * The largest send lag (actual minus intended send time, ms) of the requests sent in that
   * second: when the generator fell behind. Absent in files written before it was kept.
   */
  sendLagMaxMs?: number;
}

export interface VerdictCheck {
  name: string;
  level: Level;
  /** The measured value in the unit the name gives (ms, ratio, req/s). Null when nothing was measured. */
  value: number | null;
  /** Human readable bound, e.g. "< 3 ms target, 3-5 ms degraded". */
  expected: string;
  message: string;
}

export interface Verdict {
  level: Level;
  checks: VerdictCheck[];
  warnings: string[];
}

/**
 * Connections and transport failures (docs/TRANSPORT.md "What is recorded"): the transport's own
 * summary (src/transport/http.ts TransportSummary), plus the failures by kind.detail.
 */
export type TransportResult = TransportSummary & {
  /** Transport failures by kind.detail (e.g. "tls.unknown_ca", "timeout.headers") with a one-line reason. */
  errors: Record<string, { count: number; reason: string }>;
};

/** A lag's median, 99th percentile and maximum (ms). */
export interface LagSummaryMs {
  p50: number;
  p99: number;
  max: number;
}

export interface RunResult {
  schemaVersion: number;
  /** Base URL without credentials, query string or fragment. */
  target: string;
  path: string;
  /** `METHOD /path` of each distinct request, when the run sends a profile's own cases. */
  paths?: string[];
  category: string;
  /** `--run-id`: the id every shard of one run shares (docs/DISTRIBUTED.md). */
  runId?: string;
  /** `--shard K/N`: which stripe of the plan this result holds; absent for an unsharded run. */
  shard?: { index: number; count: number };
  /**
   * `load-test merge` and `load-test coordinate`: the shards merged into this result, and whether
   * some were missing; `lost`: the coordinator's shards that stopped reporting, the second of the
   * run of their last contact (null: before the measured run) and why.
   */
  merged?: {
    shards: number[];
    count: number;
    partial: boolean;
    lost?: Array<{ index: number; second: number | null; reason: string }>;
  };
  /** `--start-at`: the asked start, and how late (ms) this process started its schedule (0: on time). */
  startAt?: { at: string; lateMs: number };
  startedAt: string;
  endedAt: string;
  durationSec: number;
  /**
   * Wall time after the schedule's end spent waiting for answers still in flight (each gets up
   * to `--timeout` from its send): about `--timeout` against a target that stopped answering.
   */
  drainSec?: number;
  interrupted: boolean;
  rate: {
    /** The asked rate; 0 in a closed loop (`--rps max`), which asks none. */
    targetPerSec: number;
    achievedPerSec: number;
    sentPerSec: number;
    /** `--rps max`: `workers` requests kept in flight, latency = service time, no send lag. */
    closedLoop: boolean;
    /** Gateway nodes serving the target (`--nodes`); absent in files written before it: 1. */
    nodes?: number;
    /** `achievedPerSec ÷ nodes`: with `closedLoop`, the capacity per node the verdict judges. */
    achievedPerNodePerSec?: number;
  };
  requests: {
    /** Requests sent (completed + abandoned in flight at an interrupt). */
    sent: number;
    total: number;
    success: number;
    blocked: number;
    error: number;
    /** Due within the run but never sent: the in-flight cap (`--workers`) was full until the end. */
    dropped: number;
    /** Completed requests whose outcome did not match their case's expectation. */
    unexpected: number;
  };
  correctness: number | null;
  latencyMs: LatencySummaryMs;
  /** From the write on a connection to the end of the response (requests that were written). */
  serviceTimeMs: LatencySummaryMs;
  /** From the send to the write: waiting for a connection or an HTTP/2 stream slot. */
  queueTimeMs: LatencySummaryMs;
  sendLagMs: LatencySummaryMs;
  categories: Record<string, CategoryResult>;
  errors: Record<string, number>;
  transport: TransportResult;
  generator: {
    /** Event-loop delay of the generator during the run (ms); with threads, the worst thread's. */
    eventLoopDelayMs: LagSummaryMs;
    /**
     * Send lag of the requests the in-flight cap did not hold back (ms): the generator's own
     * lateness, which `trustworthy` judges (`sendLagMs` also holds waits behind `--workers`).
     */
    ownSendLagMs: LagSummaryMs;
    /** Most requests in flight at once (with threads: the sum of each thread's peak, an upper bound). */
    maxInFlight: number;
    workers: number;
    /** Threads that sent requests (`--threads`); each paced its stripe of the schedule. */
    threads: number;
    /** How the schedulers woke up to send (`--pacing`, docs/PACING.md). */
    pacing: Pacing;
    /** False when the generator itself could not keep the schedule; latencies then include its own delay. */
    trustworthy: boolean;
  };
  verdict: Verdict;
  timeline: TimelineEntry[];
  /** Present for ramping runs (`--stages`). */
  stages?: StageResult[];
  /** Present when the run stopped early on a failed threshold (`--abort-on-critical`, abortOnFail). */
  aborted?: { reason: string };
  /** Present with `--coldstart-window N`. */
  coldStart?: ColdStartResult;
  /**
   * The run's full HDR histograms (docs/RESULTS.md "Histograms"), from which every latency
   * summary above can be recomputed, and runs compared or merged exactly. Absent in files
   * written before load-test kept them.
   */
  histograms?: ResultHistograms;
  /** The target's own signals during the warm-up and the run (`--monitor…`, docs/MONITOR.md). */
  monitor?: MonitorResult;
}

/** One source the monitor read (`monitor.sources`, docs/RESULTS.md "monitor"). */
export interface MonitorSource {
  kind: "scrape" | "prometheus" | "log";
  /** URL without credentials or query string (with the query's name for `prometheus`), or the log file's path. */
  name: string;
  /** Scrapes, queries or reads attempted, and those that failed. */
  attempts: number;
  failures: number;
  /** Why the last failure happened (no answer, connection refused, not Prometheus text, too large, …). */
  lastError?: string;
  /** Series this source has in `series`. */
  series: number;
  /** What the page's metric names say the source is: node (prom-client), go, node_exporter, process, prometheus, log. */
  detected?: string;
}

export interface MonitorPoint {
  /** Seconds since the run's start (`startedAt`), the latency timeline's axis; negative during the warm-up. */
  t: number;
  value: number;
}

export interface MonitorSeries {
  /** cpu, memory_rss, memory_used, heap_used, event_loop_lag, goroutines, pool_in_use, pool_limit, log_lines, a query's name, or a metric's own name. */
  name: string;
  /** cores, bytes, ms, count, per_sec (a counter's rate), lines_per_sec, or "" (a gauge as read). */
  unit: string;
  labels: Record<string, string>;
  points: MonitorPoint[];
}

export interface MonitorSummary {
  cpu?: {
    peakCores: number;
    meanCores: number;
    /** Cores the target can use: node_exporter's CPU count, 1 for a Node.js process (one event loop), the host's cores for another process on this machine; else null. */
    limitCores: number | null;
    source: string;
  };
  memory?: {
    startBytes: number;
    endBytes: number;
    peakBytes: number;
    growthBytes: number;
    /** False when memory still climbed over the last quarter of the window. */
    settled: boolean;
    source: string;
  };
  pools: Array<{
    name: string;
    labels: Record<string, string>;
    peakInUse: number;
    limit: number;
    atLimit: boolean;
  }>;
  logs: Array<{ file: string; pattern: string; lines: number; firstLines: string[] }>;
  /** The monitor's warning signs (also in `verdict.warnings`). */
  warnings: string[];
}

export interface MonitorResult {
  intervalMs: number;
  /** Set when the run quit at once (a second Ctrl-C): what the generator held, no range queries. */
  note?: string;
  sources: MonitorSource[];
  series: MonitorSeries[];
  summary: MonitorSummary;
}

/**
 * HDR histograms in HdrHistogram's compressed base64 encoding (`HISTF…`, the V2 encoding that
 * HdrHistogram's Java tools and hdr-histogram-js decode). Values are integers in `unit`.
 */
export interface ResultHistograms {
  unit: "us";
  /** Significant decimal digits the histograms keep: each value is within 10^-digits of the truth. */
  significantDigits: number;
  /** From the intended send time to the end of the response (`latencyMs`). */
  latency: string;
  /** From the actual send to the end of the response (`serviceTimeMs`). */
  serviceTime: string;
  /** Actual minus intended send time (`sendLagMs`). */
  sendLag: string;
  /** Send lag of the requests `--workers` did not hold back (`generator.ownSendLagMs`). */
  ownSendLag: string;
  /** Latency per category of the mix (`categories.<name>.latencyMs`). */
  latencyByCategory: Record<string, string>;
  /**
   * From the send to the write (`queueTimeMs`). This and the two below are absent in files
   * written before they were kept; a merge then takes the worst shard's summary for them.
   */
  queueTime?: string;
  /** Connect time of each connection opened (`transport.connections.connectMs`). */
  connect?: string;
  /** TLS handshake time of each TLS connection (`transport.connections.tlsHandshakeMs`); empty over cleartext. */
  tlsHandshake?: string;
}

/** Cumulative latency histogram buckets for Prometheus export (`le` in ms, counts cumulative). */
export interface LatencyBucket {
  leMs: number;
  cumulativeCount: number;
}

/** What exporters receive: the results so far (or final) and cumulative latency buckets, overall and per category. */
export interface MetricsSnapshot {
  result: RunResult;
  latencyBucketsMs: LatencyBucket[];
  categoryLatencyBucketsMs: Record<string, LatencyBucket[]>;
}

/** Bucket bounds (ms) used for the exported latency histogram: fine below 25 ms (the methodology's P99 target), coarse above. */
export const LATENCY_BUCKET_BOUNDS_MS = [
  0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 25, 35, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
] as const;

// The documents `--out` writes (docs/RESULTS.md): one run, a profile's phases, a ladder.

/** One row of the Baseline Results table: a ladder step or a phase, with its note. */
export interface LadderStep {
  ratePerSec: number;
  result: RunResult;
  note: string;
}

/** A ladder's capacity per node (docs/THRESHOLDS.md, "Capacity per node"). */
export interface LadderCapacity {
  nodes: number;
  /** Asked rate of the highest step within target; null when no step was. */
  stepPerSec: number | null;
  /** That step's achieved rate ÷ nodes. */
  perNodePerSec: number | null;
  /** Null when the ladder cannot tell: it never left target below 1,000 req/s per node, or no step was within target above 500. */
  level: Level | null;
  message: string;
}

/** A profile's phases, each run on its own (docs/RESULTS.md "Phases"). */
export interface PhasesDocument {
  schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  kind: "phases";
  interrupted: boolean;
  phases: Array<{ name: string; result: RunResult }>;
}

/** A ladder's steps, its saturation point and capacity (docs/RESULTS.md "Ladder"). */
export interface LadderDocument {
  schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  kind: "ladder";
  /** The rate from which every step was outside target; null if none. */
  saturatedAtPerSec: number | null;
  capacity: LadderCapacity;
  interrupted: boolean;
  /** Why the target was unreachable at the last step; null when it answered. */
  unreachable: { ratePerSec: number; reason: string } | null;
  /** The Baseline Results table as Markdown. */
  table: string;
  steps: Array<{ ratePerSec: number; interrupted: boolean; note: string; result: RunResult }>;
}

/** What a command's `--out` holds: a run (no `kind`), phases or a ladder. */
export type ResultsDocument = RunResult | PhasesDocument | LadderDocument;

/** Live figures for progress lines (the reporters' `progress`), computed once a second. */
export interface Progress {
  elapsedSec: number;
  totalSec: number;
  sent: number;
  inFlight: number;
  completed: number;
  success: number;
  blocked: number;
  error: number;
  achievedPerSec: number;
  correctness: number | null;
  latencyMs: { p50: number; p95: number; p99: number };
  /** `--timeout` (s): after the schedule, requests in flight get up to this long from their send. */
  timeoutSec: number;
  /** `load-test coordinate`: shards still reporting, of how many. */
  shards?: { live: number; count: number };
}
