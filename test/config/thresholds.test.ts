import { describe, expect, it } from "vitest";
import { InputError } from "../../src/config/options.js";
import {
  DEFAULT_THRESHOLDS,
  defaultThresholds,
  formatThreshold,
  mergeThresholds,
  parseCliThreshold,
  parseMetricSelector,
  parseThreshold,
  parseThresholdExpression,
  parseThresholdItem,
  selectorOf,
} from "../../src/config/thresholds.js";

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

describe("parseThresholdExpression: k6's aggregation operator number", () => {
  it.each([
    ["p(95)<10", { aggregation: "p", percentile: 95, operator: "<", bound: 10 }],
    ["p(99.9)<=25", { aggregation: "p", percentile: 99.9, operator: "<=", bound: 25 }],
    [" p( 90 ) < 7.5 ", { aggregation: "p", percentile: 90, operator: "<", bound: 7.5 }],
    ["avg<5", { aggregation: "avg", operator: "<", bound: 5 }],
    ["med<3", { aggregation: "med", operator: "<", bound: 3 }],
    ["min>0.1", { aggregation: "min", operator: ">", bound: 0.1 }],
    ["max<1e3", { aggregation: "max", operator: "<", bound: 1000 }],
    ["rate<0.001", { aggregation: "rate", operator: "<", bound: 0.001 }],
    ["rate==0", { aggregation: "rate", operator: "==", bound: 0 }],
    ["rate===0", { aggregation: "rate", operator: "==", bound: 0 }],
    ["count!=0", { aggregation: "count", operator: "!=", bound: 0 }],
    ["value>=0.99", { aggregation: "value", operator: ">=", bound: 0.99 }],
    ["p(0)>=0", { aggregation: "p", percentile: 0, operator: ">=", bound: 0 }],
    ["p(100)<=.5", { aggregation: "p", percentile: 100, operator: "<=", bound: 0.5 }],
  ])("%j", (text, expected) => {
    expect(parseThresholdExpression(text)).toEqual(expected);
  });

  it.each([
    ["", "at position 1: empty threshold"],
    ["   ", "at position 1: empty threshold"],
    ["<10", "at position 1: expected an aggregation"],
    ["p95<10", 'at position 1: unknown aggregation "p95"'],
    ["mean<5", 'at position 1: unknown aggregation "mean"'],
    ["p 95)<10", 'at position 3: expected "(" after p'],
    ["p(95<10", 'at position 5: expected ")" after the percentile'],
    ["p()<10", "at position 3: expected a percentile"],
    ["p(101)<10", "at position 3: percentile 101 is outside 0..100"],
    ["p(95)10", "at position 6: expected an operator"],
    ["p(95)=10", "at position 6: expected an operator"],
    ["p(95)<", "at position 7: expected a number"],
    ["p(95)<ten", "at position 7: expected a number"],
    ["p(95)<10ms", 'at position 9: unexpected "ms" after the number (bounds have no unit'],
    ["rate<0.1%", 'at position 9: unexpected "%" after the number'],
    ["avg<5 and max<9", 'at position 7: unexpected "and max<9"'],
  ])("rejects %j with the position", (text, message) => {
    const error = errorOf(() => parseThresholdExpression(text, "thresholds.latency[0]"));
    expect(error.field).toBe("thresholds.latency[0]");
    expect(error.message).toContain(`"${text}" ${message}`);
  });
});

