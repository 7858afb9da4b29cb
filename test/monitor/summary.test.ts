import { describe, expect, it } from "vitest";
import { monitorWarnings, summarize } from "../../src/monitor/summary.js";
import type { MonitorSeries } from "../../src/monitor/types.js";

const SOURCE = "http://127.0.0.1:1/metrics";

function series(
  name: string,
  values: number[],
  labels: Record<string, string> = { source: SOURCE },
): MonitorSeries {
  return { name, unit: "", labels, points: values.map((value, t) => ({ t, value })) };
}

const MIB = 1024 * 1024;
const noLogs = { logs: [] };

describe("monitor summary and warning signs", () => {
  it("CPU peak and mean of the chosen source; target-bound only when latency was degraded", () => {
    const summary = summarize([series("cpu", [0.2, 0.95, 0.5])], {
      cpuSource: SOURCE,
      limitCores: 1,
      ...noLogs,
    });
    expect(summary.cpu).toEqual({ peakCores: 0.95, meanCores: 0.55, limitCores: 1, source: SOURCE });
    const result = { sources: [], summary };
    expect(monitorWarnings(result, false)).toEqual([]);
    const warnings = monitorWarnings(result, true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^target-bound: the target's CPU reached 0.95 of its 1 core/);
    expect(summary.warnings).toEqual(warnings);
  });

  it("CPU below 90% of the cores is no sign, and an unknown core count judges nothing", () => {
    const below = summarize([series("cpu", [0.5, 1.7])], { cpuSource: SOURCE, limitCores: 2, ...noLogs });
    expect(monitorWarnings({ sources: [], summary: below }, true)).toEqual([]);
    const unknown = summarize([series("cpu", [5])], { cpuSource: SOURCE, limitCores: null, ...noLogs });
    expect(monitorWarnings({ sources: [], summary: unknown }, true)).toEqual([]);
  });

  it("memory that grew and still grows is a possible leak; growth that levelled off is not", () => {
    const growing = [100, 110, 120, 130, 140, 150, 160, 170].map((v) => v * MIB);
    const leak = summarize([series("memory_rss", growing)], { cpuSource: SOURCE, limitCores: 1, ...noLogs });
    expect(leak.memory).toMatchObject({
      startBytes: 100 * MIB,
      endBytes: 170 * MIB,
      growthBytes: 70 * MIB,
      settled: false,
    });
    expect(monitorWarnings({ sources: [], summary: leak }, false)[0]).toMatch(
      /^possible leak: the target's memory grew from 100.0 MiB to 170.0 MiB/,
    );
    const levelled = [100, 130, 160, 170, 170, 171, 170, 170].map((v) => v * MIB);
    const settled = summarize([series("memory_rss", levelled)], {
      cpuSource: SOURCE,
      limitCores: 1,
      ...noLogs,
    });
    expect(settled.memory?.settled).toBe(true);
    expect(monitorWarnings({ sources: [], summary: settled }, false)).toEqual([]);
    // Too few points to say it still grows.
    const short = summarize([series("memory_rss", [100 * MIB, 200 * MIB])], {
      cpuSource: SOURCE,
      limitCores: 1,
      ...noLogs,
    });
    expect(short.memory?.settled).toBe(true);
  });

  it("a pool at its limit, error log lines, and failing sources are signs", () => {
    const labels = { source: SOURCE, pool: "db" };
    const summary = summarize(
      [series("pool_in_use", [3, 10, 7], labels), series("pool_limit", [10, 10, 10], labels)],
      {
        cpuSource: undefined,
        limitCores: null,
        logs: [{ file: "/var/log/app.log", pattern: "ERROR", lines: 2, firstLines: ["ERROR boom"] }],
      },
    );
    expect(summary.pools).toEqual([{ name: "db", labels, peakInUse: 10, limit: 10, atLimit: true }]);
    const warnings = monitorWarnings(
      {
        sources: [
          { name: "http://x/metrics", attempts: 5, failures: 5, lastError: "no answer within 1000 ms" },
        ],
        summary,
      },
      false,
    );
    expect(warnings).toEqual([
      "pool at its limit: db reached 10 of 10; requests waited for it",
      "2 error log line(s) in /var/log/app.log during the run (/ERROR/), first: ERROR boom",
      "monitor: http://x/metrics failed 5 of 5 time(s) (no answer within 1000 ms); its series have gaps",
    ]);
  });
});
