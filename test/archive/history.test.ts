import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ArchiveMeta, ArchivedRunSummary } from "../../src/archive/archive.js";
import { archiveTrends, kendallTau, readArchive, type ArchiveEntry } from "../../src/archive/history.js";

/**
 * The trend rules of `load-test history` (docs/COMPARE.md "History and trends") on series whose
 * shape is the point of each case; test/cli/cli-compare.test.ts builds archives from
 * real runs.
 */

function entry(
  index: number,
  run: Partial<ArchivedRunSummary>,
  meta: Partial<ArchiveMeta> = {},
): ArchiveEntry {
  const summary: ArchivedRunSummary = {
    label: "run",
    ratePerSec: 100,
    completed: 1000,
    errors: 0,
    blocked: 200,
    unexpected: 0,
    achievedPerSec: 100,
    p50Ms: 1,
    p95Ms: 2,
    p99Ms: 3,
    noiseFloorMs: { p50: 0.5, p95: 0.5 },
    verdict: "target",
    ...run,
  };
  return {
    dir: `archive/${index}`,
    meta: {
      archiveVersion: 1,
      runId: `run-${index}`,
      startedAt: `2026-12-0${index}T10:00:00.000Z`,
      endedAt: `2026-12-0${index}T10:01:00.000Z`,
      kind: "run",
      test: { target: "http://127.0.0.1:8080", path: "/v1/execute", category: "mixed", ratesPerSec: [100] },
      labels: {},
      toolVersion: "0.1.0",
      interrupted: false,
      files: { results: "results.json" },
      runs: [summary],
      ...meta,
    },
  };
}

/** Newest first, as readArchive returns them. */
const series = (runs: Array<Partial<ArchivedRunSummary>>): ArchiveEntry[] =>
  runs.map((run, index) => entry(index + 1, run)).reverse();

describe("archiveTrends", () => {
  it("finds P50 and P95 rising only when most pairs rise and the rise is beyond floor and tolerance", () => {
    const rising = archiveTrends(series([1, 2, 3, 4].map((p) => ({ p50Ms: p, p95Ms: 2 * p }))));
    expect(rising.map((trend) => trend.kind)).toEqual(["p50 rising", "p95 rising"]);
    // One slow run among steady ones: no trend (Kendall's tau is a rank statistic).
    expect(archiveTrends(series([1, 1.01, 5, 1.02].map((p) => ({ p50Ms: p }))))).toEqual([]);
    // Rising but within the noise floor: no trend.
    const tiny = series([1, 1.1, 1.2, 1.3].map((p) => ({ p50Ms: p, noiseFloorMs: { p50: 0.5, p95: 0.5 } })));
    expect(archiveTrends(tiny)).toEqual([]);
    expect(kendallTau([1, 2, 3])).toBe(1);
    expect(kendallTau([3, 2, 1])).toBe(-1);
  });

  it("finds errors appearing and the block rate drifting in the newest run", () => {
    const errors = archiveTrends(series([{}, {}, { errors: 3 }]));
    expect(errors.map((trend) => trend.message)).toEqual([
      "errors appearing: 3 in the newest run, none in the 2 before it",
    ]);
    const drift = archiveTrends(series([{}, {}, { blocked: 100 }]));
    expect(drift.map((trend) => trend.kind)).toEqual(["block rate drifting"]);
    expect(drift[0]?.message).toMatch(/^block rate drifting: 10% in the newest run, 20% in the 2 before it/);
    expect(archiveTrends(series([{}, {}, { blocked: 205 }]))).toEqual([]);
  });

  it("leaves interrupted runs out and reads each test on its own", () => {
    const interrupted = [entry(3, { errors: 50 }, { interrupted: true }), ...series([{}, {}])];
    expect(archiveTrends(interrupted)).toEqual([]);
    const otherTarget = entry(
      3,
      { errors: 50 },
      {
        test: { target: "http://127.0.0.1:9090", path: "/v1/execute", category: "mixed", ratesPerSec: [100] },
      },
    );
    expect(archiveTrends([otherTarget, ...series([{}, {}])])).toEqual([]);
  });

  it("reads only the last N runs of a test", () => {
    // Errors long ago, none since, errors now: within the last 3 they are new, within 5 they are not.
    const runs = series([{ errors: 1 }, {}, {}, {}, { errors: 2 }]);
    const options = { lastRuns: 3, maxRise: 0.1, minChangeMs: 0.5 };
    expect(archiveTrends(runs, options).map((trend) => trend.kind)).toEqual(["errors appearing"]);
    expect(archiveTrends(runs, { ...options, lastRuns: 5 })).toEqual([]);
  });
});

describe("readArchive", () => {
  it("skips what is not an entry (a meta.json of another shape, not JSON, missing) with a reason", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-history-"));
    try {
      const good = entry(1, {});
      await mkdir(join(dir, "good"));
      await writeFile(join(dir, "good", "meta.json"), JSON.stringify(good.meta));
      await mkdir(join(dir, "old-shape"));
      // A summary without noiseFloorMs: trends would read undefined figures.
      const { noiseFloorMs: _dropped, ...withoutFloors } = good.meta.runs[0] as ArchivedRunSummary;
      await writeFile(
        join(dir, "old-shape", "meta.json"),
        JSON.stringify({ ...good.meta, runs: [withoutFloors] }),
      );
      await mkdir(join(dir, "broken"));
      await writeFile(join(dir, "broken", "meta.json"), "{");
      await mkdir(join(dir, "empty"));
      const reading = await readArchive(dir);
      expect(reading.entries.map((e) => e.meta.runId)).toEqual(["run-1"]);
      expect(reading.skipped).toEqual([
        `${join(dir, "broken")}/meta.json: not JSON`,
        `${join(dir, "empty")}: no meta.json (not an archive entry, or still being written)`,
        `${join(dir, "old-shape")}/meta.json: not archive metadata`,
      ]);
      expect(archiveTrends(reading.entries)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
