import type * as hdr from "hdr-histogram-js";
import type { RunResult } from "../metrics/result.js";
import { decodeRuns, type LoadedResults, type RunWithHistograms } from "../metrics/results-file.js";
import { pooled, quantileEstimate, type QuantileEstimate } from "./quantile.js";
import { latencyNoiseFloorMs } from "./noise.js";
import { DEFAULT_COMPARE_OPTIONS, type CompareOptions } from "./options.js";

export { DEFAULT_COMPARE_OPTIONS, type CompareOptions };
import { proportionChange } from "./proportion.js";

/**
 * Comparing a candidate run with one or more baseline runs of the same test (docs/COMPARE.md):
 * a row per metric with the change and a judgement that respects noise, and the regressions
 * that fail a build. Pure: files in, rows out; the CLI prints and picks the exit code.
 */

export type Judgement = "better" | "same" | "worse";

export interface CompareRow {
  /** "all" or a category name. */
  scope: string;
  /** "P50", "P95", "P99", "P99.9", "throughput", "error rate", "block rate", "correctness". */
  metric: string;
  unit: "ms" | "req/s" | "ratio";
  /** The baselines pooled (histograms added, counts added); null when not measured. */
  base: number | null;
  /** With several baselines: the lowest and highest single baseline. */
  baseRange?: [number, number];
  candidate: number | null;
  /** (candidate − base) ÷ base; null when base is 0 or missing. */
  change: number | null;
  judgement: Judgement;
  /** Why the row was judged so: the interval, the noise floor, "errors appeared". */
  reason: string;
}

export interface CompareSection {
  /** "run", "step 2 (50 req/s)", `phase "ramp"`. */
  label: string;
  rows: CompareRow[];
}

export interface Comparison {
  baseSources: string[];
  candidateSource: string;
  sections: CompareSection[];
  /** One sentence per worse row: what regressed, by how much. Empty: no regression. */
  regressions: string[];
  /** Things the reader should know (interrupted runs, different rates, untrustworthy generator). */
  notes: string[];
}

/** Files that do not hold the same test; the message is the one line the CLI prints (exit 2). */
export class IncompatibleResultsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IncompatibleResultsError";
  }
}

const PERCENTILES: ReadonlyArray<[string, number]> = [
  ["P50", 50],
  ["P95", 95],
  ["P99", 99],
  ["P99.9", 99.9],
];

/** What makes two results the same test: same kind, schema, path, category choice, categories. */
function checkCompatible(base: LoadedResults, candidate: LoadedResults): void {
  const fail = (what: string): never => {
    throw new IncompatibleResultsError(`${base.source} and ${candidate.source} cannot be compared: ${what}`);
  };
  if (base.kind !== candidate.kind) fail(`different kinds of results (${base.kind} vs ${candidate.kind})`);
  if (base.schemaVersion !== candidate.schemaVersion)
    fail(`different schemaVersion (${base.schemaVersion} vs ${candidate.schemaVersion})`);
  if (base.runs.length !== candidate.runs.length)
    fail(
      `different number of ${base.kind === "ladder" ? "steps" : "phases"} (${base.runs.length} vs ${candidate.runs.length})`,
    );
  base.runs.forEach((run, index) => {
    const other = candidate.runs[index] as { label: string; result: RunResult };
    const where = base.kind === "run" ? "" : `${run.label}: `;
    if (run.label !== other.label) fail(`${run.label} vs ${other.label}`);
    const a = run.result;
    const b = other.result;
    if (a.path !== b.path) fail(`${where}different paths (${a.path} vs ${b.path})`);
    if (a.category !== b.category) fail(`${where}different categories (${a.category} vs ${b.category})`);
    const namesA = Object.keys(a.categories).sort().join(",");
    const namesB = Object.keys(b.categories).sort().join(",");
    if (namesA !== namesB) fail(`${where}different category mixes (${namesA} vs ${namesB})`);
    if (a.rate.closedLoop !== b.rate.closedLoop)
      fail(`${where}one is a closed loop (--rps max), the other is not`);
  });
}

