import type * as hdr from "hdr-histogram-js";
import { TARGET_TABLE } from "../../evaluate/methodology.js";
import type { DecodedHistograms } from "../../metrics/result-histograms.js";
import type { LatencySummaryMs, Level, RunResult, StageResult } from "../../metrics/result.js";
import { describeConnections } from "../../transport/describe.js";
import { monitorBlocks } from "./monitor-view.js";
import { escapeHtml, type Block, type ChartSpec, type SectionSpec } from "./page.js";

/**
 * One run as page sections (docs/REPORTS.md "A run"): header, Results Interpretation, charts
 * over time on one axis, percentile spectra from the histograms, and the tables. Pure: the same
 * result gives the same HTML, so a report built from a results file equals the one written by
 * the run itself.
 */

export const COLORS = {
  asked: "#57606a",
  achieved: "#0969da",
  sent: "#8250df",
  p50: "#1a7f37",
  p95: "#bf8700",
  p99: "#cf222e",
  success: "#1a7f37",
  blocked: "#8250df",
  error: "#cf222e",
  inFlight: "#0969da",
  serviceTime: "#0969da",
  sendLag: "#bf8700",
  ownSendLag: "#57606a",
  targetBand: "rgba(26,127,55,0.08)",
  degradedBand: "rgba(191,135,0,0.12)",
  saturation: "#cf222e",
} as const;

const CATEGORY_COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#57606a"];

const LEVEL_MARK: Record<Level, string> = { target: "✅", degraded: "⚠️", critical: "❌" };

export function levelHtml(level: Level): string {
  return `<span class="level-${level}">${LEVEL_MARK[level]} ${level}</span>`;
}

/** A number as the results file holds it (the tables show the file's values exactly). */
const exact = (value: number): string => String(value);
/** A measured ratio or rate for reading: six significant digits, not float noise. */
const readable = (value: number): string => String(Number(value.toPrecision(6)));
const num = (value: number, digits = 2): string => String(Number(value.toFixed(digits)));
const pct = (ratio: number | null): string => (ratio === null ? "n/a" : `${num(ratio * 100, 3)}%`);

/** A base URL as it may be shown: never with user:password, query or fragment. */
export function safeTarget(target: string): string {
  try {
    const url = new URL(target);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString().replace(/\/$/, "");
  } catch {
    return target.replace(/\/\/[^@/]*@/, "//");
  }
}

function td(text: string, field?: string, kind: "num" | "text" = "num"): string {
  const attrs = `${kind === "text" ? ' class="text"' : ""}${field ? ` data-field="${escapeHtml(field)}"` : ""}`;
  return `<td${attrs}>${text}</td>`;
}

