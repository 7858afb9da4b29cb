import { CAPACITY_EXPECTED } from "../../evaluate/capacity.js";
import { unreachableReason } from "../../evaluate/reachability.js";
import type { LadderDocument, Progress, ResultsDocument, RunResult } from "../../metrics/result.js";
import { describeTargets, requestTargets } from "../../scenarios/request-targets.js";
import type { Reporter, RunStart, Streams } from "../reporter.js";
import { formatProgressLine, formatSummary } from "../terminal.js";
import { formatTargetLive } from "../target-block.js";
import type { MonitorLive } from "../../monitor/types.js";

/** Without a TTY (CI logs) a plain progress line every few seconds instead of a redrawn one. */
const PLAIN_PROGRESS_EVERY_SEC = 5;

export interface TerminalOptions {
  /** No start lines or live progress, only summaries. */
  quiet: boolean;
  /** A ladder's last step in full before its table (`demo`). */
  summaryOfLast?: boolean;
  /** The target's latest CPU for the live line (`--monitor`, reporters/monitor.ts). */
  targetLive?: () => MonitorLive;
}

/**
 * The terminal: a line as each run starts, live progress on stderr, the summary of each run (or
 * a line per ladder step, then the Baseline Results table, saturation and capacity) on stdout.
 */
export class TerminalReporter implements Reporter {
  private lastPrintedSec = 0;
  private run: RunStart | undefined;

  constructor(
    private readonly streams: Streams,
    private readonly options: TerminalOptions,
  ) {}

  runStart(run: RunStart): void {
    this.run = run;
    this.lastPrintedSec = 0;
    if (this.options.quiet) return;
    const { options } = run;
    if (run.kind === "ladder") {
      this.streams.err(
        `${run.title}: step ${run.index + 1}/${run.count}: ${options.ratePerSec} req/s for ${options.durationMs / 1000}s against ` +
          `${options.targetUrl.protocol}//${options.targetUrl.host}${options.path}, category ${options.category}\n`,
      );
      return;
    }
    const requests = requestTargets(options);
    this.streams.err(
      `${run.title}: ${describeTargets(hostOf(run), requests)} at ${options.closedLoop ? "max rate (closed loop)" : `${options.ratePerSec} req/s`} for ${options.durationMs / 1000}s, ` +
        `category ${requests.category}, workers ${options.workers}, threads ${options.threads ?? 1}` +
        (options.warmupMs > 0 ? `, after a ${options.warmupMs / 1000}s unrecorded warm-up` : "") +
        "\n",
    );
  }

  progress(progress: Progress): void {
    if (this.options.quiet) return;
    const line = formatProgressLine(progress) + formatTargetLive(this.options.targetLive?.() ?? {});
    if (this.streams.isTTY) {
      this.streams.err(`\r\x1b[2K${line}`);
    } else if (progress.elapsedSec - this.lastPrintedSec >= PLAIN_PROGRESS_EVERY_SEC - 0.5) {
      this.lastPrintedSec = progress.elapsedSec;
      this.streams.err(`${line}\n`);
    }
  }

  runEnd(): void {
    if (!this.options.quiet && this.streams.isTTY) this.streams.err("\r\x1b[2K");
  }

  runResult(result: RunResult, run: RunStart): void {
    if (run.kind === "ladder") {
      this.streams.out(`${stepLine(run.index, run.count, run.options.ratePerSec, result)}\n`);
      return;
    }
    this.streams.out(`${formatSummary(result)}\n`);
    const reason = unreachableReason(result);
    if (reason !== undefined)
      this.streams.err(`load-test: error: --target ${hostOf(run)}: unreachable (${reason})\n`);
  }

  finish(document: ResultsDocument): void {
    if ("kind" in document && document.kind === "ladder") this.ladderEnd(document);
  }

  quitNow(document: ResultsDocument): void {
    if (!("kind" in document)) {
      this.streams.outNow(`${formatSummary(document)}\n`);
      return;
    }
    const results =
      document.kind === "ladder"
        ? document.steps.map((step) => step.result)
        : document.phases.map((phase) => phase.result);
    const last = results[results.length - 1];
    if (last) this.streams.outNow(`${formatSummary(last)}\n`);
    if (document.kind === "ladder") this.streams.outNow(`\nBaseline Results\n\n${document.table}\n\n`);
  }

  private ladderEnd(ladder: LadderDocument): void {
    const { streams } = this;
    const last = ladder.steps[ladder.steps.length - 1];
    if (this.options.summaryOfLast && last) {
      streams.out(`\nThe last step (${last.ratePerSec} req/s) in full:\n${formatSummary(last.result)}\n`);
    }
    streams.out(`\nBaseline Results\n\n${ladder.table}\n\n`);
    const saturated = ladder.steps.find((step) => step.ratePerSec === ladder.saturatedAtPerSec);
    const neverReached = ladder.unreachable !== null && ladder.steps.length === 1;
    if (ladder.unreachable && this.run) {
      streams.err(
        `load-test: error: --target ${hostOf(this.run)}: unreachable at ${ladder.unreachable.ratePerSec} req/s ` +
          `(${ladder.unreachable.reason}); the ladder stopped there\n`,
      );
    }
    streams.out(
      neverReached
        ? "Saturation: not measured (the target was unreachable)\n"
        : saturated
          ? `Saturation: from ${saturated.ratePerSec} req/s on, no step was within target (${saturated.result.verdict.level}: ` +
            `${saturated.result.verdict.checks
              .filter((check) => check.level !== "target")
              .map((check) => check.message)
              .join("; ")})\n`
          : `Saturation: not reached (the highest step was within target)\n`,
    );
    const { capacity } = ladder;
    streams.out(
      `${capacity.message}: ${capacity.level ?? "not judged"} (${CAPACITY_EXPECTED}; --nodes ${capacity.nodes})\n`,
    );
  }
}

/** `scheme://host:port` of a run's target, as the terminal names it. */
function hostOf(run: RunStart): string {
  return `${run.options.targetUrl.protocol}//${run.options.targetUrl.host}`;
}

/** Steps of the ladder, one line each as they finish. */
function stepLine(index: number, count: number, ratePerSec: number, result: RunResult): string {
  const unreachable = unreachableReason(result);
  if (unreachable !== undefined)
    return `step ${index + 1}/${count}: ${ratePerSec} req/s -> unreachable (${unreachable})`;
  const completed = result.requests.total;
  const errorRate =
    completed > 0 ? `${Number(((result.requests.error / completed) * 100).toFixed(3))}%` : "n/a";
  return (
    `step ${index + 1}/${count}: ${ratePerSec} req/s -> achieved ${result.rate.achievedPerSec.toFixed(1)}, ` +
    `p50 ${result.latencyMs.p50}ms p95 ${result.latencyMs.p95}ms p99 ${result.latencyMs.p99}ms, ` +
    `errors ${errorRate}, correctness ${result.correctness === null ? "n/a" : `${Number((result.correctness * 100).toFixed(2))}%`}: ` +
    result.verdict.level +
    (result.interrupted ? ` (interrupted after ${Number(result.durationSec.toFixed(1))}s)` : "")
  );
}
