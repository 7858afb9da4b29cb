import type * as hdr from "hdr-histogram-js";
import { parseCliThreshold, type Threshold } from "../config/thresholds.js";
import {
  evaluateThresholds,
  histogramView,
  thresholdChecks,
  thresholdsLevel,
} from "../evaluate/thresholds.js";
import { evaluateRun, worstLevel } from "../evaluate/verdict.js";
import { createLatencyHistogram, LATENCY_SIGNIFICANT_DIGITS, summarizeMs } from "../metrics/histogram.js";
import type { DecodedHistograms } from "../metrics/result-histograms.js";
import type {
  CategoryResult,
  LatencySummaryMs,
  ResultHistograms,
  RunResult,
  TimelineEntry,
  TransportResult,
} from "../metrics/result.js";
import * as hdrjs from "hdr-histogram-js";

/** One shard's results file, loaded and decoded. */
export interface ShardInput {
  source: string;
  result: RunResult;
  histograms: DecodedHistograms;
}

/** Why shards cannot be merged (exit 2, one line). */
export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MergeError";
  }
}

/**
 * Checks that the files are shards of one test (docs/DISTRIBUTED.md "Merging"): the same target,
 * path, category, rate, shard count and run id; no shard twice; every shard present unless
 * `allowPartial`. Returns the shard indices present and the count.
 */
export function checkShards(
  inputs: readonly ShardInput[],
  allowPartial: boolean,
): { present: number[]; count: number } {
  if (inputs.length === 0) throw new MergeError("merge: no results files given");
  const first = inputs[0] as ShardInput;
  const count = first.result.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const input of inputs) {
    const { result, source } = input;
    const same = (what: string, a: unknown, b: unknown): void => {
      if (JSON.stringify(a) !== JSON.stringify(b))
        throw new MergeError(
          `${source}: not a shard of the same test as ${first.source} (${what} ${JSON.stringify(b)} vs ${JSON.stringify(a)})`,
        );
    };
    same("target", first.result.target, result.target);
    same("path", first.result.path, result.path);
    same("category", first.result.category, result.category);
    same("rate", first.result.rate.targetPerSec, result.rate.targetPerSec);
    same("run id", first.result.runId ?? null, result.runId ?? null);
    same("shard count", count, result.shard?.count ?? 1);
    const index = result.shard?.index ?? 0;
    const earlier = seen.get(index);
    if (earlier !== undefined)
      throw new MergeError(`${source}: shard ${index}/${count} is given twice (also ${earlier})`);
    seen.set(index, source);
  }
  const present = [...seen.keys()].sort((a, b) => a - b);
  const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !seen.has(k));
  if (missing.length > 0 && !allowPartial)
    throw new MergeError(
      `merge: missing shard${missing.length > 1 ? "s" : ""} ${missing.map((k) => `${k}/${count}`).join(", ")} (--allow-partial merges the others, marked partial)`,
    );
  return { present, count };
}

function sumHistograms(histograms: readonly hdr.Histogram[]): hdr.Histogram {
  const total = createLatencyHistogram();
  // add() sums bucket by bucket: the merged percentiles are those of one histogram of every request.
  for (const histogram of histograms) total.add(histogram);
  return total;
}

function sumRecords<T extends Record<string, number>>(records: readonly T[]): T {
  const total: Record<string, number> = {};
  for (const record of records)
    for (const [key, value] of Object.entries(record)) total[key] = (total[key] ?? 0) + value;
  return total as T;
}

const worstLag = (lags: ReadonlyArray<{ p50: number; p99: number; max: number }>) => ({
  p50: Math.max(...lags.map((lag) => lag.p50)),
  p99: Math.max(...lags.map((lag) => lag.p99)),
  max: Math.max(...lags.map((lag) => lag.max)),
});

/** The worst (highest) of each figure: for summaries a shard's file kept no histogram of (older files). */
function worstSummary(summaries: readonly LatencySummaryMs[]): LatencySummaryMs {
  const keys = ["min", "mean", "p50", "p90", "p95", "p99", "p999", "max"] as const;
  return Object.fromEntries(
    keys.map((key) => [key, Math.max(...summaries.map((s) => s[key]))]),
  ) as unknown as LatencySummaryMs;
}

/**
 * The per-second timeline aligned by wall-clock second: entry t of a shard that started s seconds
 * after the earliest covers the merged second t + s. Counts add; a second's percentiles are the
 * worst shard's (the files keep no per-second histograms), an upper bound.
 */