function table(head: string[], rows: string[][], textColumns = 1): string {
  const th = head
    .map((cell, k) => `<th${k < textColumns ? ' class="text"' : ""}>${escapeHtml(cell)}</th>`)
    .join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${rows.map((row) => `<tr>${row.join("")}</tr>`).join("")}</tbody></table>`;
}

function facts(entries: Array<[string, string]>): string {
  return `<dl class="facts">${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

const SUMMARY_KEYS: Array<keyof LatencySummaryMs> = [
  "min",
  "mean",
  "p50",
  "p90",
  "p95",
  "p99",
  "p999",
  "max",
];

/** The asked rate during second t (its middle), from the stages or the constant rate. */
function askedAt(result: RunResult, t: number): number | null {
  if (result.rate.closedLoop) return null;
  const stages = result.stages;
  if (!stages || stages.length === 0) return result.rate.targetPerSec;
  const mid = t + 0.5;
  const stage: StageResult | undefined =
    stages.find((s) => mid >= s.startSec && mid < s.endSec) ?? stages[stages.length - 1];
  if (!stage) return null;
  const span = stage.endSec - stage.startSec;
  const share = span > 0 ? Math.min(1, Math.max(0, (mid - stage.startSec) / span)) : 1;
  return stage.fromPerSec + (stage.toPerSec - stage.fromPerSec) * share;
}

/** x = 1/(1−p) from p = 0 to 99.99%, ten points per decade (HdrHistogram's percentile spectrum). */
export const SPECTRUM_X: readonly number[] = Array.from({ length: 41 }, (_, k) => 10 ** (k / 10));

/** A histogram's values (ms) along SPECTRUM_X; null where it holds nothing. */
export function spectrum(histogram: hdr.Histogram): Array<number | null> {
  if (histogram.totalCount === 0) return SPECTRUM_X.map(() => null);
  const maxUs = histogram.maxValue;
  return SPECTRUM_X.map((x) => {
    const percentile = Math.min(100, (1 - 1 / x) * 100);
    return Math.round(Math.min(histogram.getValueAtPercentile(percentile), maxUs)) / 1000;
  });
}

export interface RunViewOptions {
  /** Unique prefix for the section and chart ids of this run on the page. */
  idPrefix: string;
  title: string;
  /** Decoded histograms; absent for files from before load-test kept them, and while live. */
  histograms?: DecodedHistograms;
  /** Why there are no histograms, shown instead of the spectra. */
  histogramsMissing?: string;
  /** Labels of the run (profile `labels`, `--label`): shown in the header. */
  labels?: Record<string, string>;
  /** Live view: the run is still going. */
  live?: boolean;
}

/** The sections of one run. */
export function runSections(result: RunResult, options: RunViewOptions): SectionSpec[] {
  const id = (name: string): string => `${options.idPrefix}${name}`;
  return [
    { id: id("summary"), title: options.title, blocks: [{ html: headerHtml(result, options) }] },
    {
      id: id("interpretation"),
      title: `Results Interpretation: ${result.verdict.level.toUpperCase()}`,
      blocks: [{ html: interpretationHtml(result) }],
    },
    { id: id("over-time"), title: "Over time", blocks: timeCharts(result, id) },
    ...targetSection(result, id),
    {
      id: id("distribution"),
      title: "Latency distribution",
      blocks: distributionBlocks(result, options, id),
    },
    { id: id("categories"), title: "Categories", blocks: [{ html: categoriesHtml(result) }] },
    { id: id("errors"), title: "Errors", blocks: [{ html: errorsHtml(result) }] },
    { id: id("connections"), title: "Connections", blocks: [{ html: connectionsHtml(result) }] },
    { id: id("generator"), title: "Generator health", blocks: [{ html: generatorHtml(result) }] },
  ];
}

function headerHtml(result: RunResult, options: RunViewOptions): string {
  const { rate, requests } = result;
  const mix = Object.entries(result.categories)
    .map(([name, category]) => {
      const share = requests.total > 0 ? ` (${num((category.requests / requests.total) * 100, 1)}%)` : "";
      return `${escapeHtml(name)} ${category.requests}${share}`;
    })
    .join(", ");
  const state = options.live
    ? " (running)"
    : `${result.interrupted ? " (interrupted)" : ""}${result.aborted ? " (aborted)" : ""}`;
  const entries: Array<[string, string]> = [
    ["Target", `<code data-field="target">${escapeHtml(safeTarget(result.target) + result.path)}</code>`],
    ["Started", escapeHtml(result.startedAt)],
    ["Duration", `<span data-field="durationSec">${num(result.durationSec, 2)}</span> s${state}`],
    [
      "Rate",
      rate.closedLoop
        ? `closed loop (${result.generator.workers} in flight): <span data-field="rate.achievedPerSec">${num(rate.achievedPerSec, 1)}</span> req/s achieved`
        : `<span data-field="rate.targetPerSec">${exact(rate.targetPerSec)}</span> req/s asked, ` +
          `<span data-field="rate.achievedPerSec">${num(rate.achievedPerSec, 1)}</span> req/s achieved (sent ${num(rate.sentPerSec, 1)})`,
    ],
    [
      "Requests",
      `<span data-field="requests.total">${requests.total}</span> completed: ` +
        `<span data-field="requests.success">${requests.success}</span> success, ` +
        `<span data-field="requests.blocked">${requests.blocked}</span> blocked, ` +
        `<span data-field="requests.error">${requests.error}</span> error ` +
        `(${requests.dropped} dropped, ${requests.unexpected} unexpected)`,
    ],
    ["Category", `${escapeHtml(result.category)}: ${mix || "none completed"}`],
    ["Correctness", pct(result.correctness)],
    ["Verdict", `<span data-field="verdict.level">${levelHtml(result.verdict.level)}</span>`],
  ];
  const labels = Object.entries(options.labels ?? {});
  if (labels.length > 0)
    entries.push(["Labels", labels.map(([k, v]) => `${escapeHtml(k)}=${escapeHtml(v)}`).join(", ")]);
  const latency = table(
    ["(ms)", ...SUMMARY_KEYS],
    (
      [
        ["latency", "latencyMs", result.latencyMs],
        ["service time", "serviceTimeMs", result.serviceTimeMs],
        ["queue time", "queueTimeMs", result.queueTimeMs],
        ["send lag", "sendLagMs", result.sendLagMs],
      ] as const
    )
      // Files from older versions lack the summaries added since (queue time).
      .filter(([, , summary]) => summary !== undefined)
      .map(([label, field, summary]) => [
        td(escapeHtml(label), undefined, "text"),
        ...SUMMARY_KEYS.map((key) => td(exact(summary[key]), `${field}.${key}`)),
      ]),
  );
  const note = result.rate.closedLoop
    ? "Closed loop (--rps max): each request left when an answer freed its slot, so latency is service time."
    : "Latency counts from the intended send time (open loop, no coordinated omission): service time is from the write, send lag is how late the generator sent.";
  return facts(entries) + latency + `<p class="note">${escapeHtml(note)}</p>`;
}

function interpretationHtml(result: RunResult): string {
  const rows = result.verdict.checks.map((check) => [
    td(escapeHtml(check.name), undefined, "text"),
    td(check.value === null ? "n/a" : readable(check.value), `check.${check.name}`),
    td(escapeHtml(check.expected), undefined, "text"),
    td(levelHtml(check.level), undefined, "text"),
    td(escapeHtml(check.message), undefined, "text"),
  ]);
  const aborted = result.aborted
    ? `<p class="level-critical">❌ Stopped early: ${escapeHtml(result.aborted.reason)}</p>`
    : "";
  const warnings = [...result.verdict.warnings, ...result.transport.warnings];
  const warningHtml =
    warnings.length > 0
      ? `<h4>Warning Signs</h4><ul class="warnings">${warnings.map((w) => `<li>⚠️ ${escapeHtml(w)}</li>`).join("")}</ul>`
      : `<p class="note">No warning signs.</p>`;
  return (
    `<p>Overall: <strong data-field="verdict">${levelHtml(result.verdict.level)}</strong></p>` +
    aborted +
    table(["Check", "Measured", "Expected", "Level", "Finding"], rows, 1) +
    warningHtml
  );
}

/** The timeline's seconds the per-second charts show, and their shared cursor key. */
function chartSeconds(result: RunResult): number[] {
  // A last second the run covered for less than half (a 3.002 s run's second 3) would read as a
  // collapse of the rate; the per-second charts show the seconds the run covered.
  return result.timeline
    .filter((entry) => entry.t === 0 || entry.t + 0.5 <= result.durationSec)
    .map((entry) => entry.t);
}

/** `--monitor…`: the target's signals under the latency charts, on their time axis. */
function targetSection(result: RunResult, id: (name: string) => string): SectionSpec[] {
  const blocks = monitorBlocks(result, chartSeconds(result), id("time"), id);
  return blocks ? [{ id: id("target"), title: "Target", blocks }] : [];
}

function timeCharts(result: RunResult, id: (name: string) => string): Block[] {
  // A last second the run covered for less than half (a 3.002 s run's second 3) would read as a
  // collapse of the rate; the per-second charts show the seconds the run covered.
  const timeline = result.timeline.filter((entry) => entry.t === 0 || entry.t + 0.5 <= result.durationSec);
  if (timeline.length === 0) return [{ html: `<p class="note">No second was measured.</p>` }];
  const seconds = timeline.map((entry) => entry.t);
  const x = { label: "time since start (s)", kind: "seconds" as const, values: seconds };
  const sync = `${id("time")}`;
  // Requests in flight at the end of each second: sent so far minus completed so far.
  let sent = 0;
  let completed = 0;
  const inFlight = timeline.map((entry) => {
    sent += entry.sent;
    completed += entry.completed;
    return Math.max(0, sent - completed);
  });
  const sendLagKept = timeline.some((entry) => entry.sendLagMaxMs !== undefined);
  const p99 = TARGET_TABLE.latencyMs.find((row) => row.key === "p99");
  const latencyValues = (key: "p50" | "p95" | "p99"): Array<number | null> =>
    timeline.map((entry) => (entry.completed > 0 ? entry.latencyMs[key] : null));
  const charts: ChartSpec[] = [
    {
      id: id("chart-rate"),
      title: "Achieved vs asked rate",
      x,
      y: { label: "req/s" },
      series: [
        ...(result.rate.closedLoop
          ? []
          : [
              {
                label: "asked",
                values: seconds.map((t) => askedAt(result, t)),
                color: COLORS.asked,
                dash: true,
              },
            ]),
        { label: "sent", values: timeline.map((e) => e.sent), color: COLORS.sent },
        { label: "achieved (completed)", values: timeline.map((e) => e.completed), color: COLORS.achieved },
      ],
      sync,
    },
    {
      id: id("chart-latency"),
      title: "Latency per second (from the intended send time)",
      x,
      y: { label: "latency (ms)" },
      series: [
        { label: "p50", values: latencyValues("p50"), color: COLORS.p50 },
        { label: "p95", values: latencyValues("p95"), color: COLORS.p95 },
        { label: "p99", values: latencyValues("p99"), color: COLORS.p99 },
      ],
      bands: p99
        ? [
            {
              fromY: 0,
              toY: p99.targetBelowMs,
              label: `P99 target: < ${p99.targetBelowMs} ms`,
              color: COLORS.targetBand,
            },
            {
              fromY: p99.targetBelowMs,
              toY: p99.degradedUpToMs,
              label: `P99 degraded: ${p99.targetBelowMs}-${p99.degradedUpToMs} ms`,
              color: COLORS.degradedBand,
            },
          ]
        : [],
      sync,
    },
    {
      id: id("chart-outcomes"),
      title: "Outcomes per second",
      x,
      y: { label: "responses/s" },
      series: [
        { label: "success", values: timeline.map((e) => e.success), color: COLORS.success },
        { label: "blocked", values: timeline.map((e) => e.blocked), color: COLORS.blocked },
        { label: "error", values: timeline.map((e) => e.error), color: COLORS.error },
      ],
      sync,
    },
    sendLagKept
      ? {
          id: id("chart-inflight"),
          title: "Send lag (largest per second) and requests in flight (end of each second)",
          x,
          y: { label: "send lag (ms)" },
          y2: { label: "requests in flight" },
          series: [
            {
              label: "send lag max",
              values: timeline.map((e) => e.sendLagMaxMs ?? null),
              color: COLORS.sendLag,
            },
            { label: "in flight", values: inFlight, color: COLORS.inFlight, scale: "y2" as const },
          ],
          sync,
        }
      : {
          id: id("chart-inflight"),
          title: "Requests in flight (end of each second)",
          x,
          y: { label: "requests" },
          series: [{ label: "in flight", values: inFlight, color: COLORS.inFlight }],
          sync,
        },
  ];
  return [
    ...charts.map((chart) => ({ chart })),
    ...(sendLagKept
      ? []
      : [
          {
            html:
              `<p class="note">This result has no send lag per second (written by an older load-test); its distribution is below, ` +
              `and its median, p99 and maximum are in Generator health (p99 ${exact(result.sendLagMs.p99)} ms, max ${exact(result.sendLagMs.max)} ms).</p>`,
          },
        ]),
  ];
}

function distributionBlocks(
  result: RunResult,
  options: RunViewOptions,
  id: (name: string) => string,
): Block[] {
  const histograms = options.histograms;
  if (!histograms) {
    const why = options.live
      ? "The percentile distribution is drawn from the run's full histograms when the run ends."
      : (options.histogramsMissing ?? "This result has no histograms.");
    return [{ html: `<p class="note" data-field="no-histograms">${escapeHtml(why)}</p>` }];
  }
  const x = { label: "percentile", kind: "percentile" as const, values: [...SPECTRUM_X] };
  const blocks: Block[] = [
    {
      chart: {
        id: id("chart-spectrum"),
        title: "Percentile spectrum: latency, service time, send lag",
        x,
        y: { label: "ms", log: false },
        series: [
          { label: "latency", values: spectrum(histograms.latency), color: COLORS.p99 },
          { label: "service time", values: spectrum(histograms.serviceTime), color: COLORS.serviceTime },
          { label: "send lag", values: spectrum(histograms.sendLag), color: COLORS.sendLag },
        ],
      },
    },
  ];
  const categories = Object.entries(histograms.latencyByCategory).filter(([, h]) => h.totalCount > 0);
  if (categories.length > 0) {
    blocks.push({
      chart: {
        id: id("chart-spectrum-categories"),
        title: "Percentile spectrum of latency per category",
        x,
        y: { label: "latency (ms)" },
        series: categories.map(([name, histogram], k) => ({
          label: name,
          values: spectrum(histogram),
          color: CATEGORY_COLORS[k % CATEGORY_COLORS.length] as string,
        })),
      },
    });
  }
  void result;
  return blocks;
}

function categoriesHtml(result: RunResult): string {
  const rows = Object.entries(result.categories).map(([name, c]) => [
    td(escapeHtml(name), undefined, "text"),
    td(String(c.requests), `categories.${name}.requests`),
    td(String(c.success)),
    td(String(c.blocked)),
    td(String(c.error)),
    td(pct(c.correctness)),
    td(exact(c.latencyMs.p50), `categories.${name}.latencyMs.p50`),
    td(exact(c.latencyMs.p95), `categories.${name}.latencyMs.p95`),
    td(exact(c.latencyMs.p99), `categories.${name}.latencyMs.p99`),
    td(exact(c.latencyMs.max)),
  ]);
  let html = table(
    [
      "category",
      "requests",
      "success",
      "blocked",
      "error",
      "correct",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "max ms",
    ],
    rows,
  );
  if (result.stages && result.stages.length > 0) {
    html +=
      "<h4>Stages</h4>" +
      table(
        ["stage", "asked/s", "achieved/s", "requests", "error", "correct", "p50 ms", "p95 ms", "p99 ms"],
        result.stages.map((s) => [
          td(
            `${s.index + 1}: ${num(s.startSec)}-${num(s.endSec)} s, ${num(s.fromPerSec)}→${num(s.toPerSec)}/s`,
            undefined,
            "text",
          ),
          td(num(s.askedPerSec, 1)),
          td(num(s.achievedPerSec, 1)),
          td(String(s.requests)),
          td(String(s.error)),
          td(pct(s.correctness)),
          td(exact(s.latencyMs.p50)),
          td(exact(s.latencyMs.p95)),
          td(exact(s.latencyMs.p99)),
        ]),
      );
  }
  if (result.coldStart) {
    const cold = result.coldStart;
    html +=
      `<h4>Cold start</h4><p>First ${cold.window} requests: p50 ${exact(cold.latencyMs.p50)} ms, p95 ${exact(cold.latencyMs.p95)} ms, ` +
      `p99 ${exact(cold.latencyMs.p99)} ms, max ${exact(cold.latencyMs.max)} ms (${cold.requests} completed, ${cold.error} errors)</p>`;
  }
  return html;
}

function errorsHtml(result: RunResult): string {
  const kinds = Object.entries(result.errors).sort((a, b) => b[1] - a[1]);
  if (kinds.length === 0) return `<p class="note">No errors.</p>`;
  let html = table(
    ["kind", "count"],
    kinds.map(([kind, count]) => [
      td(escapeHtml(kind), undefined, "text"),
      td(String(count), `errors.${kind}`),
    ]),
  );
  const details = Object.entries(result.transport.errors).sort((a, b) => b[1].count - a[1].count);
  if (details.length > 0) {
    html +=
      "<h4>Transport failures in detail</h4>" +
      table(
        ["kind.detail", "count", "reason"],
        details.map(([key, detail]) => [
          td(escapeHtml(key), undefined, "text"),
          td(String(detail.count)),
          td(escapeHtml(detail.reason), undefined, "text"),
        ]),
      );
  }
  return html;
}

function connectionsHtml(result: RunResult): string {
  // Files from older versions lack the retry counts added since.
  const transport = { ...result.transport, retried: result.transport.retried ?? { total: 0, byReason: {} } };
  const lines = describeConnections(transport, "").map((line) => line.trim());
  return `<ul>${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join("")}</ul>`;
}

function generatorHtml(result: RunResult): string {
  const g = result.generator;
  const trust = g.trustworthy
    ? `<span class="level-target">✅ trustworthy</span>`
    : `<span class="level-critical">❌ not trustworthy: the generator could not keep the schedule; latencies include its own delay</span>`;
  return (
    facts([
      ["Pacing", escapeHtml(result.rate.closedLoop ? "closed loop" : g.pacing)],
      ["Workers (in-flight cap)", String(g.workers)],
      ["Threads", String(g.threads)],
      ["Peak in flight", String(g.maxInFlight) + (g.threads > 1 ? " (peaks of each thread summed)" : "")],
      ["Verdict on the generator", trust],
    ]) +
    table(
      ["(ms)", "p50", "p99", "max"],
      (
        [
          ["event-loop delay", g.eventLoopDelayMs],
          ["own send lag", g.ownSendLagMs],
          [
            "send lag (with --workers waits)",
            { p50: result.sendLagMs.p50, p99: result.sendLagMs.p99, max: result.sendLagMs.max },
          ],
        ] as const
      ).map(([label, lag]) => [
        td(escapeHtml(label), undefined, "text"),
        td(exact(lag.p50)),
        td(exact(lag.p99)),
        td(exact(lag.max)),
      ]),
    )
  );
}
