import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { InputError, isLoopbackTarget, parseRunOptions, resolveThreads } from "../../src/config/options.js";

describe("--threads", () => {
  const cores = availableParallelism();

  it("defaults to one per core, minus one for a target on this machine, at most --workers", () => {
    // Parsing only: nothing is sent anywhere. A remote host under the reserved .invalid TLD.
    const remote = new URL("http://127.0.0.1");
    remote.hostname = "gateway.invalid";
    expect(resolveThreads(undefined, 64, remote)).toBe(Math.min(cores, 64));
    expect(resolveThreads(undefined, 64, new URL("http://127.0.0.1:8080"))).toBe(Math.max(1, cores - 1));
    expect(resolveThreads(undefined, 1, remote)).toBe(1);
    const options = parseRunOptions({ target: "http://localhost:9", rps: "10", duration: "1s" });
    expect(options.threads).toBe(Math.max(1, Math.min(cores - 1, options.workers)));
  });

  it("takes an explicit count from 1 to 64, never more than --workers", () => {
    expect(resolveThreads("3", 10)).toBe(3);
    expect(
      parseRunOptions({ target: "http://127.0.0.1:9", rps: "10", duration: "1s", threads: "2" }).threads,
    ).toBe(2);
    for (const text of ["0", "-1", "1.5", "65", "two", ""]) {
      expect(() => resolveThreads(text, 100)).toThrow(InputError);
    }
    expect(() => resolveThreads("5", 4)).toThrow(
      /--threads: 5 threads need at least as many in-flight slots, but --workers is 4/,
    );
  });

  it("knows loopback targets (host names parsed only, nothing is contacted)", () => {
    const hostIsLoopback = (host: string): boolean => isLoopbackTarget(new URL(`http://${host}`));
    for (const host of ["127.0.0.1:1", "127.1.2.3", "localhost:8080", "[::1]:80", "api.localhost"])
      expect(hostIsLoopback(host), host).toBe(true);
    for (const host of ["10.0.0.1", "gateway.invalid", "[::2]", "localhost.invalid"])
      expect(hostIsLoopback(host), host).toBe(false);
  });
});
