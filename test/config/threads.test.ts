import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { InputError, isLoopbackTarget, parseRunOptions, resolveThreads } from "../../src/config/options.js";

describe("--threads", () => {
  const cores = availableParallelism();

  it("defaults to one per core, minus one for a target on this machine, at most --workers", () => {
    // Parsing only: nothing is sent to these hosts.
    expect(resolveThreads(undefined, 64, new URL("http://gateway.example.test"))).toBe(Math.min(cores, 64));
    expect(resolveThreads(undefined, 64, new URL("http://127.0.0.1:8080"))).toBe(Math.max(1, cores - 1));
    expect(resolveThreads(undefined, 1, new URL("http://gateway.example.test"))).toBe(1);
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

  it("knows loopback targets", () => {
    for (const url of [
      "http://127.0.0.1:1",
      "http://127.1.2.3",
      "http://localhost:8080",
      "http://[::1]:80",
      "https://api.localhost",
    ])
      expect(isLoopbackTarget(new URL(url)), url).toBe(true);
    for (const url of [
      "http://10.0.0.1",
      "http://example.test",
      "http://[::2]",
      "http://localhost.example.test",
    ])
      expect(isLoopbackTarget(new URL(url)), url).toBe(false);
  });
});
