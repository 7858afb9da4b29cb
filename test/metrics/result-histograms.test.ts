import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Histogram } from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import { createLatencyHistogram, recordMs, summarizeMs } from "../../src/metrics/histogram.js";
import { OutcomeTally, Recorder } from "../../src/metrics/recorder.js";
import {
  decodeResultHistograms,
  InvalidHistogramError,
  MissingHistogramsError,
  resultHistograms,
  type ConnectionTimeHistograms,
} from "../../src/metrics/result-histograms.js";
import { RESULTS_SCHEMA_VERSION, type Outcome, type RunResult } from "../../src/metrics/result.js";
import {
  decodeRuns,
  loadResultsFile,
  parseResults,
  ResultsFileError,
} from "../../src/metrics/results-file.js";

const OLD_FILE = fileURLToPath(new URL("../fixtures/results-without-histograms.json", import.meta.url));
const CATEGORIES = ["normal", "security", "policy"];

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Records `count` requests over 3 s: latencies 0.1 ms .. ~2 s, a long tail. */
function record(recorder: Recorder, seed: number, count: number, categories = CATEGORIES): void {
  const next = random(seed);
  for (let index = 0; index < count; index++) {
    const intendedAtMs = (index * 3000) / count;
    const sentAtMs = intendedAtMs + next() * 2;
    const endAtMs = sentAtMs + 0.1 + next() * 30 + (next() < 0.01 ? next() * 2000 : 0);
    const outcome: Outcome = next() < 0.8 ? "success" : "blocked";
    recorder.recordSend(intendedAtMs, sentAtMs, next() < 0.1);
    recorder.recordCompletion(
      index,
      index % categories.length,
      outcome,
      undefined,
      true,
      intendedAtMs,
      sentAtMs,
      endAtMs,
      // Some waited for a connection: queue times of 0 to 0.3 ms.
      sentAtMs + (index % 7) * 0.05,
    );
  }
}

function recorded(seed: number, count = 5000): Recorder {
  const recorder = new Recorder({ categoryNames: CATEGORIES }, 0);
  record(recorder, seed, count);
  return recorder;
}

/** Connect and TLS handshake times of `count` connections, as a transport's ConnectionRecorder keeps them. */
function connectionTimes(seed: number, count = 40): ConnectionTimeHistograms {
  const next = random(seed);
  const times = { connect: createLatencyHistogram(), tlsHandshake: createLatencyHistogram() };
  for (let k = 0; k < count; k++) {
    recordMs(times.connect, 0.05 + next() * 3);
    recordMs(times.tlsHandshake, 0.8 + next() * 12);
  }
  return times;
}

/** A loaded results file's run with the histograms of `recorder` (and `connections`). */
function resultWith(recorder: Recorder, connections = connectionTimes(0)): RunResult {
  return {
    schemaVersion: 1,
    histograms: resultHistograms(recorder, CATEGORIES, connections),
  } as unknown as RunResult;
}

const PERCENTILES = [0, 1, 10, 33.3, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100];

/**
 * Same distribution, bucket for bucket: counts, every percentile and the mean are identical. The
 * encoding keeps bucket counts, not the exact extremes, so a decoded maximum reads as the top of
 * its bucket (within 0.1%, the histogram's resolution).
 */
function expectSameDistribution(decoded: Histogram, original: Histogram): void {
  expect(decoded.totalCount).toBe(original.totalCount);
  for (const percentile of PERCENTILES)
    expect(decoded.getValueAtPercentile(percentile), `p${percentile}`).toBe(
      original.getValueAtPercentile(percentile),
    );
  expect(decoded.mean).toBe(original.mean);
  expect(decoded.minNonZeroValue).toBe(original.minNonZeroValue);
  expect(decoded.maxValue).toBeGreaterThanOrEqual(original.maxValue);
  expect(decoded.maxValue).toBeLessThanOrEqual(original.maxValue * 1.001);
}

