/**
 * The monitor's own process: below the generator's priority (nice 19, every thread), gone when
 * the generator is, even killed, and sending the generator only each round's few new points,
 * from which the generator can write the results at once (docs/MONITOR.md "Off the hot path").
 */
import { fork, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startMonitor } from "../../src/monitor/monitor.js";
import type { FromMonitor } from "../../src/monitor/monitor-process.js";
import { startGateway } from "../../src/gateway/gateway.js";

const OPTIONS = { scrapeUrls: [], intervalMs: 1000, metricPatterns: [], logFiles: [], logPattern: "ERROR" };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe("the monitor process", () => {
  it.runIf(process.platform === "linux")("runs every thread at nice 19", async () => {
    const monitor = startMonitor(OPTIONS);
    const pid = monitor.pid as number;
    try {
      // Its first live report: node is up with all its threads.
      await until(
        () => existsSync(`/proc/${pid}/task`) && readdirSync(`/proc/${pid}/task`).length >= 5,
        5000,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      // proc(5): field 19 of /proc/PID/task/TID/stat is the nice value (fields after the
      // parenthesised command name start at field 3).
      const nices = readdirSync(`/proc/${pid}/task`).map(
        (tid) => readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]?.split(" ")[16],
      );
      expect(nices.length).toBeGreaterThanOrEqual(5);
      expect(new Set(nices)).toEqual(new Set(["19"]));
    } finally {
      await monitor.stop();
    }
    expect(alive(pid)).toBe(false);
  });

  it("ends when the process that started it is killed", async () => {
    const script = `
      const { startMonitor } = await import(${JSON.stringify(fileURLToPath(new URL("../../dist/monitor/monitor.js", import.meta.url)))});
      const monitor = startMonitor(${JSON.stringify(OPTIONS)});
      console.log(monitor.pid);
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const monitorPid = await new Promise<number>((resolve) =>
      parent.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    expect(await until(() => alive(monitorPid), 5000)).toBe(true);
    parent.kill("SIGKILL");
    expect(await until(() => !alive(monitorPid), 5000)).toBe(true);
  });

  it("sends each round's new points in a small message; the generator's copy gives the same result", async () => {
    const gateway = await startGateway();
    const options = { ...OPTIONS, scrapeUrls: [`${gateway.url}/metrics`], intervalMs: 200 };
    const child = fork(fileURLToPath(new URL("../../dist/monitor/monitor-process.js", import.meta.url)), [], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const monitor = startMonitor(options);
    try {
      const sizes: number[] = [];
      const ticks: Array<Extract<FromMonitor, { type: "tick" }>> = [];
      child.on("message", (message: FromMonitor) => {
        if (message.type !== "tick") return;
        sizes.push(JSON.stringify(message).length);
        ticks.push(message);
      });
      const startedMs = Date.now();
      child.send({ type: "start", options });
      await monitor.ready(5000);
      expect(await until(() => ticks.length >= 6, 10_000)).toBe(true);
      // The first round names the series; later rounds carry a point each (and the sources' counts).
      expect(ticks[0]?.store.series.map((series) => series.name)).toEqual(
        expect.arrayContaining(["memory_rss", "heap_used", "pool_in_use"]),
      );
      expect(ticks[3]?.store.series).toEqual([]);
      expect(ticks[3]?.store.points.length).toBeGreaterThan(0);
      expect(Math.max(...sizes.slice(1))).toBeLessThan(2000);

      const window = { fromMs: startedMs - 1000, toMs: Date.now() + 60_000, originMs: startedMs };
      const now = monitor.resultNow(window)!;
      const asked = await monitor.result(window);
      if ("failed" in asked) throw new Error(asked.failed);
      // The copy may be a round behind the process: compare the points both hold.
      for (const series of asked.series) {
        const copy = now.series.find(
          (other) =>
            other.name === series.name && JSON.stringify(other.labels) === JSON.stringify(series.labels),
        );
        expect(copy, series.name).toBeDefined();
        expect(copy!.points.length).toBeGreaterThanOrEqual(series.points.length - 1);
        expect(series.points.slice(0, copy!.points.length)).toEqual(copy!.points);
      }
      expect(now.summary.cpu?.source).toBe(`${gateway.url}/metrics`);
    } finally {
      child.kill("SIGKILL");
      await monitor.stop();
      await gateway.close();
    }
  });
});
