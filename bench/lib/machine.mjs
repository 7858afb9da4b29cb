// What the figures were measured on: they mean little without the machine, the versions and how
// busy the machine was (other engineers' test runs share these two cores).
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cpus, release, totalmem } from "node:os";
import { loadAverage, pinning } from "./proc.mjs";

function run(command, args, cwd) {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 5000, cwd });
  return result.status === 0 ? result.stdout.trim() : null;
}

function cpuModel() {
  const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return match ? match[1].trim() : (cpus()[0]?.model ?? "unknown");
}

function gitState(cwd) {
  const commit = run("git", ["rev-parse", "--short", "HEAD"], cwd);
  const status = run("git", ["status", "--porcelain", "--", "src"], cwd);
  return { commit, srcDirty: status === null ? null : status.length > 0 };
}

/** Machine, versions and load, recorded with every result. */
export function describeMachine(cwd) {
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    distribution: run("sh", ["-c", ". /etc/os-release && echo $PRETTY_NAME"]),
    taskset: pinning.available,
    git: gitState(cwd),
    // Others rebuild dist/ while they work: this says which build was measured.
    distBuiltAt: statSync(join(cwd, "dist", "cli", "main.js")).mtime.toISOString(),
    loadBefore: loadAverage(),
  };
}

/** A one-line description for the Markdown header. */
export function machineLine(machine) {
  const dirty = machine.git.srcDirty ? " (src/ had uncommitted changes)" : "";
  return (
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node.js ${machine.node}; ` +
    `Linux ${machine.kernel} (${machine.distribution ?? "unknown distribution"}); ` +
    `commit ${machine.git.commit ?? "?"}${dirty}; ` +
    (machine.taskset ? "pinned with taskset" : "unpinned (no taskset)")
  );
}
