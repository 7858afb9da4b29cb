/**
 * Node.js flags every process that generates or serves load starts with: the `load-test`
 * executable restarts itself with them (bin.ts), and the demo's gateway child gets them too.
 * `--no-memory-reducer`: see bin.ts for why, and why it cannot be set at run time.
 */
export const NODE_FLAGS: readonly string[] = ["--no-memory-reducer"];

/** True when this node was started with every one of NODE_FLAGS. */
export function hasNodeFlags(execArgv: readonly string[]): boolean {
  return NODE_FLAGS.every((flag) => execArgv.includes(flag));
}
