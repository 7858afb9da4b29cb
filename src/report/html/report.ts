import { unreachableReason } from "../../evaluate/reachability.js";
import { decodeResultHistograms, type DecodedHistograms } from "../../metrics/result-histograms.js";
import { RESULTS_SCHEMA_VERSION, type RunResult } from "../../metrics/result.js";
import type { LoadedResults, LoadedRun } from "../../metrics/results-file.js";
import { ladderNotes, saturationIndex } from "../markdown.js";
import { escapeHtml, renderPage, type Block, type PageSpec, type SectionSpec } from "./page.js";
import { COLORS, levelHtml, runSections, safeTarget } from "./run-view.js";

/**
 * The HTML report of any results (docs/REPORTS.md): one run, a profile's phases, or a ladder,
 * from a results file (`load-test report`) or straight from a command (`--html`). The same
 * loaded form feeds both, so the two pages are the same.
 */

export interface ReportOptions {
  /** Labels of the run(s) (profile `labels`, `--label`), shown in the header. */
  labels?: Record<string, string>;
  /** Live dashboard: the last run is still going (no histograms yet). */
  live?: boolean;
}

/** Decoded histograms, or why a view cannot have them (a file from an older load-test). */
function histogramsOf(
  run: LoadedRun,
  source: string,
): { histograms?: DecodedHistograms; histogramsMissing?: string } {
  if (run.result.histograms === undefined)
    return {
      histogramsMissing:
        "This results file has no histograms (written by an older load-test): the percentile " +
        "distribution cannot be drawn; the tables hold the percentiles it recorded. Rerun the test with this version.",
    };
  return { histograms: decodeResultHistograms(run.result, source) };
}

