import { InputError } from "../../config/options.js";
import { resultsFromData, type LoadedResults, type LoadedRun } from "../../metrics/results-file.js";
import { RESULTS_SCHEMA_VERSION, type ResultsDocument, type RunResult } from "../../metrics/result.js";
import { DashboardServer, type ListenAt } from "../html/dashboard.js";
import type { PageSpec } from "../html/page.js";
import { reportPage } from "../html/report.js";
import type { Reporter, RunStart, Streams } from "../reporter.js";

/**
 * `--dashboard [HOST:PORT]`: the HTML report served live while the command runs
 * (report/html/dashboard.ts), its URL printed at start; the last page is the final report.
 */
export class DashboardReporter implements Reporter {
  private server: DashboardServer | undefined;
  /** Runs of the command that are over (phases, ladder steps), with how to name them. */
  private readonly done: LoadedRun[] = [];

  constructor(
    private readonly at: ListenAt,
    private readonly streams: Streams,
    private readonly labels?: Record<string, string>,
  ) {}

  async open(): Promise<void> {
    const waiting: PageSpec = {
      title: "load-test: starting",
      sections: [{ id: "waiting", title: "Starting", blocks: [{ html: "<p>The run is starting…</p>" }] }],
    };
    try {
      this.server = await DashboardServer.start(this.at, waiting);
    } catch (error) {
      const host = this.at.host.includes(":") ? `[${this.at.host}]` : this.at.host;
      throw new InputError(
        "--dashboard",
        `cannot listen on ${host}:${this.at.port}: ${(error as Error).message}`,
      );
    }
    this.streams.err(`live dashboard on ${this.server.url}\n`);
  }

  /** The command's runs so far, the running one last (live: no histograms yet). */
  private live(current: RunResult, run: RunStart): LoadedResults {
    const running: LoadedRun = {
      label: run.title,
      result: current,
      ...(run.kind === "ladder" ? { ratePerSec: run.options.ratePerSec } : {}),
      // A phase's title is `phase 2/3 "peak"`: its name is the quoted part.
      ...(run.kind === "phases" ? { name: /"(.*)"$/.exec(run.title)?.[1] ?? run.title } : {}),
    };
    return {
      source: "live",
      kind: run.kind,
      schemaVersion: RESULTS_SCHEMA_VERSION,
      interrupted: false,
      runs: [...this.done, running],
    };
  }

  progress(_progress: unknown, run: RunStart): void {
    this.server?.update(() =>
      reportPage(this.live(run.snapshot().result, run), { labels: this.labels, live: true }),
    );
  }

  runResult(result: RunResult, run: RunStart): void {
    const loaded = this.live(result, run);
    this.done.push(loaded.runs[loaded.runs.length - 1] as LoadedRun);
  }

  finish(document: ResultsDocument): void {
    this.server?.finish(reportPage(resultsFromData(document, "results"), { labels: this.labels }));
  }

  async close(): Promise<void> {
    await this.server?.close();
  }
}
