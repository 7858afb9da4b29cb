/**
 * The monitor as a reporter (docs/MONITOR.md): its worker thread starts when the command opens
 * (so the first scrape comes before the warm-up, and counters have a rate by the first second),
 * and each run's end adds the target's series for that run (warm-up included) to its result, and
 * their warning signs to its verdict, before any other reporter shows or writes it. A monitor
 * that fails adds a warning, never an error: the measurement stands without it.
 */
import type { ResultsDocument, RunResult } from "../../metrics/result.js";
import { startMonitor, type Monitor } from "../../monitor/monitor.js";
import { monitorWarnings } from "../../monitor/summary.js";
import type { MonitorLive, MonitorOptions } from "../../monitor/types.js";
import type { Reporter, RunStart } from "../reporter.js";

/** Longest wait for the first round: the longest scrape deadline (5 s) is never waited for whole. */
const FIRST_ROUND_WAIT_MS = 3000;

export class MonitorReporter implements Reporter {
  private monitor: Monitor | undefined;
  private runStartedMs = 0;

  /** Without options the monitor starts at `begin()` (demo: once its gateway's URL is known). */
  constructor(
    private readonly options?: MonitorOptions,
    private readonly start: (options: MonitorOptions) => Monitor = startMonitor,
  ) {}

  /** The latest target CPU, for the live line. */
  readonly live = (): MonitorLive => this.monitor?.live() ?? {};

  async open(): Promise<void> {
    if (this.options) await this.begin(this.options);
  }

  async begin(options: MonitorOptions): Promise<void> {
    await this.monitor?.stop();
    this.monitor = this.start(options);
    // The first round of reads before anything is sent (a source that hangs waits no longer than
    // its deadline), so the warm-up has its points and counters their first rate by its end.
    await this.monitor.ready(FIRST_ROUND_WAIT_MS);
  }

  runStart(_run: RunStart): void {
    this.runStartedMs = Date.now();
  }

  async runEnd(result: RunResult): Promise<void> {
    if (!this.monitor) return;
    const originMs = Date.parse(result.startedAt);
    const toMs = Math.max(Date.parse(result.endedAt), Date.now());
    const answer = await this.monitor.result({ fromMs: this.runStartedMs, toMs, originMs });
    if ("failed" in answer) {
      result.verdict.warnings.push(`monitor: no target metrics for this run (${answer.failed})`);
      return;
    }
    result.monitor = answer;
    result.verdict.warnings.push(...monitorWarnings(answer, result.verdict.level !== "target"));
  }

  /**
   * Quitting now: the running run gets the series the generator already holds (monitor.ts
   * `resultNow`), since there is no time to ask the monitor process. First among the reporters,
   * so the files written after it have them.
   */
  quitNow(document: ResultsDocument): void {
    if (!this.monitor) return;
    const run =
      "phases" in document
        ? document.phases.at(-1)?.result
        : "steps" in document
          ? document.steps.at(-1)?.result
          : document;
    if (!run || run.monitor) return;
    const result = this.monitor.resultNow({
      fromMs: this.runStartedMs,
      toMs: Date.now(),
      originMs: Date.parse(run.startedAt),
    });
    if (!result) {
      run.verdict.warnings.push("monitor: no target metrics for this run (quit before its first round)");
      return;
    }
    result.note = "quit at once: the series the monitor had sent so far, no range queries";
    run.monitor = result;
    run.verdict.warnings.push(...monitorWarnings(result, run.verdict.level !== "target"));
  }

  async close(): Promise<void> {
    await this.monitor?.stop();
    this.monitor = undefined;
  }
}
