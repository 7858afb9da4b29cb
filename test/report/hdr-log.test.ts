import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import { Recorder } from "../../src/metrics/recorder.js";
import { HdrIntervalLog } from "../../src/report/hdr-log.js";

const T0_EPOCH_MS = Date.UTC(2026, 11, 4, 12, 0, 0, 250);
const LAYOUT = { categoryNames: ["normal", "security"], secondsByCategory: true };

async function logPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "load-test-hdr-")), "nested", "latency.hlog");
}

/** A log's intervals of one tag ("NO TAG": the untagged lines), as hdr-histogram-js's own reader sees them. */
function readIntervals(text: string, tag = "NO TAG"): hdr.Histogram[] {
  const reader = new hdr.HistogramLogReader(text);
  const intervals: hdr.Histogram[] = [];
  for (let histogram = reader.nextIntervalHistogram(); histogram; histogram = reader.nextIntervalHistogram())
    if (histogram.tag === tag) intervals.push(histogram);
  return intervals;
}

function sum(intervals: hdr.Histogram[]): hdr.Histogram {
  const total = hdr.build({ numberOfSignificantValueDigits: 3, bitBucketSize: 32, useWebAssembly: false });
  for (const interval of intervals) total.add(interval);
  return total;
}

/** One completion at `endAtMs` (ms after t0) with the given latency. */
function complete(recorder: Recorder, index: number, endAtMs: number, latencyMs: number, category = 0): void {
  const intendedAtMs = endAtMs - latencyMs;
  recorder.recordCompletion(index, category, "success", undefined, true, intendedAtMs, intendedAtMs, endAtMs);
}

