import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS, formatThreshold } from "../../src/config/thresholds.js";
import {
  correctnessLevel,
  isPolicyFailure,
  ladderFailed,
  TARGET_TABLE,
} from "../../src/evaluate/methodology.js";

describe("the methodology's table, once (evaluate/methodology.ts)", () => {
  it("the default thresholds are its rows", () => {
    const latency = DEFAULT_THRESHOLDS.map(formatThreshold).filter((text) => text.startsWith("latency"));
    expect(latency).toHaveLength(TARGET_TABLE.latencyMs.length * 2);
    for (const row of TARGET_TABLE.latencyMs) {
      expect(latency.some((text) => text.includes(`p(${row.percentile})<${row.targetBelowMs}`))).toBe(true);
      expect(latency.some((text) => text.includes(`p(${row.percentile})<=${row.degradedUpToMs}`))).toBe(true);
    }
  });

  it("a probe that got through is a policy failure, named by the verdict or by a threshold", () => {
    expect(isPolicyFailure({ name: "correctness_security", level: "critical" })).toBe(true);
    expect(
      isPolicyFailure({ name: "threshold correctness{category:policy} rate==1", level: "critical" }),
    ).toBe(true);
    expect(isPolicyFailure({ name: "correctness_normal", level: "critical" })).toBe(false);
    expect(isPolicyFailure({ name: "correctness_security", level: "target" })).toBe(false);
    expect(correctnessLevel("security", 0.999)).toBe("critical");
    expect(correctnessLevel("normal", 0.99)).toBe("degraded");
  });

  it("a ladder fails on its first step, a policy failure or an unreachable target, not on its top step", () => {
    const step = (
      level: "target" | "degraded" | "critical",
      checks: Array<{ name: string; level: typeof level }> = [],
    ) => ({
      verdict: { level, checks },
    });
    expect(ladderFailed([step("target"), step("critical")], false)).toBe(false);
    expect(ladderFailed([step("critical"), step("critical")], false)).toBe(true);
    expect(ladderFailed([step("target")], true)).toBe(true);
    expect(
      ladderFailed(
        [step("target"), step("degraded", [{ name: "correctness_policy", level: "critical" }])],
        false,
      ),
    ).toBe(true);
    // Judged by --threshold, the same probe getting through is named by its threshold.
    expect(
      ladderFailed(
        [
          step("target"),
          step("degraded", [{ name: "threshold correctness{category:security} rate==1", level: "critical" }]),
        ],
        false,
      ),
    ).toBe(true);
  });
});
