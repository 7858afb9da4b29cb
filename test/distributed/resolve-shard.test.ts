import { describe, expect, it } from "vitest";
import { resolveLadder, resolveRun } from "../../src/config/resolve.js";

const base = {
  target: "http://127.0.0.1:9",
  rps: "100",
  duration: "2s",
  pushgatewayJob: "load-test",
  pushInterval: "10s",
};

describe("the resolver's shard flags", () => {
  it("a shard pushes under its own instance of the shared run id, unless one is named", () => {
    const shard = resolveRun({ ...base, shard: "1/3", runId: "r7", pushgateway: "http://127.0.0.1:9091" });
    expect(shard.options.shard).toEqual({ index: 1, count: 3 });
    expect(shard.options.runId).toBe("r7");
    expect(shard.outputs.prometheus?.pushgateway?.instance).toBe("shard-1");
    const named = resolveRun({
      ...base,
      shard: "1/3",
      pushgateway: "http://127.0.0.1:9091",
      pushgatewayInstance: "pod-a",
    });
    expect(named.outputs.prometheus?.pushgateway?.instance).toBe("pod-a");
    const single = resolveRun({ ...base, pushgateway: "http://127.0.0.1:9091" });
    expect(single.outputs.prometheus?.pushgateway?.instance).toBeUndefined();
  });

  it("a ladder refuses --shard rather than ignoring it", () => {
    expect(() => resolveLadder({ ...base, rates: "10,20", step: "1s", pause: "0s", shard: "0/2" })).toThrow(
      /^--shard: not supported by ladder/,
    );
  });

  it("the rate bound counts every shard's threads: each --shard K/N process sends 1/N of the rate", () => {
    const one = { ...base, rps: "150000", threads: "1" };
    expect(() => resolveRun(one)).toThrow(
      /^--rps: 150000 req\/s is more than this load-test process can send/,
    );
    expect(resolveRun({ ...one, shard: "0/2" }).options.ratePerSec).toBe(150000);
    expect(() => resolveRun({ ...one, rps: "250000", shard: "1/2" })).toThrow(
      /^--rps: 250000 req\/s is more than 2 shards of 1 thread can send: at most 100000 req\/s per thread, 200000 in all/,
    );
  });
});