const ms = (value: number): string => `${Number(value.toFixed(3))}`;
const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(3))}%`;

/** The methodology's Baseline Results table (report/markdown.ts ladderTable) as HTML. */
function baselineTable(rows: Array<{ ratePerSec: number; result: RunResult; note: string }>): string {
  const head = [
    "RPS",
    "P50 ms",
    "P95 ms",
    "P99 ms",
    "Error Rate",
    "Achieved",
    "Correctness",
    "Verdict",
    "Notes",
  ];
  const body = rows.map(({ ratePerSec, result, note }, index) => {
    const completed = result.requests.total;
    const reached = unreachableReason(result) === undefined;
    const latency = (value: number, key: string): string =>
      `<td data-field="steps.${index}.latencyMs.${key}">${reached ? ms(value) : "n/a"}</td>`;
    return (
      `<tr><td data-field="steps.${index}.ratePerSec">${result.rate.closedLoop ? "max" : ratePerSec}</td>` +
      latency(result.latencyMs.p50, "p50") +
      latency(result.latencyMs.p95, "p95") +
      latency(result.latencyMs.p99, "p99") +
      `<td>${completed > 0 ? percent(result.requests.error / completed) : "n/a"}</td>` +
      `<td>${Number(result.rate.achievedPerSec.toFixed(1))}</td>` +
      `<td>${result.correctness === null ? "n/a" : percent(result.correctness)}</td>` +
      `<td class="text">${levelHtml(result.verdict.level)}</td><td class="text">${escapeHtml(note)}</td></tr>`
    );
  });
  return (
    `<table class="baseline"><thead><tr>${head.map((cell, k) => `<th${k >= 7 ? ' class="text"' : ""}>${cell}</th>`).join("")}</tr></thead>` +
    `<tbody>${body.join("")}</tbody></table>`
  );
}

function runPage(loaded: LoadedResults, options: ReportOptions): PageSpec {
  const run = loaded.runs[0] as LoadedRun;
  const result = run.result;
  return {
    title: `load-test report: ${safeTarget(result.target)}${result.path}`,
    subtitle: `${escapeHtml(result.startedAt)} · ${levelHtml(result.verdict.level)}${options.live ? " · running" : ""}`,
    sections: runSections(result, {
      idPrefix: "run-",
      title: "Run",
      labels: options.labels,
      live: options.live,
      ...(options.live ? {} : histogramsOf(run, loaded.source)),
    }),
  };
}

/** A run nested under a phase or ladder step: its sections become sub-sections. */
function nestedRun(
  run: LoadedRun,
  index: number,
  loaded: LoadedResults,
  options: ReportOptions,
  title: string,
): SectionSpec {
  const live = options.live === true && index === loaded.runs.length - 1;
  const sections = runSections(run.result, {
    idPrefix: `r${index}-`,
    title: "Summary",
    labels: options.labels,
    live,
    ...(live ? {} : histogramsOf(run, `${loaded.source}, ${run.label}`)),
  });
  return { id: `run-${index}`, title, blocks: [], sections };
}

function phasesPage(loaded: LoadedResults, options: ReportOptions): PageSpec {
  const first = loaded.runs[0]?.result;
  const rows = loaded.runs.map((run, index) => ({
    ratePerSec: run.result.rate.targetPerSec,
    result: run.result,
    note: run.name ?? run.label ?? `phase ${index + 1}`,
  }));
  const worst = worstLevel(loaded.runs.map((run) => run.result));
  return {
    title: `load-test report: ${first ? `${safeTarget(first.target)}${first.path}` : "no phase ran"}, ${loaded.runs.length} phases`,
    subtitle: `${first ? escapeHtml(first.startedAt) : ""} · worst phase ${levelHtml(worst)}${loaded.interrupted ? " · interrupted" : ""}`,
    sections: [
      { id: "phases", title: "Phases", blocks: [{ html: baselineTable(rows) }] },
      ...loaded.runs.map((run, index) =>
        nestedRun(run, index, loaded, options, `Phase ${index + 1}: ${run.name ?? run.label}`),
      ),
    ],
  };
}

function worstLevel(results: RunResult[]): RunResult["verdict"]["level"] {
  const order = ["target", "degraded", "critical"] as const;
  return results.reduce<RunResult["verdict"]["level"]>(
    (worst, result) =>
      order.indexOf(result.verdict.level) > order.indexOf(worst) ? result.verdict.level : worst,
    "target",
  );
}

function ladderPage(loaded: LoadedResults, options: ReportOptions): PageSpec {
  const results = loaded.runs.map((run) => run.result);
  const levels = results.map((result) => result.verdict.level);
  const notes = ladderNotes(levels);
  const rows = loaded.runs.map((run, index) => ({
    ratePerSec: run.ratePerSec ?? run.result.rate.targetPerSec,
    result: run.result,
    note: run.note ?? (notes[index] as string),
  }));
  const computed = saturationIndex(levels);
  const saturatedAtPerSec =
    loaded.saturatedAtPerSec !== undefined
      ? loaded.saturatedAtPerSec
      : computed >= 0
        ? (rows[computed]?.ratePerSec ?? null)
        : null;
  const rates = rows.map((row) => row.ratePerSec);
  const reached = (result: RunResult, value: number): number | null =>
    unreachableReason(result) === undefined && result.requests.total > 0 ? value : null;
  const logX = rates.length > 1 && Math.min(...rates) > 0 && Math.max(...rates) / Math.min(...rates) >= 10;
  const x = {
    label: "asked rate (req/s)",
    kind: logX ? ("log" as const) : ("linear" as const),
    values: rates,
  };
  const marker =
    saturatedAtPerSec === null
      ? []
      : [
          {
            x: saturatedAtPerSec,
            label: `saturation from ${saturatedAtPerSec} req/s`,
            color: COLORS.saturation,
          },
        ];
  const saturationText =
    saturatedAtPerSec === null
      ? `<p data-field="saturatedAtPerSec" data-value="none">Saturation: not reached (the highest step was within target).</p>`
      : `<p data-field="saturatedAtPerSec" data-value="${saturatedAtPerSec}" class="level-critical">Saturation: from ` +
        `<strong>${saturatedAtPerSec} req/s</strong> on, no step was within target.</p>`;
  const blocks: Block[] = [
    { html: saturationText },
    {
      chart: {
        id: "ladder-chart-latency",
        title: "Latency against the asked rate",
        x,
        y: { label: "latency (ms)" },
        series: [
          { label: "p50", values: results.map((r) => reached(r, r.latencyMs.p50)), color: COLORS.p50 },
          { label: "p95", values: results.map((r) => reached(r, r.latencyMs.p95)), color: COLORS.p95 },
          { label: "p99", values: results.map((r) => reached(r, r.latencyMs.p99)), color: COLORS.p99 },
        ],
        markers: marker,
      },
    },
    {
      chart: {
        id: "ladder-chart-rate",
        title: "Achieved against the asked rate",
        x,
        y: { label: "req/s" },
        series: [
          { label: "asked", values: rates, color: COLORS.asked, dash: true },
          { label: "achieved", values: results.map((r) => r.rate.achievedPerSec), color: COLORS.achieved },
        ],
        markers: marker,
      },
    },
    { html: `<h3>Baseline Results</h3>${baselineTable(rows)}` },
  ];
  const first = results[0];
  return {
    title: `load-test ladder: ${first ? `${safeTarget(first.target)}${first.path}` : "no step ran"}`,
    subtitle:
      `${first ? escapeHtml(first.startedAt) : ""} · ${rows.length} steps` +
      (saturatedAtPerSec === null
        ? " · saturation not reached"
        : ` · saturation from ${saturatedAtPerSec} req/s`) +
      (loaded.interrupted ? " · interrupted" : ""),
    sections: [
      { id: "ladder", title: "Ladder", blocks },
      ...loaded.runs.map((run, index) =>
        nestedRun(
          run,
          index,
          loaded,
          options,
          `Step ${index + 1}: ${rows[index]?.ratePerSec} req/s (${rows[index]?.note})`,
        ),
      ),
    ],
  };
}

/** The page of any loaded results (see PageSpec); throws InvalidHistogramError for a damaged file. */
export function reportPage(loaded: LoadedResults, options: ReportOptions = {}): PageSpec {
  if (loaded.kind === "ladder") return ladderPage(loaded, options);
  if (loaded.kind === "phases") return phasesPage(loaded, options);
  return runPage(loaded, options);
}

/** The whole self-contained HTML report of loaded results. */
export function htmlReport(loaded: LoadedResults, options: ReportOptions = {}): string {
  return renderPage(reportPage(loaded, options));
}

/** One run's results in the loaded form (`--html` on a run). */
export function loadedRun(result: RunResult, source = "run"): LoadedResults {
  return {
    source,
    kind: "run",
    schemaVersion: RESULTS_SCHEMA_VERSION,
    interrupted: result.interrupted,
    runs: [{ label: "run", result }],
  };
}

/** A profile's phases in the loaded form. */
export function loadedPhases(
  phases: ReadonlyArray<{ name: string; result: RunResult }>,
  interrupted: boolean,
  source = "phases",
): LoadedResults {
  return {
    source,
    kind: "phases",
    schemaVersion: RESULTS_SCHEMA_VERSION,
    interrupted,
    runs: phases.map(({ name, result }) => ({ label: `phase ${JSON.stringify(name)}`, name, result })),
  };
}

/** A ladder's steps in the loaded form (engine/ladder.ts LadderResult). */
export function loadedLadder(
  outcome: {
    steps: ReadonlyArray<{ ratePerSec: number; result: RunResult; note: string }>;
    saturatedAtPerSec: number | null;
    interrupted: boolean;
  },
  source = "ladder",
): LoadedResults {
  return {
    source,
    kind: "ladder",
    schemaVersion: RESULTS_SCHEMA_VERSION,
    interrupted: outcome.interrupted,
    saturatedAtPerSec: outcome.saturatedAtPerSec,
    runs: outcome.steps.map((step, index) => ({
      label: `step ${index + 1} (${step.ratePerSec} req/s)`,
      ratePerSec: step.ratePerSec,
      note: step.note,
      result: step.result,
    })),
  };
}