/** Latency rows: noise from the percentile's own interval, the baselines' spread and the floor. */
function latencyRow(
  scope: string,
  metric: string,
  percentile: number,
  bases: readonly hdr.Histogram[],
  candidate: hdr.Histogram,
  floorMs: number,
  options: CompareOptions,
): CompareRow {
  const base = quantileEstimate(pooled(bases), percentile);
  const cand = quantileEstimate(candidate, percentile);
  const singles = bases.length > 1 ? bases.map((h) => quantileEstimate(h, percentile).valueMs) : [];
  const row: CompareRow = {
    scope,
    metric,
    unit: "ms",
    base: base.count > 0 ? base.valueMs : null,
    candidate: cand.count > 0 ? cand.valueMs : null,
    change:
      base.count > 0 && cand.count > 0 && base.valueMs > 0
        ? (cand.valueMs - base.valueMs) / base.valueMs
        : null,
    judgement: "same",
    reason: "",
  };
  if (singles.length > 0) row.baseRange = [Math.min(...singles), Math.max(...singles)];
  if (base.count === 0 || cand.count === 0) {
    row.reason = "not measured in both";
    return row;
  }
  row.reason = judgeLatency(base, cand, row.baseRange, floorMs, options, (j) => (row.judgement = j));
  return row;
}

const formatMs = (valueMs: number): string => (valueMs === Infinity ? "∞" : `${Number(valueMs.toFixed(3))}`);

/** Sets the judgement through `set` and returns why (docs/COMPARE.md "How noise is judged"). */
function judgeLatency(
  base: QuantileEstimate,
  cand: QuantileEstimate,
  range: [number, number] | undefined,
  floorMs: number,
  options: CompareOptions,
  set: (judgement: Judgement) => void,
): string {
  const deltaMs = cand.valueMs - base.valueMs;
  const relative = base.valueMs > 0 ? Math.abs(deltaMs) / base.valueMs : Infinity;
  const interval = `95% intervals ${formatMs(base.lowMs)}..${formatMs(base.highMs)} vs ${formatMs(cand.lowMs)}..${formatMs(cand.highMs)} ms`;
  const rising = deltaMs > 0;
  const separated = rising ? cand.lowMs > base.highMs : cand.highMs < base.lowMs;
  if (!separated) return `within noise (${interval} overlap)`;
  if (Math.abs(deltaMs) <= floorMs)
    return `within noise (|Δ| ${formatMs(Math.abs(deltaMs))} ms ≤ floor ${formatMs(floorMs)} ms)`;
  if (relative <= options.maxRegression)
    return `within tolerance (${(relative * 100).toFixed(1)}% ≤ ${(options.maxRegression * 100).toFixed(0)}%)`;
  if (range) {
    const spread = range[1] - range[0];
    const outside = rising ? cand.valueMs > range[1] + spread : cand.valueMs < range[0] - spread;
    if (!outside)
      return `within the baselines' spread (${formatMs(range[0])}..${formatMs(range[1])} ms, ± ${formatMs(spread)} ms)`;
  }
  set(rising ? "worse" : "better");
  return `${interval} apart, beyond floor and tolerance`;
}

interface Counts {
  completed: number;
  error: number;
  blocked: number;
  matched: number;
}

function countsOf(result: RunResult, scope: string): Counts | undefined {
  if (scope === "all") {
    const total = result.requests.total;
    return {
      completed: total,
      error: result.requests.error,
      blocked: result.requests.blocked,
      matched: total - result.requests.unexpected,
    };
  }
  const category = result.categories[scope];
  if (!category) return undefined;
  const completed = category.success + category.blocked + category.error;
  return {
    completed,
    error: category.error,
    blocked: category.blocked,
    matched: Math.round((category.correctness ?? 0) * completed),
  };
}

const sum = (counts: readonly Counts[]): Counts =>
  counts.reduce(
    (total, c) => ({
      completed: total.completed + c.completed,
      error: total.error + c.error,
      blocked: total.blocked + c.blocked,
      matched: total.matched + c.matched,
    }),
    { completed: 0, error: 0, blocked: 0, matched: 0 },
  );

