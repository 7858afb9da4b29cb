/**
 * The terminal's view of the monitor (docs/MONITOR.md "In the summary"): the summary's "Target"
 * block, and the target's CPU on the live progress line.
 */
import type { MonitorResult } from "../metrics/result.js";

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const INDENT = "              ";

function cores(value: number): string {
  return `${Number(value.toFixed(2))}`;
}

export function formatTargetBlock(monitor: MonitorResult): string[] {
  const { summary } = monitor;
  const lines: string[] = [];
  if (summary.cpu) {
    const { cpu } = summary;
    const limit =
      cpu.limitCores === null ? "" : ` of ${cpu.limitCores} core${cpu.limitCores === 1 ? "" : "s"}`;
    lines.push(`CPU peak ${cores(cpu.peakCores)}${limit}, mean ${cores(cpu.meanCores)} (${cpu.source})`);
  }
  if (summary.memory) {
    const { memory } = summary;
    const sign = memory.growthBytes >= 0 ? "+" : "-";
    lines.push(
      `memory ${mib(memory.startBytes)} -> ${mib(memory.endBytes)} (${sign}${mib(Math.abs(memory.growthBytes))}, ` +
        `peak ${mib(memory.peakBytes)}${memory.settled ? "" : ", still growing"})`,
    );
  }
  for (const pool of summary.pools)
    lines.push(
      `pool ${pool.name} peak ${pool.peakInUse} of ${pool.limit}${pool.atLimit ? " (AT ITS LIMIT)" : ""}`,
    );
  for (const log of summary.logs)
    lines.push(`log ${log.file}: ${log.lines} line(s) matching /${log.pattern}/`);
  const failed = monitor.sources.filter((source) => source.failures > 0);
  lines.push(
    `sources ${monitor.sources.length - failed.length} ok` +
      (failed.length > 0
        ? `, ${failed.length} with failures (${failed.map((source) => `${source.name}: ${source.lastError ?? "failed"}`).join("; ")})`
        : ""),
  );
  return lines.map((line, index) => (index === 0 ? `Target        ${line}` : `${INDENT}${line}`));
}

/** ` | target cpu 0.82/1` for the live line; "" before the first rate. */
export function formatTargetLive(live: { cpuCores?: number; limitCores?: number | null }): string {
  if (live.cpuCores === undefined) return "";
  return ` | target cpu ${cores(live.cpuCores)}${live.limitCores ? `/${live.limitCores}` : ""}`;
}
