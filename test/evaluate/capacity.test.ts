import { describe, expect, it } from "vitest";
import { ladderCapacity } from "../../src/evaluate/capacity.js";
import type { Level } from "../../src/metrics/result.js";

const step = (ratePerSec: number, level: Level, interrupted = false) => ({
  ratePerSec,
  result: { interrupted, verdict: { level }, rate: { achievedPerSec: ratePerSec * 0.99 } },
});

describe("a ladder's capacity per node: its highest step within target", () => {
  it("saturated: the highest step within target is the capacity, judged per node", () => {
    const steps = [step(500, "target"), step(1000, "target"), step(2000, "target"), step(4000, "critical")];
    expect(ladderCapacity(steps, 1)).toEqual({
      nodes: 1,
      stepPerSec: 2000,
      perNodePerSec: 1980,
      level: "target",
      message: "Capacity: 1980 req/s per node at the highest step within target (2000 req/s asked)",
    });
    expect(ladderCapacity(steps, 2)).toMatchObject({ perNodePerSec: 990, level: "degraded" });
    expect(ladderCapacity(steps, 4)).toMatchObject({ perNodePerSec: 495, level: "critical" });
  });

  it("never saturated below 1,000 per node: a lower bound, not judged", () => {
    const capacity = ladderCapacity([step(10, "target"), step(50, "target"), step(200, "target")], 1);
    expect(capacity.level).toBeNull();
    expect(capacity.perNodePerSec).toBeCloseTo(198, 6);
    expect(capacity.message).toMatch(
      /^Capacity: at least 198 req\/s per node: no step left target above 200 req\/s asked; add higher --rates to measure it$/,
    );
  });

  it("a noisy step below the highest within target does not count as saturation", () => {
    const capacity = ladderCapacity([step(10, "degraded"), step(50, "target"), step(100, "target")], 1);
    expect(capacity.level).toBeNull();
  });

  it("no step within target, even at 10 req/s: below 500 per node, critical", () => {
    expect(ladderCapacity([step(10, "critical"), step(50, "critical")], 1)).toMatchObject({
      level: "critical",
      message: "Capacity: below 10 req/s per node (no step within target, even the lowest)",
    });
    expect(ladderCapacity([step(2000, "critical")], 1).level).toBeNull();
  });

  it("nodes are read from the steps' results when not given (a loaded ladder file)", () => {
    const steps = [500, 1000].map((rate) => ({
      ratePerSec: rate,
      result: {
        interrupted: false,
        verdict: { level: (rate === 500 ? "target" : "critical") as Level },
        rate: { achievedPerSec: rate, nodes: 2 },
      },
    }));
    expect(ladderCapacity(steps)).toMatchObject({ nodes: 2, perNodePerSec: 250, level: "critical" });
  });

  it("an interrupted step is left out", () => {
    const capacity = ladderCapacity([step(100, "target"), step(2000, "critical", true)], 1);
    expect(capacity.level).toBeNull();
    expect(capacity.stepPerSec).toBe(100);
  });
});