/** Error rate, block rate and correctness of one scope. */
function proportionRows(scope: string, bases: readonly Counts[], cand: Counts): CompareRow[] {
  const base = sum(bases);
  const rows: CompareRow[] = [];
  const add = (
    metric: string,
    pick: (c: Counts) => number,
    direction: "lower" | "higher",
    appearing?: (baseCount: number, candCount: number) => string | undefined,
  ): void => {
    const baseRate = base.completed > 0 ? pick(base) / base.completed : null;
    const candRate = cand.completed > 0 ? pick(cand) / cand.completed : null;
    const row: CompareRow = {
      scope,
      metric,
      unit: "ratio",
      base: baseRate,
      candidate: candRate,
      change:
        baseRate !== null && candRate !== null && baseRate > 0 ? (candRate - baseRate) / baseRate : null,
      judgement: "same",
      reason: "",
    };
    if (bases.length > 1) {
      const singles = bases.filter((c) => c.completed > 0).map((c) => pick(c) / c.completed);
      if (singles.length > 0) row.baseRange = [Math.min(...singles), Math.max(...singles)];
    }
    if (baseRate === null || candRate === null) {
      row.reason = "not measured in both";
      rows.push(row);
      return;
    }
    const appeared = appearing?.(pick(base), pick(cand));
    if (appeared) {
      row.judgement = "worse";
      row.reason = appeared;
      rows.push(row);
      return;
    }
    const test = proportionChange(pick(base), base.completed, pick(cand), cand.completed);
    if (!test.significant) row.reason = `within noise (z = ${test.z.toFixed(2)}, |z| ≤ 1.96)`;
    else {
      const up = candRate > baseRate;
      const good = direction === "lower" ? !up : up;
      row.judgement = good ? "better" : "worse";
      row.reason = `z = ${test.z.toFixed(2)}: beyond sampling noise`;
    }
    rows.push(row);
  };
  add(
    "error rate",
    (c) => c.error,
    "lower",
    (b, c) => (b === 0 && c > 0 ? `errors appeared (${c})` : undefined),
  );
  add("block rate", (c) => c.blocked, "higher");
  const blockRow = rows[rows.length - 1] as CompareRow;
  if (blockRow.judgement === "better") {
    // More blocks are no improvement in themselves: wrongly blocked requests show in correctness.
    blockRow.judgement = "same";
    blockRow.reason = `rose (${blockRow.reason}); judged by correctness`;
  }
  add(
    "correctness",
    (c) => c.matched,
    "higher",
    (b, c) => {
      const baseWrong = base.completed - b;
      const candWrong = cand.completed - c;
      return baseWrong === 0 && candWrong > 0 ? `unexpected outcomes appeared (${candWrong})` : undefined;
    },
  );
  return rows;
}

function throughputRow(bases: readonly RunResult[], cand: RunResult, options: CompareOptions): CompareRow {
  // Open loop: achieved ÷ asked, so runs at different rates compare; a closed loop has no asked rate.
  const closed = cand.rate.closedLoop;
  const measure = (r: RunResult): number =>
    closed ? r.rate.achievedPerSec : r.rate.achievedPerSec / r.rate.targetPerSec;
  const singles = bases.map(measure);
  const baseValue = singles.reduce((a, b) => a + b, 0) / singles.length;
  const candValue = measure(cand);
  const scale = (value: number): number => (closed ? value : value * cand.rate.targetPerSec);
  const row: CompareRow = {
    scope: "all",
    metric: "throughput",
    unit: "req/s",
    base: Number(scale(baseValue).toFixed(2)),
    candidate: cand.rate.achievedPerSec,
    change: baseValue > 0 ? (candValue - baseValue) / baseValue : null,
    judgement: "same",
    reason: closed ? "achieved rate" : "achieved ÷ asked rate",
  };
  if (singles.length > 1) row.baseRange = [scale(Math.min(...singles)), scale(Math.max(...singles))];
  if (row.change === null) return row;
  const spread = singles.length > 1 ? Math.max(...singles) - Math.min(...singles) : 0;
  if (Math.abs(row.change) > options.maxRegression && Math.abs(candValue - baseValue) > spread) {
    row.judgement = row.change < 0 ? "worse" : "better";
    row.reason += `: beyond ${(options.maxRegression * 100).toFixed(0)}% tolerance`;
  } else row.reason += ": within tolerance";
  return row;
}

