/**
 * A node child started by load-test (the CLI under the `load-test` executable, bin.ts; the demo's
 * gateway, gateway-process.ts) must not outlive the process that started it. A parent killed
 * with SIGKILL (a CI timeout, the OOM killer) runs no handler and sends no signal, and a child
 * in its own process group gets none from the terminal either; so the parent gives the child an
 * IPC channel, which the kernel closes when the parent dies, whatever killed it, and the child
 * ends when it closes.
 */

/** Set by the parent on a child that has the IPC channel to watch. */
export const PARENT_WATCH_ENV = "LOAD_TEST_PARENT_WATCH";

/** spawn() stdio for such a child: stdin unused, stdout and stderr as given, the IPC channel. */
export function watchedStdio(stdout: "inherit" | "pipe"): ["ignore", "inherit" | "pipe", "inherit", "ipc"] {
  return ["ignore", stdout, "inherit", "ipc"];
}

/** The environment for such a child. */
export function watchedEnv(): NodeJS.ProcessEnv {
  return { ...process.env, [PARENT_WATCH_ENV]: "1" };
}

/** In the child: calls `onDeath` once the parent that set PARENT_WATCH_ENV is gone. */
export function onParentDeath(onDeath: () => void): void {
  const watched = process.env[PARENT_WATCH_ENV] === "1";
  // Not passed on: a grandchild (the demo's gateway) gets a channel of its own.
  delete process.env[PARENT_WATCH_ENV];
  if (!watched || !process.channel) return;
  // The channel must not keep the process alive once its work is done.
  process.channel.unref();
  process.once("disconnect", onDeath);
}
