import type { RunOptions } from "../config/options.js";
import { Recorder } from "../metrics/recorder.js";
import type { LagSummaryMs, TransportResult } from "../metrics/result.js";
import { ConnectionRecorder } from "../transport/connections.js";
import { mergeTransportSummaries, type ConnectionTimes, type TransportSummary } from "../transport/http.js";
import type { Clock } from "./clock.js";
import { recorderLayoutFor, transportFor, type ShardStats } from "./shard.js";
import type { ShardReport } from "./thread-protocol.js";

/** One sender as the merge sees it: its latest report (none before its first), and whether it is lost. */
export interface ReportingSender {
  readonly latest: ShardReport | undefined;
  /** `false`: a shard process that was lost (distributed/fleet.ts). */
  readonly live?: boolean;
}

/**
 * What the drivers of many senders share: worker threads (threads.ts) and shard processes
 * (distributed/remote-driver.ts) each report once a second; their deltas are added into one
 * Recorder in merge mode, and the run controller reads their latest reports as one shard's.
 */
export abstract class MergingDriver {
  readonly threads: number;
  protected merged: Recorder;
  protected started = false;
  /** The timeline second each sender has reached, by its index. */
  protected readonly shardSeconds: number[];
  private readonly layout: ReturnType<typeof recorderLayoutFor>;
  private unopened: TransportSummary | undefined;

  constructor(
    protected readonly options: RunOptions,
    protected readonly clock: Clock,
    senders: number,
    categories: readonly string[],
  ) {
    this.threads = senders;
    this.layout = recorderLayoutFor(options, categories);
    this.merged = new Recorder(this.layout, clock.nowMs(), "merge");
    this.shardSeconds = new Array<number>(senders).fill(0);
  }

  /** Every sender, lost ones included: what they reported before still counts. */
  protected abstract senders(): readonly ReportingSender[];
  /** Interrupt: nothing more leaves any sender. */
  abstract stop(): void;

  recorder(): Recorder {
    return this.merged;
  }

  /** The measured run's merge starts afresh at t0: reports from before it (warm-up) are not absorbed. */
  protected startMerge(t0Ms: number): void {
    this.merged = new Recorder(this.layout, t0Ms, "merge");
    this.shardSeconds.fill(0);
    this.started = true;
  }

  /** Without `--warmup` or once interrupted: none. An abort while `warm` runs stops every sender. */
  protected async warmUpWith(signal: AbortSignal | undefined, warm: () => Promise<unknown>): Promise<void> {
    if (this.options.warmupMs <= 0 || signal?.aborted) return;
    const stop = (): void => this.stop();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      await warm();
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  stats(): ShardStats {
    const stats: ShardStats = { sent: 0, inFlight: 0, peakInFlight: 0 };
    for (const sender of this.senders()) {
      const latest = sender.latest?.stats;
      if (!latest) continue;
      stats.sent += latest.sent;
      // A lost shard's requests in flight will never be reported: they are not counted as such.
      if (sender.live !== false) stats.inFlight += latest.inFlight;
      // The senders' peaks need not coincide: their sum bounds the run's peak from above.
      stats.peakInFlight += latest.peakInFlight;
    }
    return stats;
  }

  /** The worst sender's, percentile by percentile. */
  eventLoopDelayMs(): LagSummaryMs {
    const worst: LagSummaryMs = { p50: 0, p99: 0, max: 0 };
    for (const sender of this.senders()) {
      const lag = sender.latest?.loopDelay;
      if (!lag) continue;
      worst.p50 = Math.max(worst.p50, lag.p50);
      worst.p99 = Math.max(worst.p99, lag.p99);
      worst.max = Math.max(worst.max, lag.max);
    }
    return worst;
  }

  transportResult(): TransportResult {
    const reports = this.senders().flatMap((sender) => (sender.latest ? [sender.latest] : []));
    // Before the first report: what the run's connections will be, none opened yet.
    if (reports.length === 0) {
      this.unopened ??= transportFor(this.options, { index: 0, count: 1 }, this.clock).transportSummary();
      return { ...this.unopened, errors: {} };
    }
    const errors: TransportResult["errors"] = {};
    for (const report of reports) {
      for (const [key, entry] of Object.entries(report.transport.errors)) {
        const seen = errors[key];
        errors[key] = seen ? { count: seen.count + entry.count, reason: seen.reason } : { ...entry };
      }
    }
    const summary = mergeTransportSummaries(
      reports.map((report) => ({ summary: report.transport, connections: report.connections })),
    );
    return { ...summary, errors };
  }

  /** The senders' connect and TLS handshake histograms from their latest reports, merged bucket by bucket. */
  connectionTimes(): ConnectionTimes {
    return ConnectionRecorder.merged(
      this.senders().flatMap((sender) => (sender.latest ? [sender.latest.connections] : [])),
    ).times();
  }
}
