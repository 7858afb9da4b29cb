import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS } from "./node-flags.js";
import { watchedEnv, watchedStdio } from "./parent-watch.js";

export interface GatewayProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const READY_LINE = /listening on (http:\/\/\S+)/;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Starts `load-test serve` as a child process (same process tree) on an ephemeral loopback port.
 * The gateway gets its own event loop and core, so the demo measures the gateway and not two
 * programs sharing one event loop; it is stopped by its PID (SIGTERM, then SIGKILL).
 */
export function startGatewayProcess(llmLatency: string): Promise<GatewayProcess> {
  const cliPath = fileURLToPath(new URL("./main.js", import.meta.url));
  const child: ChildProcess = spawn(
    process.execPath,
    // Without V8's memory reducer (node-flags.ts): its forced full GC 100 s after start
    // deoptimized the busy gateway's hot path (docs/GATEWAY.md, "Long runs").
    [...NODE_FLAGS, cliPath, "serve", "--port", "0", "--host", "127.0.0.1", "--llm-latency", llmLatency],
    // Its own process group: a terminal's Ctrl-C reaches only the load test, which then
    // finishes its requests in flight against a gateway that is still up, and stops it last.
    // The IPC channel ends the gateway when the demo dies, even by SIGKILL (parent-watch.ts).
    { stdio: watchedStdio("pipe"), env: watchedEnv(), detached: true },
  );
  // Never leave the gateway behind when the CLI exits abruptly (second Ctrl-C).
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      process.off("exit", killOnExit);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killTimer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(killTimer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the reference gateway did not start within ${START_TIMEOUT_MS / 1000}s`));
    }, START_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the reference gateway exited with code ${code} before it was ready`));
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const match = READY_LINE.exec(line);
      if (!match) return;
      clearTimeout(timer);
      lines.close();
      child.stdout?.resume();
      resolve({ url: match[1] as string, pid: child.pid as number, stop });
    });
  });
}
