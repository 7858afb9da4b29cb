import { describe, expect, it } from "vitest";
import { evaluateRun, type MeasuredRun } from "../../src/evaluate/verdict.js";
import type { LatencySummaryMs, RunResult } from "../../src/metrics/result.js";
import { measuredRun } from "../helpers/measured-run.js";

/**
 * The warning that names what held a run back (issues 16 and 17): --workers only when the
 * requests in flight reached it, the server's HTTP/2 stream limit when that was lower.
 */
const latency: LatencySummaryMs = { min: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 1, p999: 1, max: 1 };

function run(
  dropped: number,
  maxInFlight: number,
  extra: { interrupted?: boolean; serverMaxStreams?: number | null; limit?: number } = {},
): MeasuredRun {
  const connections = {
    limit: extra.limit ?? 1,
    streamsPerConnection: 64,
    serverMaxStreams: extra.serverMaxStreams ?? null,
  };
  return {
    ...measuredRun({
      latencyMs: latency,
      sendLagMs: latency,
      requests: { sent: 1000, total: 1000, success: 1000, blocked: 0, error: 0, dropped, unexpected: 0 },
      categories: {},
      interrupted: extra.interrupted ?? false,
    }),
    generator: { ...measuredRun().generator, maxInFlight, workers: 64 },
    // Only the fields the warning reads.
    transport: { connections } as unknown as RunResult["transport"],
  };
}

const droppedWarning = (measured: MeasuredRun): string | undefined =>
  evaluateRun(measured, false).warnings.find((warning) => warning.includes("never completed"));

describe("what held the run back", () => {
  it("--workers, when the requests in flight reached it", () => {
    expect(droppedWarning(run(12, 64))).toBe(
      "12 requests due but never completed: --workers (64) was the limit",
    );
  });

  it("not --workers after an interrupt with fewer in flight (SIGTERM, peak 23 of 64)", () => {
    const warning = droppedWarning(run(23, 23, { interrupted: true }));
    expect(warning).toBe(
      "23 requests due but never completed: the run was interrupted (in flight peaked at 23 of --workers 64)",
    );
  });

  it("the server's SETTINGS_MAX_CONCURRENT_STREAMS, with the connections --workers would need", () => {
    const warning = droppedWarning(run(500, 64, { serverMaxStreams: 2, limit: 1 }));
    expect(warning).toBe(
      "500 requests due but never completed: the server's HTTP/2 stream limit was the limit " +
        "(SETTINGS_MAX_CONCURRENT_STREAMS 2 × 1 connection = 2 in flight, not --workers 64); " +
        "--workers 64 needs 32 connections (--connections 32)",
    );
  });

  it("a server limit that --workers did not exceed is not blamed", () => {
    expect(droppedWarning(run(5, 64, { serverMaxStreams: 100, limit: 1 }))).toBe(
      "5 requests due but never completed: --workers (64) was the limit",
    );
  });
});
