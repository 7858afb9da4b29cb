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
});
