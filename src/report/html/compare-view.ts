import type { ArchiveEntry, Trend } from "../../archive/history.js";
import { testKey } from "../../archive/history.js";
import type { Comparison, CompareRow } from "../../compare/compare.js";
import { pooled } from "../../compare/quantile.js";
import type { RunWithHistograms } from "../../metrics/results-file.js";
import type { RunResult } from "../../metrics/result.js";
import { escapeHtml, type ChartSpec, type PageSpec, type SectionSpec } from "./page.js";
import { SPECTRUM_X, spectrum } from "./run-view.js";

/**
 * The HTML views of `compare --html` and `history --html` (docs/COMPARE.md): PageSpecs for the
 * report module (page.ts), so they are self-contained pages like the run report.
 */

const BASE_COLOR = "#0969da";
const CANDIDATE_COLOR = "#cf222e";
const JUDGEMENT_CLASS = { better: "level-target", same: "", worse: "level-critical" } as const;

function cell(row: CompareRow, value: number | null): string {
  if (value === null) return "n/a";
  if (row.unit === "ratio") return `${Number((value * 100).toFixed(2))}%`;
  if (row.unit === "ms") return `${Number(value.toFixed(3))} ms`;
  return `${Number(value.toFixed(1))}/s`;
}

function rowsTable(rows: readonly CompareRow[]): string {
  const head = ["scope", "metric", "base", "candidate", "change", "judgement", "why"]
    .map((name) => `<th class="text">${name}</th>`)
    .join("");
  const body = rows
    .map((row) => {
      const base = row.baseRange
        ? `${cell(row, row.base)} [${cell(row, row.baseRange[0])}..${cell(row, row.baseRange[1])}]`
        : cell(row, row.base);
      const change =
        row.change === null ? "" : `${row.change > 0 ? "+" : ""}${Number((row.change * 100).toFixed(1))}%`;
      const judged = JUDGEMENT_CLASS[row.judgement];
      return (
        `<tr data-scope="${escapeHtml(row.scope)}" data-metric="${escapeHtml(row.metric)}" data-judgement="${row.judgement}">` +
        `<td class="text">${escapeHtml(row.scope)}</td><td class="text">${escapeHtml(row.metric)}</td>` +
        `<td>${escapeHtml(base)}</td><td>${escapeHtml(cell(row, row.candidate))}</td><td>${escapeHtml(change)}</td>` +
        `<td class="text${judged ? ` ${judged}` : ""}">${row.judgement}</td><td class="text">${escapeHtml(row.reason)}</td></tr>`
      );
    })
    .join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Latency per second, p50 and p95, of each run on one time axis. */
function timeChart(
  id: string,
  runs: ReadonlyArray<{ label: string; result: RunResult; color: string }>,
): ChartSpec {
  const seconds = Math.max(...runs.map(({ result }) => result.timeline.length));
  const x = Array.from({ length: seconds }, (_, t) => t);
  const at = (result: RunResult, key: "p50" | "p95"): Array<number | null> =>
    x.map((t) => {
      const entry = result.timeline.find((e) => e.t === t);
      return entry && entry.completed > 0 && (t === 0 || t + 0.5 <= result.durationSec)
        ? entry.latencyMs[key]
        : null;
    });
  return {
    id,
    title: "Latency per second, both runs (p50 solid, p95 dashed)",
    x: { label: "time since start (s)", kind: "seconds", values: x },
    y: { label: "latency (ms)" },
    series: runs.flatMap(({ label, result, color }) => [
      { label: `${label} p50`, values: at(result, "p50"), color },
      { label: `${label} p95`, values: at(result, "p95"), color, dash: true },
    ]),
  };
}

/**
 * The comparison as a page: per run (step, phase) the table, both percentile spectra overlaid
 * (the baselines pooled) and both time series. `bases[k][i]` is baseline k's run i.
 */
export function comparePage(
  comparison: Comparison,
  bases: ReadonlyArray<readonly RunWithHistograms[]>,
  candidate: readonly RunWithHistograms[],
): PageSpec {
  const regressed = comparison.regressions.length > 0;
  const sections: SectionSpec[] = comparison.sections.map((section, index) => {
    const cand = candidate[index] as RunWithHistograms;
    const runBases = bases.map((runs) => runs[index] as RunWithHistograms);
    const baseLabel = runBases.length === 1 ? "baseline" : `${runBases.length} baselines pooled`;
    const spectrumChart: ChartSpec = {
      id: `cmp${index}-spectrum`,
      title: "Latency percentile spectrum (from the histograms)",
      x: { label: "percentile", kind: "percentile", values: [...SPECTRUM_X] },
      y: { label: "latency (ms)", log: true },
      series: [
        {
          label: baseLabel,
          values: spectrum(pooled(runBases.map((run) => run.histograms.latency))),
          color: BASE_COLOR,
        },
        { label: "candidate", values: spectrum(cand.histograms.latency), color: CANDIDATE_COLOR },
      ],
    };
    return {
      id: `cmp${index}`,
      title: comparison.sections.length > 1 ? section.label : "Comparison",
      blocks: [
        { html: rowsTable(section.rows) },
        { chart: spectrumChart },
        {
          chart: timeChart(`cmp${index}-time`, [
            { label: "baseline", result: (runBases[0] as RunWithHistograms).result, color: BASE_COLOR },
            { label: "candidate", result: cand.result, color: CANDIDATE_COLOR },
          ]),
        },
      ],
    };
  });
  const summary = regressed
    ? `<ul>${comparison.regressions.map((line) => `<li>${escapeHtml(line)}</li>`).join("")}</ul>`
    : "";
  const notes = comparison.notes.map((note) => `<p class="note">${escapeHtml(note)}</p>`).join("");
  return {
    title: `Comparison: ${comparison.candidateSource}`,
    subtitle:
      `against ${escapeHtml(comparison.baseSources.join(", "))}: ` +
      (regressed
        ? `<span class="level-critical" data-field="result">REGRESSION (${comparison.regressions.length})</span>`
        : `<span class="level-target" data-field="result">no regression</span>`),
    sections: [
      ...(summary || notes
        ? [{ id: "cmp-summary", title: "Result", blocks: [{ html: summary + notes }] }]
        : []),
      ...sections,
    ],
  };
}

/** The trend chart shows a test's newest runs, at most this many. */
const HISTORY_CHART_RUNS = 50;

/** `history --html`: the runs as a table, and per test a trend chart (P50, P95, block rate). */
export function historyPage(
  entries: readonly ArchiveEntry[],
  trends: readonly Trend[],
  lastRuns: number,
): PageSpec {
  const head = [
    "run id",
    "started",
    "test",
    "labels",
    "commit",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "blocked",
    "errors",
    "verdict",
  ]
    .map((name) => `<th class="text">${name}</th>`)
    .join("");
  const rows = entries
    .map(({ meta }) => {
      const run = meta.runs[meta.runs.length - 1];
      if (!run) return "";
      const share = (count: number): string =>
        run.completed === 0 ? "n/a" : `${Number(((count / run.completed) * 100).toFixed(2))}%`;
      const cells = [
        meta.runId,
        meta.startedAt.replace("T", " ").slice(0, 19),
        `${meta.test.name === undefined ? "" : `${meta.test.name}: `}${meta.test.target}${meta.test.path} ${meta.test.category}`,
        Object.entries(meta.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(", "),
        meta.git ? `${meta.git.commit.slice(0, 10)}${meta.git.dirty ? "+" : ""}` : "",
        String(run.p50Ms),
        String(run.p95Ms),
        String(run.p99Ms),
        share(run.blocked),
        share(run.errors),
        meta.interrupted ? `${run.verdict} (interrupted)` : run.verdict,
      ];
      return `<tr data-run-id="${escapeHtml(meta.runId)}">${cells.map((c) => `<td class="text">${escapeHtml(c)}</td>`).join("")}</tr>`;
    })
    .join("");
  const groups = new Map<string, ArchiveEntry[]>();
  for (const entry of entries) {
    if (entry.meta.interrupted) continue;
    const key = testKey(entry.meta);
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const trendSections: SectionSpec[] = [...groups.entries()].map(([key, group], index) => {
    const window = group.slice(0, HISTORY_CHART_RUNS).reverse();
    const last = (entry: ArchiveEntry) => entry.meta.runs[entry.meta.runs.length - 1];
    const found = trends.filter((trend) => trend.test === key);
    return {
      id: `trend${index}`,
      title: key,
      blocks: [
        {
          html: found.length
            ? `<ul>${found.map((trend) => `<li class="level-degraded" data-trend="${trend.kind}">${escapeHtml(trend.message)}</li>`).join("")}</ul>`
            : `<p class="note">No trend in the last ${lastRuns} finished runs.</p>`,
        },
        {
          chart: {
            id: `trend${index}-chart`,
            title: `P50 and P95 per run (up to the ${HISTORY_CHART_RUNS} newest, oldest first), block rate on the right`,
            x: { label: "run (oldest to newest)", kind: "linear", values: window.map((_, k) => k + 1) },
            y: { label: "latency (ms)", min: 0 },
            y2: { label: "block rate (%)" },
            series: [
              { label: "P50", values: window.map((e) => last(e)?.p50Ms ?? null), color: "#1a7f37" },
              { label: "P95", values: window.map((e) => last(e)?.p95Ms ?? null), color: "#bf8700" },
              {
                label: "block rate %",
                values: window.map((e) => {
                  const run = last(e);
                  return run && run.completed > 0 ? (run.blocked / run.completed) * 100 : null;
                }),
                color: "#8250df",
                dash: true,
                scale: "y2",
              },
            ],
          },
        },
      ],
    };
  });
  return {
    title: "Archived runs",
    subtitle: `${entries.length} runs, newest first; trends over the last ${lastRuns} finished runs of each test`,
    sections: [
      {
        id: "runs",
        title: "Runs",
        blocks: [{ html: `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>` }],
      },
      ...trendSections,
    ],
  };
}
