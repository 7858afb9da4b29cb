import type { ArchiveEntry, Trend } from "./history.js";

/** `load-test history` as the terminal shows it: the runs newest first, then the trends. */

const percent = (count: number, total: number): string =>
  total === 0 ? "n/a" : `${Number(((count / total) * 100).toFixed(2))}%`;

function table(rows: readonly string[][]): string {
  const widths = (rows[0] as string[]).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows
    .map((row) =>
      row
        .map((text, column) => text.padEnd(widths[column] as number))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatHistory(
  entries: readonly ArchiveEntry[],
  trends: readonly Trend[],
  lastRuns: number,
): string {
  if (entries.length === 0) return "No archived runs (run with --archive DIR to keep them).";
  const rows = [
    [
      "run id",
      "started",
      "test",
      "labels",
      "commit",
      "rate/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "errors",
      "blocked",
      "correct",
      "verdict",
    ],
  ];
  for (const { meta } of entries) {
    // A ladder or a profile's phases: its last step or phase, the heaviest.
    const run = meta.runs[meta.runs.length - 1];
    if (!run) continue;
    const steps = meta.runs.length > 1 ? ` (${run.label} of ${meta.runs.length})` : "";
    rows.push([
      meta.runId,
      meta.startedAt.replace("T", " ").slice(0, 19),
      `${meta.test.name === undefined ? "" : `${meta.test.name}: `}${meta.test.target}${meta.test.path} ${meta.test.category}${steps}`,
      Object.entries(meta.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "-",
      meta.git ? `${meta.git.commit.slice(0, 10)}${meta.git.dirty ? "+" : ""}` : "-",
      `${run.ratePerSec}`,
      `${run.p50Ms}`,
      `${run.p95Ms}`,
      `${run.p99Ms}`,
      percent(run.errors, run.completed),
      percent(run.blocked, run.completed),
      percent(run.completed - run.unexpected, run.completed),
      meta.interrupted ? `${run.verdict} (interrupted)` : run.verdict,
    ]);
  }
  const lines = [table(rows)];
  lines.push("");
  if (trends.length === 0) lines.push(`Trends (last ${lastRuns} finished runs of each test): none`);
  else {
    lines.push(`Trends (last ${lastRuns} finished runs of each test):`);
    for (const trend of trends)
      lines.push(`  - ${trend.test}${trend.label === "run" ? "" : `, ${trend.label}`}: ${trend.message}`);
  }
  return lines.join("\n");
}
