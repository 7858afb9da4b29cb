import type { Comparison, CompareRow } from "./compare.js";

/** The comparison as the terminal shows it: one table per run, regressions, the answer. */

const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(2))}%`;

function cell(row: CompareRow, value: number | null): string {
  if (value === null) return "n/a";
  if (row.unit === "ratio") return percent(value);
  if (row.unit === "ms") return `${Number(value.toFixed(3))} ms`;
  return `${Number(value.toFixed(1))}/s`;
}

function baseCell(row: CompareRow): string {
  const base = cell(row, row.base);
  if (!row.baseRange) return base;
  return `${base} [${cell(row, row.baseRange[0])}..${cell(row, row.baseRange[1])}]`;
}

function changeCell(row: CompareRow): string {
  if (row.change === null) {
    if (row.base === 0 && row.candidate !== null && row.candidate > 0) return "new";
    return "";
  }
  return `${row.change > 0 ? "+" : ""}${Number((row.change * 100).toFixed(1))}%`;
}

function table(rows: readonly string[][]): string {
  const widths = (rows[0] as string[]).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows
    .map((row) =>
      row
        .map((text, column) => (column === row.length - 1 ? text : text.padEnd(widths[column] as number)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatComparison(comparison: Comparison): string {
  const lines: string[] = [];
  const baseline =
    comparison.baseSources.length === 1
      ? comparison.baseSources[0]
      : `${comparison.baseSources.length} baselines (${comparison.baseSources.join(", ")}; pooled, [lowest..highest])`;
  lines.push(`Comparison: ${comparison.candidateSource} against ${baseline}`);
  for (const section of comparison.sections) {
    lines.push("");
    if (comparison.sections.length > 1) lines.push(section.label);
    const rows = [["scope", "metric", "base", "candidate", "change", "judgement", "why"]];
    for (const row of section.rows) {
      rows.push([
        row.scope,
        row.metric,
        baseCell(row),
        cell(row, row.candidate),
        changeCell(row),
        row.judgement,
        row.reason,
      ]);
    }
    lines.push(table(rows));
  }
  if (comparison.notes.length > 0) lines.push("");
  for (const note of comparison.notes) lines.push(`note: ${note}`);
  lines.push("");
  if (comparison.regressions.length === 0) lines.push("Result: no regression (same or better within noise)");
  else {
    lines.push(`Result: REGRESSION (${comparison.regressions.length})`);
    for (const regression of comparison.regressions) lines.push(`  - ${regression}`);
  }
  return lines.join("\n");
}
