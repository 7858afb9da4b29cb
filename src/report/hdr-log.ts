import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import * as hdr from "hdr-histogram-js";
import { createLatencyHistogram } from "../metrics/histogram.js";
import type { LatencyIntervalSink } from "../metrics/recorder.js";

/**
 * HdrHistogram's interval log (docs/RESULTS.md "Interval log"): a header of comments
 * (`#[StartTime: …]`, `#[BaseTime: …]`), the legend, then one line per second of the run,
 * `start,length,max,histogram` with start relative to BaseTime (seconds), max in ms and the
 * latency histogram (µs) in the compressed base64 encoding. HdrHistogram's HistogramLogReader
 * and HistogramLogProcessor read it (`-outputValueUnitRatio 1000` shows ms, as the values are µs).
 * Lines are written as seconds close, so memory does not grow with the run; a second in which
 * nothing completed is logged as an empty histogram, so the log has every second of the timeline.
 */
export class HdrIntervalLog implements LatencyIntervalSink {
  private readonly writer: hdr.HistogramLogWriter;
  private readonly empty = createLatencyHistogram();
  private baseEpochMs: number | undefined;
  /** Seconds from BaseTime to the current run's t0 (later ladder steps and phases start later). */
  private runOffsetSec = 0;
  private nextSecond = 0;
  private failure: Error | undefined;

  private constructor(
    private readonly path: string,
    private readonly stream: Writable,
  ) {
    stream.on("error", (error: Error) => (this.failure ??= error));
    this.writer = new hdr.HistogramLogWriter((text) => {
      if (!this.failure) stream.write(text);
    });
  }

  /** Creates (truncates) the file now, so a path that cannot be written fails before the run. */
  static async open(path: string): Promise<HdrIntervalLog> {
    await mkdir(dirname(path), { recursive: true });
    const file = await open(path, "w");
    return new HdrIntervalLog(path, file.createWriteStream());
  }

  runStarted(t0EpochMs: number): void {
    this.nextSecond = 0;
    if (this.baseEpochMs === undefined) {
      this.baseEpochMs = t0EpochMs;
      this.writeHeader(t0EpochMs);
    }
    this.runOffsetSec = (t0EpochMs - this.baseEpochMs) / 1000;
  }

  interval(second: number, latency: hdr.Histogram): void {
    if (second < this.nextSecond) return;
    for (let gap = this.nextSecond; gap < second; gap++) this.writeInterval(gap, this.empty);
    this.writeInterval(second, latency);
    this.nextSecond = second + 1;
  }

  runEnded(lastSecond: number): void {
    for (let gap = this.nextSecond; gap <= lastSecond; gap++) this.writeInterval(gap, this.empty);
    this.nextSecond = lastSecond + 1;
  }

  /** Flushes and closes the file; rejects with the first write error, naming the file. */
  async close(): Promise<void> {
    // The stream closes its file handle once everything is written ("close" also follows an error).
    await new Promise<void>((resolve) => {
      this.stream.once("close", resolve);
      this.stream.end();
    });
    if (this.failure) throw new Error(`${this.path}: ${this.failure.message}`);
  }

  private writeHeader(t0EpochMs: number): void {
    const epochSec = (t0EpochMs / 1000).toFixed(3);
    this.writer.outputComment(
      "[Logged with load-test: latency in µs from the intended send time, per second]",
    );
    this.writer.outputLogFormatVersion();
    // The library's outputStartTime adds a blank line and a locale date; these lines are the
    // form HdrHistogram's own writer produces, which its readers parse (number after the colon).
    this.writer.outputComment(
      `[StartTime: ${epochSec} (seconds since epoch), ${new Date(t0EpochMs).toISOString()}]`,
    );
    this.writer.outputComment(`[BaseTime: ${epochSec} (seconds since epoch)]`);
    this.writer.outputLegend();
  }

  private writeInterval(second: number, latency: hdr.Histogram): void {
    const startSec = this.runOffsetSec + second;
    // Max in ms: the histograms count µs.
    this.writer.outputIntervalHistogram(latency, startSec, startSec + 1, 1000);
  }
}
