#!/usr/bin/env node
/**
 * The `load-test` executable. It restarts Node.js with the V8 flags a load test needs, then runs
 * the CLI (`main.ts`) in that child. When the flags are already there it runs the CLI itself.
 *
 * Why a restart: V8's memory reducer forces a memory-reducing full GC once the heap has gone
 * 100 s without a full GC. In a process under load, that GC throws away the optimized hot path
 * ("weak objects": the hidden classes of per-request objects die between two requests) and
 * leaves the heap so small that a full GC follows every ~3 s. Measured at 10k req/s: per-second
 * p99 0.3–2 ms before 100 s, 13–52 ms every third second after it, and none of that with
 * `--no-memory-reducer` (docs/BENCHMARKS.md, "Episodes behind the in-flight cap"). The flag works
 * only on node's command line: V8 sets the reducer up when the process starts, and
 * `v8.setFlagsFromString` does not stop it.
 *
 * `LOAD_TEST_NO_RESPAWN=1` runs the CLI in this process, without the flag.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { hasNodeFlags, NODE_FLAGS } from "./node-flags.js";
import { watchedEnv, watchedStdio } from "./parent-watch.js";
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function respawn(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...NODE_FLAGS, ...process.argv.slice(1)], {
    // An IPC channel the child watches: it ends when this process dies, even by SIGKILL, which
    // no handler here could pass on (parent-watch.ts).
    stdio: watchedStdio("inherit"),
    env: watchedEnv(),
    // Its own process group: the terminal's Ctrl-C reaches only this process, which passes each
    // signal on once, so a second Ctrl-C is still the CLI's "stop now" and not a duplicate.
    detached: true,
  });
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
  child.on("error", (error) => {
    process.stderr.write(`load-test: internal error: could not start node: ${error.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
  });
}

if (process.env.LOAD_TEST_NO_RESPAWN === "1" || hasNodeFlags(process.execArgv)) {
  await import("./main.js");
} else {
  respawn();
}
