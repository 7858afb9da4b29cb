import { describe, expect, it } from "vitest";
import { formatDurationMs, parseDurationMs } from "../../src/config/duration.js";

describe("parseDurationMs", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h2m3s", 3_723_000],
    ["250ms", 250],
    ["1.5s", 1500],
    ["60", 60_000],
    [" 10s ", 10_000],
  ])("%s -> %d ms", (text, expectedMs) => {
    expect(parseDurationMs(text)).toBe(expectedMs);
  });

  it.each(["", "s", "10x", "ten seconds", "10s junk", "-5s", "1m 30s", "5sec"])("rejects %j", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it("formats durations the way users write them", () => {
    expect(formatDurationMs(90_000)).toBe("1m30s");
    expect(formatDurationMs(3_600_000)).toBe("1h");
    expect(formatDurationMs(0)).toBe("0ms");
    expect(formatDurationMs(10_000)).toBe("10s");
  });
});
