import { describe, expect, it } from "vitest";
import {
  composeStripe,
  parseRunId,
  parseShard,
  parseStartAt,
  shardFromEnvironment,
} from "../../src/distributed/flags.js";
import { constantRatePlan } from "../../src/plan/constant.js";
import { stripePlan } from "../../src/plan/stripe.js";

describe("--shard, --start-at, --run-id", () => {
  it("reads K/N and refuses anything else naming the flag", () => {
    expect(parseShard("1/3")).toEqual({ index: 1, count: 3 });
    for (const bad of ["3/3", "-1/2", "1", "a/b", "0/0", "1/2/3"])
      expect(() => parseShard(bad)).toThrow(/^--shard: /);
  });

  it("reads RFC 3339 with a zone and +DURATION; the past and other text are refused", () => {
    const now = Date.parse("2026-12-04T16:00:00Z");
    expect(parseStartAt("+10s", now)).toBe(now + 10_000);
    expect(parseStartAt("2026-12-04T16:05:00Z", now)).toBe(now + 300_000);
    expect(parseStartAt("2026-12-04T17:05:00+01:00", now)).toBe(now + 300_000);
    expect(() => parseStartAt("2026-12-04T15:59:59Z", now)).toThrow(/^--start-at: .*in the past/);
    for (const bad of ["tomorrow", "2026-12-04 16:05", "+", "+10 parsecs", "2026-12-04T16:05:00"])
      expect(() => parseStartAt(bad, now)).toThrow(/^--start-at: /);
  });

  it("takes the shard from a Kubernetes Indexed Job's environment", () => {
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: "2", LOAD_TEST_SHARDS: "4" })).toBe("2/4");
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: "2" })).toBeUndefined();
    expect(parseRunId("2026-12-04.r_1")).toBe("2026-12-04.r_1");
    expect(() => parseRunId("a b")).toThrow(/^--run-id: /);
  });

  it("threads of shards are stripes of the whole plan: their union is the plan, each request once", () => {
    const plan = constantRatePlan(97, 1000);
    const times: number[] = [];
    for (let shard = 0; shard < 3; shard++)
      for (let thread = 0; thread < 2; thread++) {
        const { index, count } = composeStripe({ index: shard, count: 3 }, { index: thread, count: 2 });
        const part = stripePlan(plan, index, count);
        for (let j = 0; j < part.count; j++) times.push(part.intendedAtMs(j));
      }
    const whole = Array.from({ length: plan.count }, (_, i) => plan.intendedAtMs(i));
    expect(times.sort((a, b) => a - b)).toEqual(whole);
  });
});
