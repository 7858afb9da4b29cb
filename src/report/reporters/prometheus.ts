import type { RunResult } from "../../metrics/result.js";
import type { OutputPath } from "../output-file.js";
import { startPrometheusExport, type PrometheusExport, type PrometheusOptions } from "../prometheus.js";
import type { Reporter, ReportOutcome, RunStart, Streams } from "../reporter.js";

/**
 * The Prometheus export of each run (docs/PROMETHEUS.md): `--pushgateway` pushes during and after
 * it, `--metrics-listen` serves live `/metrics`, `--prometheus-file` writes the final metrics.
 * Its problems never fail the measurement: they become warnings of the verdict, unless
 * `--pushgateway-fatal` (exit 4); a lost `--prometheus-file` is a lost results file (exit 5).
 */
export class PrometheusReporter implements Reporter {
  readonly outputs: readonly OutputPath[];
  private exporter: PrometheusExport | undefined;
  private run: RunStart | undefined;

  /** `file`: `--prometheus-file` (or a profile's `outputs.prometheusFile`), checked before the run. */
  constructor(
    private readonly options: PrometheusOptions,
    file: OutputPath | undefined,
    private readonly streams: Streams,
    private readonly quiet: boolean,
  ) {
    this.outputs = file ? [file] : [];
  }

  async runStart(run: RunStart): Promise<void> {
    this.run = run;
    // Rejects only before the run, when the live endpoint cannot listen (the CLI: exit 2).
    this.exporter = await startPrometheusExport(this.options, run.runId, run.snapshot);
    if (this.exporter.listenUrl && !this.quiet)
      this.streams.err(`live metrics on ${this.exporter.listenUrl}\n`);
  }

  async runEnd(result: RunResult): Promise<ReportOutcome | void> {
    const { exporter, run } = this;
    if (!exporter || !run) return;
    this.exporter = undefined;
    const exported = await exporter.finish(run.snapshot());
    result.verdict.warnings.push(...exported.warnings);
    return {
      exportFailed: exported.fatal,
      ...(exported.writeFailed === undefined ? {} : { errors: [exported.writeFailed], writeFailed: true }),
    };
  }
}