function compareRun(
  label: string,
  bases: readonly RunWithHistograms[],
  cand: RunWithHistograms,
  options: CompareOptions,
): CompareSection {
  const rows: CompareRow[] = [];
  const scopes = ["all", ...Object.keys(cand.result.categories)];
  const ownSendLags = [...bases, cand].map((run) => run.histograms.ownSendLag);
  for (const scope of scopes) {
    for (const [metric, percentile] of PERCENTILES) {
      const histogramOf = (run: RunWithHistograms): hdr.Histogram | undefined =>
        scope === "all" ? run.histograms.latency : run.histograms.latencyByCategory[scope];
      const candHistogram = histogramOf(cand);
      const baseHistograms = bases.map(histogramOf).filter((h): h is hdr.Histogram => h !== undefined);
      if (!candHistogram || baseHistograms.length === 0) continue;
      const floorMs = latencyNoiseFloorMs(ownSendLags, percentile, options.minChangeMs);
      rows.push(latencyRow(scope, metric, percentile, baseHistograms, candHistogram, floorMs, options));
    }
    if (scope === "all")
      rows.push(
        throughputRow(
          bases.map((b) => b.result),
          cand.result,
          options,
        ),
      );
    const candCounts = countsOf(cand.result, scope);
    const baseCounts = bases
      .map((b) => countsOf(b.result, scope))
      .filter((c): c is Counts => c !== undefined);
    if (candCounts && baseCounts.length > 0) rows.push(...proportionRows(scope, baseCounts, candCounts));
  }
  return { label, rows };
}

const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(1))}%`;

function regressionSentence(section: CompareSection, row: CompareRow, kind: LoadedResults["kind"]): string {
  const where = `${kind === "run" ? "" : `${section.label}: `}${row.scope === "all" ? "" : `${row.scope} `}${row.metric}`;
  const show = (value: number | null): string =>
    value === null
      ? "n/a"
      : row.unit === "ratio"
        ? percent(value)
        : row.unit === "ms"
          ? `${value} ms`
          : `${value} req/s`;
  const change = row.change === null ? "" : ` (${row.change > 0 ? "+" : ""}${percent(row.change)})`;
  return `${where}: ${show(row.base)} -> ${show(row.candidate)}${change}, ${row.reason}`;
}

/**
 * Compares `candidate` with `bases` (one or more runs of the same test). Throws
 * IncompatibleResultsError when they are not the same test, and MissingHistogramsError /
 * InvalidHistogramError (metrics/result-histograms.ts) when a file has no usable histograms.
 */
export function compareResults(
  bases: readonly LoadedResults[],
  candidate: LoadedResults,
  options: CompareOptions = DEFAULT_COMPARE_OPTIONS,
): Comparison {
  if (bases.length === 0) throw new IncompatibleResultsError("compare: no baseline given");
  for (const base of bases) checkCompatible(base, candidate);
  const decodedBases = bases.map(decodeRuns);
  const decodedCandidate = decodeRuns(candidate);
  const notes: string[] = [];
  for (const file of [...bases, candidate]) {
    if (file.interrupted) notes.push(`${file.source} was interrupted: it covers only the part that ran`);
    for (const run of file.runs) {
      if (!run.result.generator.trustworthy)
        notes.push(
          `${file.source}${file.kind === "run" ? "" : `, ${run.label}`}: the generator could not keep its schedule (not trustworthy); its own lateness widens the noise floor`,
        );
    }
  }
  const sections = decodedCandidate.map((cand, index) => {
    const runBases = decodedBases.map((runs) => runs[index] as RunWithHistograms);
    const rates = new Set(runBases.map((b) => b.result.rate.targetPerSec));
    if (!rates.has(cand.result.rate.targetPerSec) || rates.size > 1)
      notes.push(
        `${cand.label}: asked rates differ (${[...rates].join(", ")} vs ${cand.result.rate.targetPerSec} req/s): throughput is compared as achieved ÷ asked`,
      );
    return compareRun(cand.label, runBases, cand, options);
  });
  const regressions = sections.flatMap((section) =>
    section.rows
      .filter((row) => row.judgement === "worse")
      .map((row) => regressionSentence(section, row, candidate.kind)),
  );
  return {
    baseSources: bases.map((b) => b.source),
    candidateSource: candidate.source,
    sections,
    regressions,
    notes,
  };
}