describe("parseMetricSelector: metrics, k6 aliases and the category tag", () => {
  it.each([
    ["latency", { metric: "latency" }],
    ["http_req_duration", { metric: "latency" }],
    ["errors", { metric: "error_rate" }],
    ["http_req_failed", { metric: "error_rate" }],
    ["blocked", { metric: "block_rate" }],
    ["service_time", { metric: "service_time" }],
    ["send_lag", { metric: "send_lag" }],
    ["achieved_rate", { metric: "achieved_rate" }],
    ["rate_ratio", { metric: "rate_ratio" }],
    ["latency{category:security}", { metric: "latency", category: "security" }],
    ["correctness{ category : policy }", { metric: "correctness", category: "policy" }],
    ["error_rate{category:auth-api}", { metric: "error_rate", category: "auth-api" }],
  ])("%j", (text, expected) => {
    expect(parseMetricSelector(text)).toEqual(expected);
  });

  it.each([
    ["latncy", 'unknown metric "latncy" (did you mean latency?)'],
    ["cpu", 'unknown metric "cpu"; metrics: latency, service_time'],
    ["latency{category:security", 'expected "}" to close the tag'],
    ["latency{status:200}", 'unknown tag "status": the only tag is category'],
    ["latency{category:security,category:policy}", "only one tag is supported"],
    ["latency{category:Security}", '"Security" is not a category name'],
    ["latency{category:}", '"" is not a category name'],
    ["latency{category:a}x", 'unexpected "x" after "}"'],
    ["send_lag{category:normal}", "send_lag has no per-category values"],
    ["achieved_rate{category:normal}", "achieved_rate has no per-category values"],
  ])("rejects %j", (text, message) => {
    expect(errorOf(() => parseMetricSelector(text)).message).toContain(message);
  });
});

describe("parseThreshold: aggregations must fit the metric", () => {
  it.each([
    ["error_rate", "avg<5", "avg does not apply to error_rate (a rate metric): use rate, value, count"],
    [
      "latency",
      "rate<0.1",
      "rate does not apply to latency (a trend metric): use p(N), avg, med, min, max, count",
    ],
    ["achieved_rate", "p(95)>10", "p(N) does not apply to achieved_rate (a gauge metric): use value"],
    ["correctness", "count>1", "count does not apply to correctness"],
    ["error_rate", "rate<5", "a rate is a fraction between 0 and 1 (0.001 is 0.1%), got 5"],
    ["correctness", "value>=99", "a rate is a fraction between 0 and 1"],
  ])("%s: %s", (selector, expression, message) => {
    expect(errorOf(() => parseThreshold(selector, expression)).message).toContain(message);
  });

  it("defaults to the target level, no abort", () => {
    expect(parseThreshold("latency", "p(95)<10")).toEqual({
      metric: "latency",
      aggregation: "p",
      percentile: 95,
      operator: "<",
      bound: 10,
      level: "target",
      abortOnFail: false,
      delayAbortEvalMs: 0,
    });
    expect(parseThreshold("error_rate", "count<10").bound).toBe(10);
    expect(parseThreshold("achieved_rate", "value>=900").bound).toBe(900);
  });

  it("reads the profile's object form with level, abortOnFail and delayAbortEval", () => {
    expect(
      parseThresholdItem(
        "latency",
        { threshold: "p(95)<20", level: "degraded", abortOnFail: true, delayAbortEval: "10s" },
        "thresholds.latency[1]",
      ),
    ).toMatchObject({ level: "degraded", abortOnFail: true, delayAbortEvalMs: 10_000, bound: 20 });
    expect(
      parseThresholdItem("latency", { threshold: "avg<5", delayAbortEval: 2 }, "x").delayAbortEvalMs,
    ).toBe(2000);
    const error = errorOf(() =>
      parseThresholdItem("latency", { threshold: "p(95<20" }, "thresholds.latency[1]"),
    );
    expect(error.field).toBe("thresholds.latency[1].threshold");
    expect(
      errorOf(() => parseThresholdItem("latency", { threshold: "avg<5", delayAbortEval: "soon" }, "t")).field,
    ).toBe("t.delayAbortEval");
  });
});

