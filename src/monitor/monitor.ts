/**
 * The generator's handle on the monitor (docs/MONITOR.md): starts the collector in a child
 * process of its own (monitor-process.ts), keeps the latest target CPU for the live line, and
 * asks for results by window. A process, not a worker thread: a worker's garbage is collected by
 * V8 helper threads shared with the generator's isolate, at the generator's priority, and parsing
 * a 5 MB page each second makes plenty. The child runs at nice 19 (all its threads), so on a
 * busy machine the generator's threads run first. Every call
 * is bounded in time: a monitor that cannot answer yields no `monitor` part and a warning, never
 * a stalled or failed run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { Window } from "./collector.js";
import type { FromMonitor, ToMonitor } from "./monitor-process.js";
import { monitorResult, type ResultContext } from "./monitor-result.js";
import { SeriesStore } from "./series-store.js";
import type { MonitorLive, MonitorOptions, MonitorResult } from "./types.js";

/** The end-of-run range queries take at most 5 s; this leaves them room and no more. */
const RESULT_TIMEOUT_MS = 8000;
const STOP_GRACE_MS = 500;

export interface Monitor {
  /** The monitor process's id. */
  readonly pid: number | undefined;
  /** Resolves after the first round of reads (at most `timeoutMs`), so a run's warm-up is covered. */
  ready(timeoutMs: number): Promise<void>;
  live(): MonitorLive;
  /** The window's results, or a one-line reason why there are none. */
  result(window: Window): Promise<MonitorResult | { failed: string }>;
  /**
   * At once, from the generator's copy of the series (no range queries): for a forced quit, which
   * cannot wait for the monitor process. Undefined before its first round.
   */
  resultNow(window: Window): MonitorResult | undefined;
  stop(): Promise<void>;
}

function entry(): string {
  const beside = new URL("./monitor-process.js", import.meta.url);
  if (!import.meta.url.endsWith(".ts") || existsSync(beside)) return fileURLToPath(beside);
  return fileURLToPath(new URL("../../dist/monitor/monitor-process.js", import.meta.url));
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * `nice -n 19 node …` (every thread of the child inherits it), else `node …`. Not SCHED_IDLE
 * (`chrt --idle`): under it a busy machine starved the monitor outright (one point in 1.5 s at a
 * 200 ms interval, load average 10 on 2 cores), and a busy machine is when the target's signals
 * matter most; nice 19 keeps the monitor a small share that always runs.
 */
function command(): [string, string[]] {
  const nice = process.platform === "win32" ? undefined : onPath("nice");
  if (nice) return [nice, ["-n", "19", process.execPath, entry()]];
  return [process.execPath, [entry()]];
}

export function startMonitor(options: MonitorOptions): Monitor {
  const [file, args] = command();
  const child: ChildProcess = spawn(file, args, { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  // The monitor never keeps the generator alive: the run decides when it ends.
  child.unref();
  child.channel?.unref();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-500)));
  (child.stderr as Socket | null)?.unref();
  let latest: MonitorLive = {};
  const copy = new SeriesStore();
  let context: ResultContext | undefined;
  let firstRound: () => void = () => undefined;
  const firstRoundDone = new Promise<void>((resolve) => (firstRound = resolve));
  let failure: string | undefined;
  let nextId = 0;
  const waiting = new Map<number, (answer: MonitorResult | { failed: string }) => void>();
  const fail = (why: string): void => {
    failure ??= why;
    firstRound();
    for (const resolve of waiting.values()) resolve({ failed: failure });
  };
  child.on("message", (message: FromMonitor) => {
    if (message.type === "tick") {
      latest = message.live;
      copy.apply(message.store);
      context = message.context ?? context;
      firstRound();
    } else if (message.type === "result") waiting.get(message.id)?.(message.result);
    else if (message.id !== undefined) waiting.get(message.id)?.({ failed: message.message });
  });
  child.on("error", (error) => fail(`monitor process failed: ${error.message}`));
  child.on("exit", (code) =>
    fail(
      code === 0
        ? "monitor process ended"
        : `monitor process ended (${code}): ${stderr.trim().split("\n").pop() ?? ""}`,
    ),
  );
  const post = (message: ToMonitor): void => {
    if (child.connected) child.send(message);
  };
  post({ type: "start", options });
  return {
    pid: child.pid,
    async ready(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        firstRoundDone,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    },
    live: () => latest,
    resultNow: (window) => (context === undefined ? undefined : monitorResult(copy, window, context)),
    result(window) {
      if (failure !== undefined) return Promise.resolve({ failed: failure });
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(
          () => finish({ failed: `monitor results took over ${RESULT_TIMEOUT_MS} ms` }),
          RESULT_TIMEOUT_MS,
        );
        const finish = (answer: MonitorResult | { failed: string }): void => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(answer);
        };
        waiting.set(id, finish);
        post({ type: "result", id, window });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      post({ type: "stop" });
      // A source stuck in a read cannot hold the generator: the process is ended after a grace period.
      const grace = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(grace);
    },
  };
}