describe("results histograms (docs/RESULTS.md, Histograms)", () => {
  it("decode to the recorder's histograms: same counts, percentiles and mean; the maximum to its bucket", () => {
    const recorder = recorded(7);
    const connections = connectionTimes(7);
    const histograms = resultHistograms(recorder, CATEGORIES, connections);
    expect(histograms.unit).toBe("us");
    expect(histograms.significantDigits).toBe(3);
    expect(Object.keys(histograms.latencyByCategory)).toEqual(CATEGORIES);
    for (const encoded of [
      histograms.latency,
      histograms.serviceTime,
      histograms.sendLag,
      histograms.ownSendLag,
      histograms.queueTime,
      histograms.connect,
      histograms.tlsHandshake,
    ])
      expect(encoded).toMatch(/^HISTF[A-Za-z0-9+/]+=*$/);

    const decoded = decodeResultHistograms(resultWith(recorder, connections), "test");
    expect(decoded.latency.totalCount).toBe(5000);
    expectSameDistribution(decoded.latency, recorder.latency);
    expectSameDistribution(decoded.serviceTime, recorder.serviceTime);
    expectSameDistribution(decoded.sendLag, recorder.sendLag);
    expectSameDistribution(decoded.ownSendLag, recorder.ownSendLag);
    expect(decoded.ownSendLag.totalCount).toBeLessThan(5000);
    expect(decoded.queueTime?.totalCount).toBe(5000);
    expectSameDistribution(decoded.queueTime as Histogram, recorder.queueTime);
    expect(decoded.connect?.totalCount).toBe(40);
    expectSameDistribution(decoded.connect as Histogram, connections.connect);
    expectSameDistribution(decoded.tlsHandshake as Histogram, connections.tlsHandshake);
    CATEGORIES.forEach((name, k) => {
      const histogram = decoded.latencyByCategory[name] as Histogram;
      expect(histogram.totalCount).toBe(recorder.categories[k]?.requests);
      expectSameDistribution(histogram, (recorder.categories[k] as OutcomeTally).latency);
    });
    // The results file's summary figures, recomputed from the file: the same but for the
    // maximum, which the file's summary keeps exact and the encoding to its bucket.
    const fromFile = summarizeMs(decoded.latency);
    const inMemory = summarizeMs(recorder.latency);
    expect({ ...fromFile, max: 0 }).toEqual({ ...inMemory, max: 0 });
    expect(Math.abs(fromFile.max - inMemory.max)).toBeLessThanOrEqual(inMemory.max * 0.001);
  });

  it("an empty histogram (a category nothing was sent to) is a decodable encoding, not an empty string", () => {
    const recorder = new Recorder({ categoryNames: ["normal", "llm"] }, 0);
    recorder.recordCompletion(0, 0, "success", undefined, true, 0, 0, 1.5);
    // Cleartext: no TLS handshake, an empty histogram.
    const connections = { connect: connectionTimes(4, 1).connect, tlsHandshake: createLatencyHistogram() };
    const histograms = resultHistograms(recorder, ["normal", "llm"], connections);
    expect(histograms.latencyByCategory.llm).toMatch(/^HISTF/);
    expect(histograms.tlsHandshake).toMatch(/^HISTF/);
    const result = { histograms } as unknown as RunResult;
    const decoded = decodeResultHistograms(result, "test");
    expect(decoded.latencyByCategory.llm?.totalCount).toBe(0);
    expect(decoded.latency.totalCount).toBe(1);
    expect(decoded.tlsHandshake?.totalCount).toBe(0);
  });

  it("merge exactly: the sum of two files' decoded histograms is the histogram of both runs together", () => {
    const a = recorded(1);
    const b = recorded(2);
    const both = new Recorder({ categoryNames: CATEGORIES }, 0);
    record(both, 1, 5000);
    record(both, 2, 5000);
    const merged = decodeResultHistograms(resultWith(a), "a").latency;
    merged.add(decodeResultHistograms(resultWith(b), "b").latency);
    expect(merged.totalCount).toBe(10_000);
    expectSameDistribution(merged, both.latency);
  });

  it("a file written before queue, connect and TLS histograms were kept decodes without them", () => {
    const result = resultWith(recorded(6, 200));
    const histograms = result.histograms!;
    delete histograms.queueTime;
    delete histograms.connect;
    delete histograms.tlsHandshake;
    const decoded = decodeResultHistograms(result, "older.json");
    expect(decoded.latency.totalCount).toBe(200);
    expect("queueTime" in decoded || "connect" in decoded || "tlsHandshake" in decoded).toBe(false);
  });

  it("a result without histograms says so, naming where it came from", () => {
    expect(() => decodeResultHistograms({ schemaVersion: 1 } as RunResult, "old.json")).toThrow(
      MissingHistogramsError,
    );
    expect(() => decodeResultHistograms({ schemaVersion: 1 } as RunResult, "old.json")).toThrow(
      /^old\.json: has no histograms \(written by an older load-test\)/,
    );
  });

  it("an edited or cut encoding is a clear error naming the field", () => {
    const recorder = recorded(3, 100);
    const result = resultWith(recorder);
    result.histograms!.sendLag = result.histograms!.sendLag.slice(0, 20);
    expect(() => decodeResultHistograms(result, "cut.json")).toThrow(InvalidHistogramError);
    expect(() => decodeResultHistograms(result, "cut.json")).toThrow(/^cut\.json: histograms\.sendLag: /);
  });
});

