import type { MeasuredRun } from "../../src/evaluate/verdict.js";
import type { CategoryResult, LatencySummaryMs } from "../../src/metrics/result.js";

/** A latency summary from three percentiles (the rest follow them). */
export const latency = (p50: number, p95: number, p99: number): LatencySummaryMs => ({
  min: p50 / 2,
  mean: p50,
  p50,
  p90: p95,
  p95,
  p99,
  p999: p99,
  max: p99,
});

export const category = (
  requests: number,
  success: number,
  blocked: number,
  error: number,
  correctness: number | null,
): CategoryResult => ({ requests, success, blocked, error, correctness, latencyMs: latency(1, 4, 8) });

/**
 * The one measured run the verdict and threshold tests start from: a healthy mixed run at
 * 100 req/s (800 normal, 100 security and 100 policy requests, all as expected), with
 * `overrides` on top.
 */
export function measuredRun(overrides: Partial<MeasuredRun> = {}): MeasuredRun {
  return {
    latencyMs: latency(1, 4, 8),
    sendLagMs: latency(0.1, 0.5, 1),
    rate: { targetPerSec: 100, achievedPerSec: 100, sentPerSec: 100, closedLoop: false },
    requests: { sent: 1000, total: 1000, success: 800, blocked: 200, error: 0, dropped: 0, unexpected: 0 },
    categories: {
      normal: category(800, 800, 0, 0, 1),
      security: category(100, 0, 100, 0, 1),
      policy: category(100, 0, 100, 0, 1),
    },
    timeline: [],
    generator: {
      eventLoopDelayMs: { p50: 0.1, p99: 0.5, max: 1 },
      ownSendLagMs: { p50: 0.5, p99: 1.2, max: 3 },
      maxInFlight: 3,
      workers: 200,
      threads: 1,
      pacing: "precise",
      trustworthy: true,
    },
    interrupted: false,
    ...overrides,
  };
}
