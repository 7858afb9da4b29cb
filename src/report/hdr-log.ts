import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import * as hdr from "hdr-histogram-js";
import { createLatencyHistogram } from "../metrics/histogram.js";
import type { LatencyIntervalSink } from "../metrics/recorder.js";

/** hdr-histogram-js's tag of an untagged histogram (its `NO_TAG`, which the package does not export). */
const NO_TAG = "NO TAG";

/**
 * HdrHistogram's interval log (docs/RESULTS.md "Interval log"): a header of comments
 * (`#[StartTime: …]`, `#[BaseTime: …]`), the legend, then one line per second of the run,
 * `start,length,max,histogram` with start relative to BaseTime (seconds), max in ms and the
 * latency histogram (µs) in the compressed base64 encoding, followed by one `Tag=<category>,…`
 * line per category of the mix. HdrHistogram's HistogramLogReader and HistogramLogProcessor read
 * it (untagged lines by default, `-tag NAME` for a category; `-outputValueUnitRatio 1000` shows
 * ms, as the values are µs).
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
  /** The current run's categories, as tags (HdrHistogram tags hold no comma or space). */
  private tags: string[] = [];
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

  runStarted(t0EpochMs: number, categoryNames: readonly string[]): void {
    this.nextSecond = 0;
    this.tags = categoryNames.map((name) => name.replace(/[^A-Za-z0-9_.:-]/g, "_"));
    if (this.baseEpochMs === undefined) {
      this.baseEpochMs = t0EpochMs;
      this.writeHeader(t0EpochMs);
    }
    this.runOffsetSec = (t0EpochMs - this.baseEpochMs) / 1000;
  }

  interval(
    second: number,
    latency: hdr.Histogram,
    latencyByCategory: readonly hdr.Histogram[] | undefined,
  ): void {
    if (second < this.nextSecond) return;
    for (let gap = this.nextSecond; gap < second; gap++) this.writeSecond(gap, this.empty, undefined);
    this.writeSecond(second, latency, latencyByCategory);
    this.nextSecond = second + 1;
  }

  runEnded(lastSecond: number): void {
    for (let gap = this.nextSecond; gap <= lastSecond; gap++) this.writeSecond(gap, this.empty, undefined);
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

  /** The second's untagged line (all responses), then one `Tag=<category>` line per category. */
  private writeSecond(
    second: number,
    latency: hdr.Histogram,
    latencyByCategory: readonly hdr.Histogram[] | undefined,
  ): void {
    this.writeInterval(second, latency, NO_TAG);
    this.tags.forEach((tag, k) => this.writeInterval(second, latencyByCategory?.[k] ?? this.empty, tag));
  }

  private writeInterval(second: number, latency: hdr.Histogram, tag: string): void {
    const startSec = this.runOffsetSec + second;
    // The writer reads the tag from the histogram; the recorder's histograms are reused, so
    // the tag is put back at once.
    const previousTag = latency.tag;
    latency.tag = tag;
    try {
      // Max in ms: the histograms count µs.
      this.writer.outputIntervalHistogram(latency, startSec, startSec + 1, 1000);
    } finally {
      latency.tag = previousTag;
    }
  }
}