describe("parseCliThreshold: --threshold 'SELECTOR:EXPRESSION[@LEVEL]'", () => {
  it.each([
    ["latency:p(95)<10", "latency", "target", 95],
    ["latency:p(95)<20@degraded", "latency", "degraded", 95],
    ["latency{category:security}:p(99)<25", "latency{category:security}", "target", 99],
    ["latency{category:security}:p(99)<=50@degraded", "latency{category:security}", "degraded", 99],
    ["http_req_duration:p(99.9)<100@target", "latency", "target", 99.9],
  ])("%j", (text, selector, level, percentile) => {
    const threshold = parseCliThreshold(text);
    expect(selectorOf(threshold)).toBe(selector);
    expect(threshold.level).toBe(level);
    expect(threshold.percentile).toBe(percentile);
  });

  it("round-trips through formatThreshold", () => {
    for (const threshold of DEFAULT_THRESHOLDS) {
      expect(parseCliThreshold(formatThreshold(threshold))).toEqual(threshold);
    }
    expect(formatThreshold(parseCliThreshold("errors:rate===0@degraded"))).toBe(
      "error_rate:rate==0@degraded",
    );
  });

  it.each([
    ["latency", "--threshold", '"latency" at position 8: expected METRIC:EXPRESSION[@LEVEL]'],
    ["latency:p(95)<10@critical", "--threshold", 'at position 18: unknown level "critical"'],
    // Positions count from the start of the flag's value, not of the expression.
    ["latency:p(95<10", "--threshold", '"latency:p(95<10" at position 13: expected ")"'],
    ["latency{category:security}:p(99)<", "--threshold", "at position 34: expected a number"],
    ["latncy:p(95)<10", "--threshold", 'at position 1: unknown metric "latncy"'],
    ["error_rate:avg<1", "--threshold", "avg does not apply to error_rate"],
  ])("rejects %j", (text, field, message) => {
    const error = errorOf(() => parseCliThreshold(text));
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });
});

describe("DEFAULT_THRESHOLDS and layering", () => {
  it("express the spec's Target Metrics table", () => {
    expect(DEFAULT_THRESHOLDS.map(formatThreshold)).toEqual([
      "latency:p(50)<3",
      "latency:p(50)<=5@degraded",
      "latency:p(95)<10",
      "latency:p(95)<=20@degraded",
      "latency:p(99)<25",
      "latency:p(99)<=50@degraded",
      "rate_ratio:value>=0.95",
      "rate_ratio:value>=0.5@degraded",
      "error_rate:rate==0",
      "error_rate:rate<=0.001@degraded",
      "block_rate:rate>0@degraded",
      "correctness{category:normal}:rate==1",
      "correctness{category:normal}:rate>=0.95@degraded",
      "correctness{category:security}:rate==1@degraded",
      "correctness{category:policy}:rate==1@degraded",
      "correctness{category:llm}:rate==1",
      "correctness{category:llm}:rate>=0.95@degraded",
    ]);
    expect(Object.isFrozen(DEFAULT_THRESHOLDS)).toBe(true);
  });

  it("the policy-inactive check only applies when the mix must be blocked", () => {
    const normalOnly = defaultThresholds({ categories: ["normal"], expectsBlocks: false });
    expect(normalOnly.some((threshold) => threshold.metric === "block_rate")).toBe(false);
    const custom = defaultThresholds({
      categories: ["auth"],
      expectsBlocks: true,
      enforcingCategories: ["auth"],
    });
    expect(custom.filter((threshold) => threshold.category === "auth").map(formatThreshold)).toEqual([
      "correctness{category:auth}:rate==1@degraded",
    ]);
  });

  it("a later layer replaces every threshold of the same selector, and only those", () => {
    const file = [
      parseThreshold("latency", "p(95)<50"),
      parseThreshold("latency{category:security}", "p(99)<80"),
    ];
    const merged = mergeThresholds(DEFAULT_THRESHOLDS, file);
    expect(merged.filter((threshold) => threshold.metric === "latency").map(formatThreshold)).toEqual([
      "latency:p(95)<50",
      "latency{category:security}:p(99)<80",
    ]);
    expect(merged.filter((threshold) => threshold.metric === "error_rate")).toHaveLength(2);
    const cli = [parseCliThreshold("latency{category:security}:p(99)<30@degraded")];
    expect(
      mergeThresholds(merged, cli)
        .filter((threshold) => threshold.category === "security" && threshold.metric === "latency")
        .map(formatThreshold),
    ).toEqual(["latency{category:security}:p(99)<30@degraded"]);
  });
});