describe("loading results files", () => {
  it("loads a file written before histograms were kept, and a view that needs them is told so", async () => {
    const loaded = await loadResultsFile(OLD_FILE);
    expect(loaded.kind).toBe("run");
    expect(loaded.schemaVersion).toBe(RESULTS_SCHEMA_VERSION);
    expect(loaded.runs).toHaveLength(1);
    const [run] = loaded.runs;
    expect(run?.result.requests.total).toBeGreaterThan(0);
    expect(run?.result.latencyMs.p99).toBeGreaterThan(0);
    expect(run?.result.histograms).toBeUndefined();
    expect(() => decodeRuns(loaded)).toThrow(MissingHistogramsError);
    expect(() => decodeRuns(loaded)).toThrow(`${OLD_FILE}: has no histograms`);
  });

  it("loads the ladder and phases forms, one run per step or phase, with labels for messages", async () => {
    const old = JSON.parse(await readFile(OLD_FILE, "utf8")) as RunResult;
    const withHistograms = {
      ...old,
      histograms: resultHistograms(recorded(5, 300), CATEGORIES, connectionTimes(5)),
    };
    const ladder = parseResults(
      JSON.stringify({
        schemaVersion: 1,
        kind: "ladder",
        saturatedAtPerSec: null,
        interrupted: false,
        table: "",
        steps: [
          { ratePerSec: 10, note: "", result: withHistograms },
          { ratePerSec: 50, note: "", result: old },
        ],
      }),
      "ladder.json",
    );
    expect(ladder.kind).toBe("ladder");
    expect(ladder.runs.map((run) => run.label)).toEqual(["step 1 (10 req/s)", "step 2 (50 req/s)"]);
    expect(() => decodeRuns(ladder)).toThrow("ladder.json, step 2 (50 req/s): has no histograms");

    const phases = parseResults(
      JSON.stringify({
        schemaVersion: 1,
        kind: "phases",
        interrupted: true,
        phases: [{ name: "ramp", result: withHistograms }],
      }),
      "phases.json",
    );
    expect(phases.interrupted).toBe(true);
    const [phase] = decodeRuns(phases);
    expect(phase?.label).toBe('phase "ramp"');
    expect(phase?.histograms.latency.totalCount).toBe(300);
  });

  it("rejects what is not a results file this version reads, with one line naming the file", async () => {
    expect(() => parseResults("{", "a.json")).toThrow(ResultsFileError);
    expect(() => parseResults("{", "a.json")).toThrow(/^a\.json: not JSON/);
    expect(() => parseResults("[]", "b.json")).toThrow("b.json: not a results file (not a JSON object)");
    expect(() => parseResults('{"x": 1}', "c.json")).toThrow("c.json: not a results file (no schemaVersion)");
    expect(() => parseResults(`{"schemaVersion": ${RESULTS_SCHEMA_VERSION + 1}}`, "d.json")).toThrow(
      /^d\.json: schemaVersion \d+ is newer than this load-test reads/,
    );
    expect(() => parseResults('{"schemaVersion": 1, "kind": "ladder"}', "e.json")).toThrow(
      "e.json: steps: missing or not a list",
    );
    expect(() => parseResults('{"schemaVersion": 1, "requests": {}}', "f.json")).toThrow(
      "f.json: run: not a run result (no latencyMs)",
    );
    await expect(loadResultsFile("/nonexistent/results.json")).rejects.toThrow(
      "/nonexistent/results.json: cannot read (ENOENT)",
    );
  });

  it("recordMs values come back in the decoded histogram's unit (µs)", () => {
    const recorder = new Recorder({ categoryNames: CATEGORIES }, 0);
    recordMs(recorder.latency, 12.345);
    const decoded = decodeResultHistograms(resultWith(recorder), "t");
    expect(decoded.latency.maxValue).toBeGreaterThanOrEqual(12_345);
    expect(decoded.latency.maxValue).toBeLessThanOrEqual(12_345 * 1.001);
  });
});
