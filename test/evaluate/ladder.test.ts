import { describe, expect, it } from "vitest";
import { ladderNotes, saturationIndex } from "../../src/report/markdown.js";

describe("ladder notes and saturation", () => {
  it("names the steps as the spec's Baseline Results table does", () => {
    expect(ladderNotes(["target", "target", "target", "degraded", "critical"])).toEqual([
      "Warmup",
      "Normal load",
      "Target load",
      "Stress test; saturation starts here",
      "Near saturation",
    ]);
  });

  it("saturation is where the trailing run of unhealthy steps begins, not a lone noisy step", () => {
    expect(saturationIndex(["degraded", "target", "target", "degraded", "critical"])).toBe(3);
    expect(saturationIndex(["target", "target"])).toBe(-1);
    expect(saturationIndex(["critical", "critical"])).toBe(0);
    expect(ladderNotes(["degraded", "target"])).toEqual(["Warmup (degraded)", "Target load"]);
  });
});
