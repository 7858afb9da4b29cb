import * as hdr from "hdr-histogram-js";
import { decodeHistogram, LATENCY_SIGNIFICANT_DIGITS } from "./histogram.js";
import type { Recorder } from "./recorder.js";
import type { ResultHistograms, RunResult } from "./result.js";

/**
 * A histogram in HdrHistogram's compressed base64 encoding, empty ones included: the results
 * file holds only strings every HdrHistogram decoder reads (the threads' deltas use "" for an
 * empty one, which is not such a string).
 */
function encodeForFile(histogram: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/** A transport's connect and TLS handshake time histograms (µs), as transport/connections.ts keeps them. */
export interface ConnectionTimeHistograms {
  connect: hdr.Histogram;
  tlsHandshake: hdr.Histogram;
}

/**
 * The recorder's histograms and the transport's connection times for the results file
 * (docs/RESULTS.md "Histograms").
 */
export function resultHistograms(
  recorder: Recorder,
  categoryNames: readonly string[],
  connectionTimes: ConnectionTimeHistograms,
): ResultHistograms {
  const latencyByCategory: Record<string, string> = {};
  categoryNames.forEach((name, k) => {
    const tally = recorder.categories[k];
    if (tally) latencyByCategory[name] = encodeForFile(tally.latency);
  });
  return {
    unit: "us",
    significantDigits: LATENCY_SIGNIFICANT_DIGITS,
    latency: encodeForFile(recorder.latency),
    serviceTime: encodeForFile(recorder.serviceTime),
    sendLag: encodeForFile(recorder.sendLag),
    ownSendLag: encodeForFile(recorder.ownSendLag),
    latencyByCategory,
    queueTime: encodeForFile(recorder.queueTime),
    connect: encodeForFile(connectionTimes.connect),
    tlsHandshake: encodeForFile(connectionTimes.tlsHandshake),
  };
}

/** A results file's histograms, decoded (values in µs). */
export interface DecodedHistograms {
  latency: hdr.Histogram;
  serviceTime: hdr.Histogram;
  sendLag: hdr.Histogram;
  ownSendLag: hdr.Histogram;
  latencyByCategory: Record<string, hdr.Histogram>;
  /** Absent in files written before they were kept (merge then takes the worst shard's summary). */
  queueTime?: hdr.Histogram;
  connect?: hdr.Histogram;
  tlsHandshake?: hdr.Histogram;
}

/**
 * A result without histograms: written by a load-test from before they were kept. Views that
 * need them (reports, comparisons, merges) say so with this message instead of guessing from
 * the percentiles.
 */
export class MissingHistogramsError extends Error {
  constructor(readonly source: string) {
    super(
      `${source}: has no histograms (written by an older load-test); percentiles can be read, ` +
        "but a report, comparison or merge needs the histograms: rerun the test with this version",
    );
    this.name = "MissingHistogramsError";
  }
}

/** The histograms of one field could not be decoded: the file was edited or cut short. */
export class InvalidHistogramError extends Error {
  constructor(
    readonly source: string,
    readonly field: string,
    reason: string,
  ) {
    super(`${source}: histograms.${field}: not an HdrHistogram compressed base64 encoding (${reason})`);
    this.name = "InvalidHistogramError";
  }
}

/** Whether a result carries histograms (files written before they were kept do not). */
export function hasHistograms(result: RunResult): result is RunResult & { histograms: ResultHistograms } {
  return result.histograms !== undefined;
}

/**
 * Decodes a result's histograms. Throws MissingHistogramsError for a result written without
 * them and InvalidHistogramError for one that does not decode; `source` names the result in
 * those messages (a file name, "step 2 of ladder.json").
 */
export function decodeResultHistograms(result: RunResult, source: string): DecodedHistograms {
  if (!hasHistograms(result)) throw new MissingHistogramsError(source);
  const { histograms } = result;
  if (histograms.unit !== "us")
    throw new InvalidHistogramError(source, "unit", `expected "us", got ${JSON.stringify(histograms.unit)}`);
  const decode = (field: string, encoded: string): hdr.Histogram => {
    try {
      return decodeHistogram(encoded);
    } catch (error) {
      throw new InvalidHistogramError(source, field, (error as Error).message);
    }
  };
  const optional = (field: "queueTime" | "connect" | "tlsHandshake"): Partial<DecodedHistograms> => {
    const encoded = histograms[field];
    return encoded === undefined ? {} : { [field]: decode(field, encoded) };
  };
  return {
    latency: decode("latency", histograms.latency),
    serviceTime: decode("serviceTime", histograms.serviceTime),
    sendLag: decode("sendLag", histograms.sendLag),
    ownSendLag: decode("ownSendLag", histograms.ownSendLag),
    latencyByCategory: Object.fromEntries(
      Object.entries(histograms.latencyByCategory).map(([name, encoded]) => [
        name,
        decode(`latencyByCategory.${name}`, encoded),
      ]),
    ),
    ...optional("queueTime"),
    ...optional("connect"),
    ...optional("tlsHandshake"),
  };
}
