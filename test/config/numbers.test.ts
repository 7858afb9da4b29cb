import { describe, expect, it } from "vitest";
import { MAX_TIMER_MS, parseDurationMs, timerLimitProblem } from "../../src/config/duration.js";
import { parseDecimal, parseWholeNumber } from "../../src/config/numbers.js";

describe("numbers on the command line are plain decimals", () => {
  it.each([
    ["10", 10],
    ["0.5", 0.5],
    [".5", 0.5],
    ["5.", 5],
    [" 7 ", 7],
    ["0", 0],
  ])("parseDecimal(%j) = %d", (text, value) => {
    expect(parseDecimal(text)).toBe(value);
  });

  it.each(["0x10", "0b11", "0o7", "1e3", "Infinity", "NaN", "", " ", "-1", "+1", "1_000", "1,5", "10 20"])(
    "parseDecimal(%j) is refused",
    (text) => {
      expect(parseDecimal(text)).toBeUndefined();
    },
  );

  it("parseWholeNumber takes digits only", () => {
    expect(parseWholeNumber("16")).toBe(16);
    expect(parseWholeNumber("0x10")).toBeUndefined();
    expect(parseWholeNumber("2.5")).toBeUndefined();
    expect(parseWholeNumber("1e1")).toBeUndefined();
    expect(parseWholeNumber("99999999999999999999")).toBeUndefined();
  });
});

describe("durations that reach a timer", () => {
  it("are bounded by 2^31 - 1 ms, the longest a Node.js timer waits", () => {
    expect(MAX_TIMER_MS).toBe(2_147_483_647);
    expect(timerLimitProblem(parseDurationMs("596h") as number)).toBeUndefined();
    expect(timerLimitProblem(MAX_TIMER_MS)).toBeUndefined();
    expect(timerLimitProblem(MAX_TIMER_MS + 1)).toMatch(/at most 596h/);
    expect(timerLimitProblem(parseDurationMs("600h") as number)).toMatch(/2\^31 ms/);
  });
});