function mergeTimeline(results: readonly RunResult[], startMs: number): TimelineEntry[] {
  const bySecond = new Map<number, TimelineEntry>();
  for (const result of results) {
    const offset = Math.round((Date.parse(result.startedAt) - startMs) / 1000);
    for (const entry of result.timeline) {
      const t = entry.t + offset;
      const seen = bySecond.get(t);
      if (!seen) {
        bySecond.set(t, { ...entry, t, latencyMs: { ...entry.latencyMs } });
        continue;
      }
      seen.sent += entry.sent;
      seen.completed += entry.completed;
      seen.success += entry.success;
      seen.blocked += entry.blocked;
      seen.error += entry.error;
      seen.latencyMs = {
        p50: Math.max(seen.latencyMs.p50, entry.latencyMs.p50),
        p95: Math.max(seen.latencyMs.p95, entry.latencyMs.p95),
        p99: Math.max(seen.latencyMs.p99, entry.latencyMs.p99),
      };
    }
  }
  return [...bySecond.values()].sort((a, b) => a.t - b.t);
}

/**
 * The union of one optional histogram (queue, connect, TLS handshake time) over the shards,
 * exact when every shard's file has it; undefined when a file written before they were kept
 * lacks it (the caller then takes the worst shard's summary).
 */
function sumIfAll(
  inputs: readonly ShardInput[],
  field: "queueTime" | "connect" | "tlsHandshake",
): hdr.Histogram | undefined {
  const histograms = inputs.flatMap((input) => {
    const histogram = input.histograms[field];
    return histogram ? [histogram] : [];
  });
  return histograms.length === inputs.length ? sumHistograms(histograms) : undefined;
}

/** The merge's warning for files written before queue, connect and handshake histograms were kept. */
const upperBoundWarning = (sources: readonly string[]): string =>
  `Queue, connect and TLS handshake times are the worst shard's, an upper bound: ${sources.join(", ")} ` +
  `${sources.length === 1 ? "has" : "have"} no histograms of them (written by an older load-test)`;

/** Connect and TLS handshake times of the union of the shards' connections (exact or worst shard's). */
interface ConnectionTimesMs {
  connectMs: LatencySummaryMs;
  tlsHandshakeMs: LatencySummaryMs;
}

function mergeTransport(transports: readonly TransportResult[], times: ConnectionTimesMs): TransportResult {
  const first = transports[0] as TransportResult;
  const errors: TransportResult["errors"] = {};
  for (const transport of transports)
    for (const [key, entry] of Object.entries(transport.errors)) {
      const seen = errors[key];
      errors[key] = seen ? { count: seen.count + entry.count, reason: seen.reason } : { ...entry };
    }
  const connections = transports.map((t) => t.connections);
  const opened = connections.reduce((sum, c) => sum + c.opened, 0);
  const protocols = new Set(transports.map((t) => t.protocol).filter((p) => p !== null));
  return {
    ...first,
    protocol: protocols.size > 1 ? "mixed" : (first.protocol ?? [...protocols][0] ?? null),
    retried: {
      total: transports.reduce((sum, t) => sum + t.retried.total, 0),
      byReason: sumRecords(transports.map((t) => t.retried.byReason)),
    },
    connections: {
      ...first.connections,
      opened,
      failed: connections.reduce((sum, c) => sum + c.failed, 0),
      resumed: connections.reduce((sum, c) => sum + c.resumed, 0),
      limit: connections.reduce((sum, c) => sum + c.limit, 0),
      byProtocol: sumRecords(connections.map((c) => c.byProtocol)),
      byTlsVersion: sumRecords(connections.map((c) => c.byTlsVersion)),
      connectMs: times.connectMs,
      tlsHandshakeMs: times.tlsHandshakeMs,
      requestsPerConnection: {
        mean:
          opened === 0
            ? 0
            : Math.round(
                (connections.reduce((sum, c) => sum + c.requestsPerConnection.mean * c.opened, 0) / opened) *
                  1000,
              ) / 1000,
        max: Math.max(...connections.map((c) => c.requestsPerConnection.max)),
      },
    },
    warnings: [...new Set(transports.flatMap((t) => t.warnings))],
    errors,
  };
}

const encode = (histogram: hdr.Histogram): string => hdrjs.encodeIntoCompressedBase64(histogram);

/**
 * The shards as one run (docs/DISTRIBUTED.md "What exact means"): histograms summed bucket by
 * bucket, counters added, rates over the union's wall-clock span, the generator's health the
 * worst shard's, then the methodology's verdict judged again on the merged figures.
 */
