import type * as hdr from "hdr-histogram-js";
import { quantileEstimate } from "./quantile.js";

/**
 * The smallest latency change at percentile p that is judged (docs/COMPARE.md "How noise is
 * judged"): twice the generator's own send lag at the percentile halfway from p to 100, the worst
 * of the runs compared, and never less than `minChangeMs`.
 *
 * Why: on a busy machine the scheduler stalls every process, the target's included. A stall
 * that makes the generator send late by L holds the target for about as long, so a latency can
 * grow by up to 2·L without any change in the target. Stalls come in bursts and hit the slow end
 * of the distribution first, so the lateness that matters for percentile p is the one above it
 * (halfway to 100: P75 for P50, P97.5 for P95, P99.5 for P99). The percentile's confidence
 * interval cannot see this: it assumes requests that are independent, and a stall is not.
 */
export function latencyNoiseFloorMs(
  ownSendLags: readonly hdr.Histogram[],
  percentile: number,
  minChangeMs: number,
): number {
  const above = (percentile + 100) / 2;
  const lateness = ownSendLags.map((histogram) =>
    histogram.totalCount === 0 ? 0 : quantileEstimate(histogram, above).valueMs,
  );
  return Math.max(minChangeMs, 2 * Math.max(0, ...lateness));
}
