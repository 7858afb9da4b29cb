import { describe, expect, it } from "vitest";
import type { MonitorResult, RunResult } from "../../../src/metrics/result.js";
import { monitorBlocks, perSecond } from "../../../src/report/html/monitor-view.js";
import type { ChartSpec } from "../../../src/report/html/page.js";

const SOURCE = "http://127.0.0.1:1/metrics";

function monitor(): MonitorResult {
  return {
    intervalMs: 1000,
    sources: [
      { kind: "scrape", name: SOURCE, attempts: 6, failures: 0, series: 4, detected: "node" },
      {
        kind: "scrape",
        name: "http://127.0.0.1:2/metrics",
        attempts: 6,
        failures: 6,
        series: 0,
        lastError: "connection refused",
      },
    ],
    series: [
      {
        name: "cpu",
        unit: "cores",
        labels: { source: SOURCE },
        points: [-1.01, -0.01, 0.99, 1.99, 2.99].map((t, i) => ({ t, value: i / 10 })),
      },
      {
        name: "memory_rss",
        unit: "bytes",
        labels: { source: SOURCE },
        points: [{ t: 0.5, value: 100 * 1024 * 1024 }],
      },
      {
        name: "pool_in_use",
        unit: "count",
        labels: { source: SOURCE, pool: "db" },
        points: [{ t: 1.2, value: 3 }],
      },
      {
        name: "pool_limit",
        unit: "count",
        labels: { source: SOURCE, pool: "db" },
        points: [{ t: 1.2, value: 10 }],
      },
      {
        name: "http_requests_total",
        unit: "per_sec",
        labels: { source: SOURCE, code: "500" },
        points: [{ t: 2.5, value: 7 }],
      },
    ],
    summary: {
      cpu: { peakCores: 0.4, meanCores: 0.2, limitCores: 1, source: SOURCE },
      pools: [{ name: "db", labels: { pool: "db" }, peakInUse: 3, limit: 10, atLimit: false }],
      logs: [],
      warnings: [],
    },
  };
}

describe("the HTML report's Target section", () => {
  it("puts each point in the timeline second it falls in (the warm-up's are left out)", () => {
    const cpu = monitor().series[0]!;
    expect(perSecond(cpu, [0, 1, 2, 3])).toEqual([0.2, 0.3, 0.4, null]);
  });

  it("charts CPU against its cores, memory in MiB, pools against their limit, other series by name, on the run's time axis", () => {
    const result = { monitor: monitor() } as unknown as RunResult;
    const blocks = monitorBlocks(result, [0, 1, 2], "run-time", (name) => `run-${name}`)!;
    const charts = blocks.flatMap((block) => ("chart" in block ? [block.chart] : [])) as ChartSpec[];
    expect(charts.map((chart) => chart.title)).toEqual([
      "Target CPU",
      "Target memory",
      "Target pools: in use against the limit",
      "http_requests_total",
    ]);
    for (const chart of charts) {
      expect(chart.sync).toBe("run-time");
      expect(chart.x.values).toEqual([0, 1, 2]);
    }
    expect(charts[0]!.series.map((s) => [s.label, s.values])).toEqual([
      [SOURCE, [0.2, 0.3, 0.4]],
      ["its cores (1)", [1, 1, 1]],
    ]);
    expect(charts[1]!.series[0]!.values).toEqual([100, null, null]);
    expect(charts[2]!.series.map((s) => [s.label, s.values, s.dash ?? false])).toEqual([
      ["db", [null, 3, null], false],
      ["db limit", [null, 10, null], true],
    ]);
    expect(charts[3]!.series[0]).toMatchObject({ label: "code=500", values: [null, null, 7] });
    const html = "html" in blocks[0]! ? blocks[0].html : "";
    expect(html).toContain("peak 0.4 of 1");
    expect(html).toContain("6 of 6 reads failed (connection refused)");
  });

  it("no monitor, no section", () => {
    expect(monitorBlocks({} as RunResult, [0], "s", (n) => n)).toBeUndefined();
  });
});
