// Process plumbing for the benchmark: pinned spawns, /proc readings, bounded waits, stop by PID.
// Linux only (reads /proc); every wait has a deadline and every child is stopped by its own PID.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect, createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";

const CLOCK_TICKS_PER_SEC = clockTicks();
const OUTPUT_CAP_CHARS = 4_000_000; // a runaway child's output must not grow our own memory

function clockTicks() {
  const result = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5000 });
  const ticks = Number(result.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** True when `command` runs (exit status 0..255 without a spawn error), e.g. `taskset -V`. */
export function commandWorks(command, args = ["--version"]) {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 5000 });
  return !result.error;
}

/** Full path of `name` on PATH, or null. */
export function which(name) {
  const result = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8", timeout: 5000 });
  const path = result.stdout?.trim();
  return result.status === 0 && path ? path : null;
}

const hasTaskset = commandWorks("taskset", ["-V"]);
export const pinning = {
  available: hasTaskset,
  note: hasTaskset ? null : "taskset not found: every process ran unpinned",
};

/**
 * [command, args] that runs on `core` when taskset exists. taskset exec()s the command, so the
 * PID we get is the PID of the measured program itself (its /proc files are the ones we want).
 */
export function pinnedCommand(core, command, args) {
  if (!pinning.available || core === null || core === undefined) return [command, args];
  return ["taskset", ["-c", String(core), command, ...args]];
}

/** Splits /proc/<pid>/stat after the command name, which may itself contain spaces and ")". */
function statFields(text) {
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** CPU seconds (user + system) a live process has used so far, or null once it is gone. */
export function processCpuSec(pid) {
  try {
    const fields = statFields(readFileSync(`/proc/${pid}/stat`, "utf8"));
    // Fields 14 and 15 of proc(5) (utime, stime) are at 11 and 12 once the first two are cut.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return null;
  }
}

/**
 * CPU seconds of this process's children that have exited and been reaped (cutime + cstime of
 * /proc/self/stat). The difference around one child's life is that child's whole CPU, with no
 * sampling gap at its end, as long as no other child is reaped meanwhile (the bench runs its
 * measured children one at a time; targets live on until their section ends).
 */
export function reapedChildrenCpuSec() {
  const fields = statFields(readFileSync("/proc/self/stat", "utf8"));
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SEC;
}

/** { rssKiB, hwmKiB } from /proc/<pid>/status, or null once the process is gone. */
export function processMemoryKiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    const memory = { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
    // A process that exited but is not reaped yet has a status file without these lines.
    return Number.isFinite(memory.rssKiB) ? memory : null;
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine and of each core, from /proc/stat. */
export function machineCpuTicks() {
  const result = {};
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const match = /^(cpu\d*)\s+(.*)$/.exec(line);
    if (!match) continue;
    const values = match[2].split(/\s+/).map(Number);
    const idle = values[3] + (values[4] ?? 0); // idle + iowait
    const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0); // without guest time
    result[match[1]] = { busy: total - idle, total };
  }
  return result;
}

/**
 * CPU used by everything on the machine between two machineCpuTicks() readings, in cores
 * (1.0 = one core busy for the whole interval).
 */
export function busyCores(before, after) {
  const busy = (after.cpu.busy - before.cpu.busy) / CLOCK_TICKS_PER_SEC;
  const cores = Object.keys(after).filter((key) => key !== "cpu").length || 1;
  const wallSec = (after.cpu.total - before.cpu.total) / CLOCK_TICKS_PER_SEC / cores;
  return wallSec > 0 ? busy / wallSec : 0;
}

/** The 1, 5 and 15 minute load averages. */
export function loadAverage() {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
}

/** Children alive right now, so that Ctrl-C on the bench can stop each of them by PID. */
const liveChildren = new Set();

function track(child) {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  child.once("error", () => liveChildren.delete(child));
  return child;
}

/** Stops every child this bench started and is still running (each by its own PID). */
export function stopAllChildren() {
  return Promise.all([...liveChildren].map((child) => stopChild(child, 1000)));
}

function appendCapped(current, chunk) {
  return current.length >= OUTPUT_CAP_CHARS ? current : current + chunk;
}

/** Sends SIGTERM to one child by PID, then SIGKILL if it is still there after `graceMs`. */
export function stopChild(child, graceMs = 2000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(killTimer);
      resolve();
    });
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {
      clearTimeout(killTimer);
      resolve();
    }
  });
}

/**
 * Starts a server that prints "listening on http://HOST:PORT" and waits for that line (at most
 * `timeoutMs`). Returns { child, pid, url, stop() }.
 */
