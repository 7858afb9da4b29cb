/**
 * The monitor's own process: below the generator's priority (SCHED_IDLE on Linux, every thread),
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
  it.runIf(process.platform === "linux" && existsSync("/usr/bin/chrt"))(
    "runs every thread under SCHED_IDLE",
    async () => {
      const monitor = startMonitor(OPTIONS);
      const pid = monitor.pid as number;
      try {
        // Its first live report: node is up with all its threads.
        await until(
          () => existsSync(`/proc/${pid}/task`) && readdirSync(`/proc/${pid}/task`).length >= 5,
          5000,
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const policies = readdirSync(`/proc/${pid}/task`).map(
          (tid) => /policy\s+:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, "utf8"))?.[1],
        );
        expect(policies.length).toBeGreaterThanOrEqual(5);
        // 5 is SCHED_IDLE (linux/sched.h).
        expect(new Set(policies)).toEqual(new Set(["5"]));
      } finally {
        await monitor.stop();
      }
      expect(alive(pid)).toBe(false);
    },
  );

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
