import { describe, expect, it } from "vitest";
import { formatThreshold, parseCliThreshold } from "../../src/config/thresholds.js";
import { thresholdChecks, type ThresholdResult } from "../../src/evaluate/thresholds.js";
import { thresholdsOf } from "../../src/distributed/merge.js";
import type { RunResult } from "../../src/metrics/result.js";

describe("merge reads a shard's thresholds back from its checks", () => {
  it("every threshold survives the round trip through the results file", () => {
    const texts = [
      "latency:p(95)<10",
      "latency{category:security}:p(99)<25@degraded",
      "error_rate:rate<0.001",
      "correctness{category:policy}:rate==1@degraded",
      "throughput:value>=95",
    ];
    const results: ThresholdResult[] = texts.map((text) => {
      const threshold = parseCliThreshold(text);
      return { threshold, level: threshold.level, passed: true, observed: 1, skipped: false, message: "" };
    });
    const shard = {
      verdict: { level: "target", checks: thresholdChecks(results), warnings: [] },
    } as unknown as RunResult;
    expect(thresholdsOf(shard).map(formatThreshold)).toEqual(
      texts.map((text) => formatThreshold(parseCliThreshold(text))),
    );
  });
});
