import { describe, expect, it } from "vitest";
import type { Progress } from "../../src/engine/run.js";
import { formatProgressLine } from "../../src/report/terminal.js";

const progress = (overrides: Partial<Progress>): Progress => ({
  elapsedSec: 5,
  totalSec: 10,
  sent: 50,
  inFlight: 3,
  completed: 47,
  success: 47,
  blocked: 0,
  error: 0,
  achievedPerSec: 10,
  correctness: 1,
  latencyMs: { p50: 1, p95: 2, p99: 3 },
  timeoutSec: 30,
  ...overrides,
});

describe("the live line after the schedule", () => {
  it("during the schedule: no drain note", () => {
    expect(formatProgressLine(progress({}))).not.toContain("draining");
  });

  it("past the schedule with requests in flight: draining, and how long it may still wait", () => {
    expect(formatProgressLine(progress({ elapsedSec: 14, inFlight: 12 }))).toMatch(
      /^\[10s\/10s\] .* \| draining 12 in flight, up to 26s more \(--timeout 30s\)$/,
    );
  });

  it("past the schedule with nothing in flight: no drain note", () => {
    expect(formatProgressLine(progress({ elapsedSec: 10.4, inFlight: 0 }))).not.toContain("draining");
  });
});
