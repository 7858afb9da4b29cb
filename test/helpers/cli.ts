import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI_PATH = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
/** The `load-test` executable: restarts node with NODE_FLAGS, then runs CLI_PATH's code. */
export const BIN_PATH = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Calls `then` once the child printed `text` on stderr (e.g. the run's start line), to time signals. */
export function afterStderr(child: ChildProcess, text: string, then: () => void): void {
  let seen = "";
  const onData = (chunk: Buffer): void => {
    seen += chunk.toString();
    if (seen.includes(text)) {
      child.stderr?.off("data", onData);
      then();
    }
  };
  child.stderr?.on("data", onData);
}

/** Spawns the built CLI (`npm test` builds first) with a hard time limit so no test can hang. */
export function runCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    onSpawn?: (child: ChildProcess) => void;
    /** The script node runs; default CLI_PATH. */
    entry?: string;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...options.env };
    delete env.AXONFLOW_ENDPOINT;
    delete env.AXONFLOW_CLIENT_ID;
    Object.assign(env, options.env);
    const child = spawn(process.execPath, [options.entry ?? CLI_PATH, ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const limit = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `load-test ${args.join(" ")} did not end within ${options.timeoutMs ?? 60_000} ms\n${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr });
    });
    options.onSpawn?.(child);
  });
}