export function startServer(core, command, args, timeoutMs = 15_000) {
  const [file, argv] = pinnedCommand(core, command, args);
  const child = track(spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"] }));
  let output = "";
  return new Promise((resolve, reject) => {
    const fail = (message) => {
      clearTimeout(deadline);
      stopChild(child).then(() => reject(new Error(`${command} ${args.join(" ")}: ${message}`)));
    };
    const deadline = setTimeout(
      () => fail(`no "listening on" line within ${timeoutMs} ms: ${output.slice(-500)}`),
      timeoutMs,
    );
    const onData = (chunk) => {
      output = appendCapped(output, chunk.toString());
      const match = /listening on (http:\/\/[^\s/]+)/.exec(output);
      if (!match) return;
      clearTimeout(deadline);
      child.stdout.off("data", onData);
      child.stdout.resume(); // keep draining so the server never blocks on a full pipe
      resolve({ child, pid: child.pid, url: match[1], stop: () => stopChild(child) });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => (output = appendCapped(output, chunk.toString())));
    child.once("error", (error) => fail(error.message));
    child.once("exit", (code) => fail(`exited (${code}) before listening: ${output.slice(-500)}`));
  });
}

/** A TCP port free on loopback right now (nginx needs its port in its configuration). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts nginx in the foreground as one process (`master_process off`, so the PID is the one
 * that serves and its CPU is the target's), with `config` written to `dir`, and waits until
 * `port` accepts connections. Returns { child, pid, url, stop() } like startServer.
 */
export async function startNginx(core, nginx, dir, config, port, timeoutMs = 15_000) {
  const configFile = join(dir, "nginx.conf");
  writeFileSync(configFile, config);
  const [file, argv] = pinnedCommand(core, nginx, [
    "-p",
    dir,
    "-e",
    join(dir, "error.log"),
    "-c",
    configFile,
  ]);
  const child = track(spawn(file, argv, { stdio: ["ignore", "ignore", "pipe"] }));
  let output = "";
  child.stderr.on("data", (chunk) => (output = appendCapped(output, chunk.toString())));
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${output.slice(-500)}`);
    const accepting = await new Promise((resolve) => {
      const socket = netConnect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (accepting) break;
    if (performance.now() > deadline) {
      await stopChild(child);
      throw new Error(
        `nginx did not accept connections on ${port} within ${timeoutMs} ms: ${output.slice(-500)}`,
      );
    }
    await sleep(100);
  }
  return { child, pid: child.pid, url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/**
 * Runs one measured program to its end on `core`, killed after `timeoutMs` at the latest.
 * `sample(pid, elapsedMs)` is called every `sampleMs` while it runs (RSS, CPU of other processes).
 * Resolves { code, signal, stdout, stderr, wallSec, cpuSec, timedOut }; cpuSec is the child's whole
 * user + system CPU (see reapedChildrenCpuSec).
 */
export function runMeasured(core, command, args, { timeoutMs, sampleMs = 1000, sample, cwd, env } = {}) {
  const [file, argv] = pinnedCommand(core, command, args);
  const cpuBefore = reapedChildrenCpuSec();
  const startedMs = performance.now();
  const child = track(
    spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], cwd, env: { ...process.env, ...env } }),
  );
  let stdout = "";
  let stderr = "";
  let timedOut = false;
  child.stdout.on("data", (chunk) => (stdout = appendCapped(stdout, chunk.toString())));
  child.stderr.on("data", (chunk) => (stderr = appendCapped(stderr, chunk.toString())));
  const sampler = sample
    ? setInterval(() => sample(child.pid, performance.now() - startedMs), sampleMs)
    : undefined;
  const killer = setTimeout(() => {
    timedOut = true;
    stopChild(child);
  }, timeoutMs);
  return new Promise((resolve) => {
    const finish = (code, signal, spawnError) => {
      clearInterval(sampler);
      clearTimeout(killer);
      resolve({
        code,
        signal,
        stdout,
        stderr: spawnError ? `${stderr}${spawnError.message}` : stderr,
        wallSec: (performance.now() - startedMs) / 1000,
        cpuSec: reapedChildrenCpuSec() - cpuBefore,
        timedOut,
      });
    };
    child.once("error", (error) => finish(null, null, error));
    // "close" (not "exit"): the child is reaped and its output fully read.
    child.once("close", (code, signal) => finish(code, signal));
  });
}

/** Waits `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Cores kept busy on the whole machine over the next `windowMs` (nothing of ours should run). */
export async function busyCoresOver(windowMs) {
  const before = machineCpuTicks();
  await sleep(windowMs);
  return busyCores(before, machineCpuTicks());
}
