import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Histogram } from "hdr-histogram-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeFiles } from "../../src/distributed/merge-files.js";
import { createLatencyHistogram, summarizeMs } from "../../src/metrics/histogram.js";
import { decodeResultHistograms, type DecodedHistograms } from "../../src/metrics/result-histograms.js";
import type { LatencySummaryMs, RunResult } from "../../src/metrics/result.js";
import { runCli } from "../helpers/cli.js";
import { startServer, type TestServer } from "../helpers/servers.js";
import { createTestPki, type TestPki } from "../helpers/tls.js";

const SHARDS = 2;
const RATE = 100;
const DURATION_S = 2;

const read = (path: string): RunResult => JSON.parse(readFileSync(path, "utf8")) as RunResult;

/** The union of one histogram over files, as one process holding every shard's values would have it. */
function union(files: readonly string[], field: "queueTime" | "connect" | "tlsHandshake"): Histogram {
  const total = createLatencyHistogram();
  for (const file of files) {
    const decoded: DecodedHistograms = decodeResultHistograms(read(file), file);
    total.add(decoded[field] as Histogram);
  }
  return total;
}

/**
 * A decoded histogram's summary as the run printed it: the run knew the exact maximum, the
 * encoding keeps only its bucket (within 0.1%), and summaries clamp percentiles to the maximum.
 */
function withExactMax(histogram: Histogram | undefined, maxMs: number): LatencySummaryMs {
  const summary = summarizeMs(histogram as Histogram);
  const clamp = (ms: number): number => Math.min(ms, maxMs);
  expect(Math.abs(summary.max - maxMs)).toBeLessThanOrEqual(maxMs * 0.001 + 0.001);
  return {
    ...summary,
    p50: clamp(summary.p50),
    p90: clamp(summary.p90),
    p95: clamp(summary.p95),
    p99: clamp(summary.p99),
    p999: clamp(summary.p999),
    max: maxMs,
  };
}

const worst = (summaries: readonly LatencySummaryMs[]): LatencySummaryMs =>
  Object.fromEntries(
    (["min", "mean", "p50", "p90", "p95", "p99", "p999", "max"] as const).map((key) => [
      key,
      Math.max(...summaries.map((summary) => summary[key])),
    ]),
  ) as unknown as LatencySummaryMs;

// Two shards over TLS with few requests per connection, so each opens many connections: the
// connect and handshake histograms have something to merge.
describe("merging queue, connect and TLS handshake times (docs/DISTRIBUTED.md, What exact means)", () => {
  let dir: string;
  let pki: TestPki;
  let server: TestServer;
  let files: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "load-test-merge-times-"));
    pki = await createTestPki("merge-times CA");
    const pem = await pki.issue("localhost", { dns: ["localhost"], ips: ["127.0.0.1"] });
    server = await startServer("https", { key: pem.key, cert: pem.cert });
    files = Array.from({ length: SHARDS }, (_, k) => join(dir, `shard-${k}.json`));
    const runs = await Promise.all(
      files.map((out, k) =>
        runCli(
          [
            ...["--target", server.url, "--ca", pki.ca.certFile],
            ...["--rps", String(RATE), "--duration", `${DURATION_S}s`, "--threads", "1"],
            ...["--max-requests-per-connection", "5", "--shard", `${k}/${SHARDS}`, "--quiet", "--out", out],
          ],
          { timeoutMs: 40_000 },
        ),
      ),
    );
    for (const run of runs) expect([0, 3], run.stderr).toContain(run.code);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await pki?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("each shard's file keeps the histograms its summaries are read from", () => {
    for (const file of files) {
      const result = read(file);
      const decoded = decodeResultHistograms(result, file);
      expect(decoded.queueTime?.totalCount).toBe(result.requests.total);
      expect(decoded.connect?.totalCount).toBe(result.transport.connections.opened);
      expect(decoded.tlsHandshake?.totalCount).toBe(result.transport.connections.opened);
      expect(result.transport.connections.opened).toBeGreaterThanOrEqual(10);
      expect(result.queueTimeMs).toEqual(withExactMax(decoded.queueTime, result.queueTimeMs.max));
      const { connectMs, tlsHandshakeMs } = result.transport.connections;
      expect(connectMs).toEqual(withExactMax(decoded.connect, connectMs.max));
      expect(tlsHandshakeMs).toEqual(withExactMax(decoded.tlsHandshake, tlsHandshakeMs.max));
    }
  });

  it("the merged figures are those of the union of the shards' histograms, bucket for bucket", async () => {
    const merged = await mergeFiles(files, false);
    expect(merged.queueTimeMs).toEqual(summarizeMs(union(files, "queueTime")));
    expect(merged.transport.connections.connectMs).toEqual(summarizeMs(union(files, "connect")));
    expect(merged.transport.connections.tlsHandshakeMs).toEqual(summarizeMs(union(files, "tlsHandshake")));
    const opened = files.reduce((sum, file) => sum + read(file).transport.connections.opened, 0);
    const decoded = decodeResultHistograms(merged, "merged");
    expect(decoded.connect?.totalCount).toBe(opened);
    expect(decoded.tlsHandshake?.totalCount).toBe(opened);
    expect(decoded.queueTime?.totalCount).toBe(RATE * DURATION_S);
    expect(merged.verdict.warnings.join("\n")).not.toContain("worst shard's");
  });

  it("a file written before they were kept still merges: the worst shard's summary, and the merge says so", async () => {
    const older = join(dir, "shard-1-older.json");
    const result = read(files[1] as string);
    delete result.histograms?.queueTime;
    delete result.histograms?.connect;
    delete result.histograms?.tlsHandshake;
    writeFileSync(older, JSON.stringify(result));
    const inputs = [files[0] as string, older];
    const merged = await mergeFiles(inputs, false);
    const shards = inputs.map(read);
    expect(merged.queueTimeMs).toEqual(worst(shards.map((s) => s.queueTimeMs)));
    expect(merged.transport.connections.connectMs).toEqual(
      worst(shards.map((s) => s.transport.connections.connectMs)),
    );
    expect(merged.transport.connections.tlsHandshakeMs).toEqual(
      worst(shards.map((s) => s.transport.connections.tlsHandshakeMs)),
    );
    expect(merged.verdict.warnings).toContain(
      `Queue, connect and TLS handshake times are the worst shard's, an upper bound: ${older} has no histograms of them (written by an older load-test)`,
    );
    // Not claimed exact: the merged file carries no histograms of them.
    expect(merged.histograms?.queueTime).toBeUndefined();
    expect(merged.histograms?.connect).toBeUndefined();
    // The latency histograms still merge exactly.
    expect(merged.requests.total).toBe(RATE * DURATION_S);
  });
});
