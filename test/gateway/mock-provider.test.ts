import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { createMockProvider } from "../../src/gateway/mock-provider.js";

/** Keeps this thread busy, as a gateway callback that parsed and judged a request has been. */
function busyMs(ms: number): void {
  const startMs = performance.now();
  while (performance.now() - startMs < ms) {
    // spin
  }
}

describe("the mock LLM provider", () => {
  it("never answers before its latency has passed, even when called late in a busy callback", async () => {
    const provider = createMockProvider({ min: 5, max: 5 });
    const waitsMs: number[] = [];
    for (let round = 0; round < 20; round++) {
      // Node measures timers from the loop's cached time, stale by the time this callback ran.
      busyMs(3);
      const calledAtMs = performance.now();
      const completion = await provider.complete("a prompt");
      waitsMs.push(performance.now() - calledAtMs);
      expect(completion.latencyMs).toBeGreaterThanOrEqual(5);
    }
    expect(Math.min(...waitsMs)).toBeGreaterThanOrEqual(5);
    provider.close();
  });
});
