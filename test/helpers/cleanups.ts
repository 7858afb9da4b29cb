import { afterEach } from "vitest";

/**
 * The file's list of what a test started (servers, transports): each test pushes a stop function,
 * and after each test they run, the last started first.
 */
export function cleanupAfterEach(): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