describe("--hdr-log: HdrHistogram interval log", () => {
  it("one interval per second of the run, empty seconds included, read back by HistogramLogReader", async () => {
    const path = await logPath();
    const log = await HdrIntervalLog.open(path);
    const recorder = new Recorder(LAYOUT, 0);
    log.runStarted(T0_EPOCH_MS, LAYOUT.categoryNames);
    recorder.onSecondClosed((second, latency, byCategory) => log.interval(second, latency, byCategory));
    // Seconds 0, 1 and 3 have completions; 2 and 4 have none (a stalled target).
    let index = 0;
    for (let k = 0; k < 500; k++)
      complete(recorder, index++, k * 2, 0.3 + (k % 50) / 10, k % 5 === 0 ? 1 : 0);
    for (let k = 0; k < 300; k++) complete(recorder, index++, 1000 + k * 3, 1 + (k % 7));
    for (let k = 0; k < 100; k++) complete(recorder, index++, 3000 + k * 9, 250 + k);
    recorder.closeSecondsBefore(Infinity);
    log.runEnded(4);
    await log.close();

    const text = await readFile(path, "utf8");
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^#\[Logged with load-test/);
    expect(lines).toContain("#[Histogram log format version 1.3]");
    expect(lines).toContain("#[StartTime: 1796385600.250 (seconds since epoch), 2026-12-04T12:00:00.250Z]");
    expect(lines).toContain("#[BaseTime: 1796385600.250 (seconds since epoch)]");
    expect(lines).toContain(
      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    );
    // start (s from BaseTime), length (s), max (ms), histogram; then one tagged line per category.
    expect(lines.filter((line) => /^\d/.test(line)).map((line) => line.split(",").slice(0, 3))).toEqual([
      ["0.000", "1.000", expect.stringMatching(/^5\.\d{3}$/)],
      ["1.000", "1.000", expect.stringMatching(/^7\.\d{3}$/)],
      ["2.000", "1.000", "0.000"],
      ["3.000", "1.000", expect.stringMatching(/^349\.\d{3}$/)],
      ["4.000", "1.000", "0.000"],
    ]);
    expect(lines.filter((line) => line.startsWith("Tag=normal,"))).toHaveLength(5);
    expect(lines.filter((line) => line.startsWith("Tag=security,"))).toHaveLength(5);
    expect(hdr.listTags(text)).toEqual(["NO TAG", "normal", "security"]);

    const intervals = readIntervals(text);
    expect(intervals.map((interval) => interval.totalCount)).toEqual([500, 300, 0, 100, 0]);
    expect(intervals.map((interval) => interval.startTimeStampMsec)).toEqual(
      [0, 1, 2, 3, 4].map((second) => T0_EPOCH_MS + second * 1000),
    );
    expect(intervals.map((interval) => interval.endTimeStampMsec - interval.startTimeStampMsec)).toEqual([
      1000, 1000, 1000, 1000, 1000,
    ]);
    // The intervals add up to the run's histogram, bucket for bucket; the tagged ones to each category's.
    const total = sum(intervals);
    expect(total.totalCount).toBe(recorder.latency.totalCount);
    for (const percentile of [50, 95, 99, 99.9, 100])
      expect(total.getValueAtPercentile(percentile)).toBe(recorder.latency.getValueAtPercentile(percentile));
    const normal = readIntervals(text, "normal");
    const security = readIntervals(text, "security");
    expect(normal.map((interval) => interval.totalCount)).toEqual([400, 300, 0, 100, 0]);
    expect(security.map((interval) => interval.totalCount)).toEqual([100, 0, 0, 0, 0]);
    expect(normal.map((interval) => interval.startTimeStampMsec)).toEqual(
      intervals.map((interval) => interval.startTimeStampMsec),
    );
    for (const [k, tagged] of [normal, security].entries()) {
      const category = recorder.categories[k]?.latency as hdr.Histogram;
      for (const percentile of [50, 99, 100])
        expect(sum(tagged).getValueAtPercentile(percentile)).toBe(category.getValueAtPercentile(percentile));
    }
  });

  it("several runs (ladder steps, phases) share one time axis from the first run's start", async () => {
    const path = await logPath();
    const log = await HdrIntervalLog.open(path);
    for (const [run, startOffsetMs] of [0, 5500].entries()) {
      const recorder = new Recorder({ categoryNames: ["normal"] }, 0);
      log.runStarted(T0_EPOCH_MS + startOffsetMs, []);
      recorder.onSecondClosed((second, latency, byCategory) => log.interval(second, latency, byCategory));
      for (let k = 0; k < 20; k++) complete(recorder, k, k * 100, 1 + run);
      recorder.closeSecondsBefore(Infinity);
      log.runEnded(2);
    }
    await log.close();
    const text = await readFile(path, "utf8");
    expect(text.match(/#\[StartTime:/g)).toHaveLength(1);
    const intervals = readIntervals(text);
    expect(intervals.map((interval) => (interval.startTimeStampMsec - T0_EPOCH_MS) / 1000)).toEqual([
      0, 1, 2, 5.5, 6.5, 7.5,
    ]);
    expect(intervals.map((interval) => interval.totalCount)).toEqual([10, 10, 0, 10, 10, 0]);
  });

  it("a category name that is not a valid HdrHistogram tag is written as one", async () => {
    const path = await logPath();
    const log = await HdrIntervalLog.open(path);
    log.runStarted(T0_EPOCH_MS, ["prompt injection, hard"]);
    log.runEnded(0);
    await log.close();
    expect(hdr.listTags(await readFile(path, "utf8"))).toEqual(["NO TAG", "prompt_injection__hard"]);
  });

  it("threads: a merged second opened out of order (another thread's) is still logged, in order", async () => {
    // Thread A completes only in second 2; thread B mostly in second 1: the coordinator opens second 2 first.
    const threadA = new Recorder(LAYOUT, 0, "shard");
    const threadB = new Recorder(LAYOUT, 0, "shard");
    for (let k = 0; k < 10; k++) complete(threadA, k, 2000 + k, 1, k % 2);
    for (let k = 0; k < 7; k++) complete(threadB, k, 1000 + k, 2, 1);
    complete(threadB, 7, 2500, 2, 1);
    const merged = new Recorder(LAYOUT, 0, "merge");
    const closed: Array<[number, number, number[]]> = [];
    merged.onSecondClosed((second, latency, byCategory) =>
      closed.push([second, latency.totalCount, (byCategory ?? []).map((histogram) => histogram.totalCount)]),
    );
    merged.absorb(threadA.drain());
    merged.absorb(threadB.drain());
    merged.closeSecondsBefore(3);
    expect(closed).toEqual([
      [1, 7, [0, 7]],
      [2, 11, [5, 6]],
    ]);
  });

  it("a path that cannot be written fails when the log is opened, before any run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "load-test-hdr-"));
    await writeFile(join(dir, "file"), "");
    await expect(HdrIntervalLog.open(join(dir, "file", "latency.hlog"))).rejects.toThrow(/ENOTDIR|EEXIST/);
  });
});