export function mergeShards(inputs: readonly ShardInput[], allowPartial = false): RunResult {
  const { present, count } = checkShards(inputs, allowPartial);
  const results = inputs.map((input) => input.result);
  if (inputs.length === 1 && count === 1) return results[0] as RunResult;
  const first = results[0] as RunResult;
  const startMs = Math.min(...results.map((r) => Date.parse(r.startedAt)));
  const endMs = Math.max(...results.map((r) => Date.parse(r.endedAt)));
  const durationSec = Math.max(...results.map((r) => r.durationSec));
  const latency = sumHistograms(inputs.map((i) => i.histograms.latency));
  const serviceTime = sumHistograms(inputs.map((i) => i.histograms.serviceTime));
  const sendLag = sumHistograms(inputs.map((i) => i.histograms.sendLag));
  const ownSendLag = sumHistograms(inputs.map((i) => i.histograms.ownSendLag));
  const categoryNames = [...new Set(inputs.flatMap((i) => Object.keys(i.histograms.latencyByCategory)))];
  const latencyByCategory = Object.fromEntries(
    categoryNames.map((name) => [
      name,
      sumHistograms(
        inputs.flatMap((i) =>
          i.histograms.latencyByCategory[name] ? [i.histograms.latencyByCategory[name]] : [],
        ),
      ),
    ]),
  );
  // Files written before queue, connect and handshake histograms were kept: the worst shard's summary.
  const queueTime = sumIfAll(inputs, "queueTime");
  const connect = sumIfAll(inputs, "connect");
  const tlsHandshake = sumIfAll(inputs, "tlsHandshake");
  const withoutTimes = inputs.filter(
    (i) => !i.histograms.queueTime || !i.histograms.connect || !i.histograms.tlsHandshake,
  );
  const connections = results.map((r) => r.transport.connections);
  const connectionTimes: ConnectionTimesMs = {
    connectMs: connect ? summarizeMs(connect) : worstSummary(connections.map((c) => c.connectMs)),
    tlsHandshakeMs: tlsHandshake
      ? summarizeMs(tlsHandshake)
      : worstSummary(connections.map((c) => c.tlsHandshakeMs)),
  };
  const requests = sumRecords(results.map((r) => r.requests));
  const completed = requests.success + requests.blocked + requests.error;
  const matched = results.reduce(
    (sum, r) => sum + (r.correctness ?? 0) * (r.requests.success + r.requests.blocked + r.requests.error),
    0,
  );
  const categories: Record<string, CategoryResult> = {};
  for (const name of new Set(results.flatMap((r) => Object.keys(r.categories)))) {
    const parts = results.flatMap((r) => (r.categories[name] ? [r.categories[name]] : []));
    const total = parts.reduce((sum, c) => sum + c.requests, 0);
    const histogram = latencyByCategory[name];
    categories[name] = {
      requests: total,
      success: parts.reduce((sum, c) => sum + c.success, 0),
      blocked: parts.reduce((sum, c) => sum + c.blocked, 0),
      error: parts.reduce((sum, c) => sum + c.error, 0),
      correctness:
        total === 0
          ? null
          : Math.round(parts.reduce((sum, c) => sum + (c.correctness ?? 0) * c.requests, 0)) / total,
      latencyMs: histogram ? summarizeMs(histogram) : worstSummary(parts.map((c) => c.latencyMs)),
    };
  }
  const targetPerSec = first.rate.targetPerSec * (present.length / count);
  const achievedPerSec = durationSec > 0 ? completed / durationSec : 0;
  const nodes = first.rate.nodes;
  const generators = results.map((r) => r.generator);
  const measured = {
    rate: {
      // A partial merge asks only the present shards' share of the rate.
      targetPerSec,
      achievedPerSec,
      sentPerSec: durationSec > 0 ? requests.sent / durationSec : 0,
      closedLoop: first.rate.closedLoop,
      ...(nodes !== undefined ? { nodes, achievedPerNodePerSec: achievedPerSec / nodes } : {}),
    },
    requests,
    latencyMs: summarizeMs(latency),
    serviceTimeMs: summarizeMs(serviceTime),
    queueTimeMs: queueTime ? summarizeMs(queueTime) : worstSummary(results.map((r) => r.queueTimeMs)),
    sendLagMs: summarizeMs(sendLag),
    categories,
    errors: sumRecords(results.map((r) => r.errors)),
    transport: mergeTransport(
      results.map((r) => r.transport),
      connectionTimes,
    ),
    timeline: mergeTimeline(results, startMs),
    generator: {
      eventLoopDelayMs: worstLag(generators.map((g) => g.eventLoopDelayMs)),
      ownSendLagMs: worstLag(generators.map((g) => g.ownSendLagMs)),
      maxInFlight: generators.reduce((sum, g) => sum + g.maxInFlight, 0),
      // Each shard records the whole run's --workers (it sends with its share of them).
      workers: Math.max(...generators.map((g) => g.workers)),
      threads: generators.reduce((sum, g) => sum + g.threads, 0),
      pacing: first.generator.pacing,
      trustworthy: generators.every((g) => g.trustworthy),
    },
    interrupted: results.some((r) => r.interrupted),
  };
  const expectsBlocks = results.some((r) => r.verdict.checks.some((check) => check.name === "blocked_rate"));
  const judged = evaluateRun(measured, expectsBlocks);
  const late = results.filter((r) => (r.startAt?.lateMs ?? 0) > 0);
  const warnings = [
    ...judged.warnings,
    ...late.map(
      (r) => `Shard ${r.shard?.index ?? 0}/${count} started ${r.startAt?.lateMs} ms after --start-at`,
    ),
    ...(present.length < count ? [`Partial: ${present.length} of ${count} shards merged`] : []),
    ...(withoutTimes.length > 0 ? [upperBoundWarning(withoutTimes.map((i) => i.source))] : []),
  ];
  // Shards judged by thresholds: the same thresholds judged again on the merged histograms.
  const thresholds = thresholdsOf(first);
  const aborted = results.find((r) => r.aborted)?.aborted;
  let verdict = { level: worstLevel(judged.checks.map((c) => c.level)), checks: judged.checks, warnings };
  if (thresholds.length > 0) {
    const thresholdResults = evaluateThresholds(thresholds, {
      latencyMs: histogramView(latency),
      serviceTimeMs: histogramView(serviceTime),
      sendLagMs: histogramView(sendLag),
      requests,
      correctness: completed === 0 ? null : Math.round(matched) / completed,
      achievedPerSec,
      ...(nodes !== undefined ? { nodes } : {}),
      targetPerSec,
      categories: Object.fromEntries(
        Object.entries(categories).map(([name, c]) => [
          name,
          {
            latencyMs: histogramView(latencyByCategory[name] ?? createLatencyHistogram()),
            success: c.success,
            blocked: c.blocked,
            error: c.error,
            correctness: c.correctness,
          },
        ]),
      ),
    });
    verdict = {
      // A shard stopped by a failed threshold (abortOnFail) makes the run critical, as in one process.
      level: aborted ? "critical" : thresholdsLevel(thresholdResults),
      checks: thresholdChecks(thresholdResults),
      warnings,
    };
  }
  const histograms: ResultHistograms = {
    unit: "us",
    significantDigits: LATENCY_SIGNIFICANT_DIGITS,
    latency: encode(latency),
    serviceTime: encode(serviceTime),
    sendLag: encode(sendLag),
    ownSendLag: encode(ownSendLag),
    latencyByCategory: Object.fromEntries(Object.entries(latencyByCategory).map(([k, h]) => [k, encode(h)])),
    ...(queueTime ? { queueTime: encode(queueTime) } : {}),
    ...(connect ? { connect: encode(connect) } : {}),
    ...(tlsHandshake ? { tlsHandshake: encode(tlsHandshake) } : {}),
  };
  return {
    schemaVersion: first.schemaVersion,
    target: first.target,
    path: first.path,
    ...(first.paths ? { paths: first.paths } : {}),
    category: first.category,
    ...(first.runId ? { runId: first.runId } : {}),
    merged: { shards: present, count, partial: present.length < count },
    ...(first.startAt
      ? { startAt: { at: first.startAt.at, lateMs: Math.max(...results.map((r) => r.startAt?.lateMs ?? 0)) } }
      : {}),
    startedAt: new Date(startMs).toISOString(),
    endedAt: new Date(endMs).toISOString(),
    durationSec,
    drainSec: Math.max(...results.map((r) => r.drainSec ?? 0)),
    correctness: completed === 0 ? null : Math.round(matched) / completed,
    ...measured,
    verdict,
    ...(aborted ? { aborted } : {}),
    histograms,
  };
}

/**
 * The thresholds a shard was judged by, read back from its checks: each is named
 * `threshold SELECTOR EXPRESSION` and expects `EXPRESSION (LEVEL)` (evaluate/thresholds.ts
 * `thresholdChecks`), which is `formatThreshold`'s text, so parseCliThreshold reads it again.
 */
export function thresholdsOf(result: RunResult): Threshold[] {
  const thresholds: Threshold[] = [];
  for (const check of result.verdict.checks) {
    if (!check.name.startsWith("threshold ")) continue;
    const rest = check.name.slice("threshold ".length);
    const space = rest.lastIndexOf(" ");
    const level = /\((degraded|target)\)$/.exec(check.expected)?.[1];
    if (space < 0 || level === undefined) continue;
    const text = `${rest.slice(0, space)}:${rest.slice(space + 1)}${level === "degraded" ? "@degraded" : ""}`;
    thresholds.push(parseCliThreshold(text));
  }
  return thresholds;
}
