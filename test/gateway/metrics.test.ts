import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  DURATION_BUCKETS_SECONDS,
  GatewayMetrics,
  METRIC_NAMES,
  REQUEST_OUTCOMES,
} from "../../src/gateway/metrics.js";

/** The lines of one metric family in Prometheus text, HELP and TYPE included. */
function family(text: string, name: string): string[] {
  return text.split("\n").filter((line) => line.includes(`${name} `) || line.startsWith(`${name}_`));
}

describe("GatewayMetrics duration histogram", () => {
  it("prints exactly what prom-client's own Histogram prints for the same observations", async () => {
    const metrics = new GatewayMetrics("mock");
    const registry = new Registry();
    const reference = new Histogram({
      name: METRIC_NAMES.duration,
      help: "Time from request arrival to response written, /v1/execute, by outcome",
      labelNames: ["outcome"] as const,
      buckets: [...DURATION_BUCKETS_SECONDS],
      registers: [registry],
    });
    for (const outcome of REQUEST_OUTCOMES) reference.zero({ outcome });
    // Every bound exactly (a value equal to a bound belongs to that bucket), values between and
    // beyond them (only in +Inf), and zero.
    const values = [0, ...DURATION_BUCKETS_SECONDS, ...DURATION_BUCKETS_SECONDS.map((b) => b * 1.5), 42];
    values.forEach((value, i) => {
      const outcome = REQUEST_OUTCOMES[i % 3]!; // "error" stays at zero
      metrics.requestStarted();
      metrics.requestFinished(outcome, value);
      reference.observe({ outcome }, value);
    });

    const ours = family(await metrics.text(), METRIC_NAMES.duration);
    const theirs = family(await registry.metrics(), METRIC_NAMES.duration);
    expect(ours.length).toBe(2 + REQUEST_OUTCOMES.length * (DURATION_BUCKETS_SECONDS.length + 3));
    expect(ours).toEqual(theirs);

    // prom-client's own samples also carry an empty `exemplar`; the rest must be equal.
    const json = async (r: Registry) => {
      const metric = (await r.getMetricsAsJSON()).find((m) => m.name === METRIC_NAMES.duration);
      return {
        ...metric,
        values: metric?.values.map(({ labels, value, ...rest }) => ({
          labels,
          value,
          metricName: (rest as { metricName?: string }).metricName,
        })),
      };
    };
    expect(await json(metrics.registry)).toEqual(await json(registry));
  });
});
