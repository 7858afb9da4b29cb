/**
 * The monitor's own process: below the generator's priority (nice 19, every thread),
 * and gone when the generator is, even killed (docs/MONITOR.md "Off the hot path").
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startMonitor } from "../../src/monitor/monitor.js";

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
});
