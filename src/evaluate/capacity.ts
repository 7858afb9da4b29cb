import type { LadderCapacity, Level, VerdictCheck } from "../metrics/result.js";
import { capacityLevel, TARGET_TABLE } from "./methodology.js";

export type { LadderCapacity };

/**
 * The methodology's throughput row is a capacity per node (docs/THRESHOLDS.md, "Capacity per
 * node"; the bounds are TARGET_TABLE.capacityPerNodePerSec). It is judged where a run measures
 * capacity: `--rps max`, and a ladder's highest step within target.
 */
const { targetAbove: CAPACITY_TARGET_ABOVE_PER_NODE, degradedAtLeast: CAPACITY_CRITICAL_BELOW_PER_NODE } =
  TARGET_TABLE.capacityPerNodePerSec;
export { capacityLevel, CAPACITY_CRITICAL_BELOW_PER_NODE, CAPACITY_TARGET_ABOVE_PER_NODE };

const thousands = (value: number): string => value.toLocaleString("en-US");
export const CAPACITY_EXPECTED =
  `> ${thousands(CAPACITY_TARGET_ABOVE_PER_NODE)} req/s per node target, ` +
  `${thousands(CAPACITY_CRITICAL_BELOW_PER_NODE)}–${thousands(CAPACITY_TARGET_ABOVE_PER_NODE)} degraded, ` +
  `< ${thousands(CAPACITY_CRITICAL_BELOW_PER_NODE)} critical`;

const fmt = (value: number): string => String(Number(value.toFixed(1)));

/** "1234.5 req/s per node (2469 req/s over 2 nodes)"; one node: "1234.5 req/s per node". */
export function perNodeText(achievedPerSec: number, nodes: number): string {
  const perNode = `${fmt(achievedPerSec / nodes)} req/s per node`;
  return nodes > 1 ? `${perNode} (${fmt(achievedPerSec)} req/s over ${nodes} nodes)` : perNode;
}

/** The capacity check of a closed loop (`--rps max`): what the target served, per node. */
export function capacityCheck(achievedPerSec: number, nodes: number): VerdictCheck {
  const perNodePerSec = achievedPerSec / nodes;
  return {
    name: "throughput_per_node",
    level: capacityLevel(perNodePerSec),
    value: perNodePerSec,
    expected: CAPACITY_EXPECTED,
    message: `Capacity: ${perNodeText(achievedPerSec, nodes)}, closed loop`,
  };
}

interface JudgedStep {
  ratePerSec: number;
  result: {
    interrupted: boolean;
    verdict: { level: Level };
    rate: { achievedPerSec: number; nodes?: number };
  };
}

/**
 * The highest step within target is the capacity a ladder measured, once a higher step left
 * target (saturation): below that the target was never pushed, so a capacity under 1,000 req/s
 * per node is then a lower bound, not a verdict. Interrupted steps are left out (partial).
 */
export function ladderCapacity(
  steps: readonly JudgedStep[],
  // Read from the results (every step records --nodes), so a loaded ladder file judges the same.
  nodes = steps[0]?.result.rate.nodes ?? 1,
): LadderCapacity {
  const whole = steps.filter((step) => !step.result.interrupted);
  const within = whole.filter((step) => step.result.verdict.level === "target");
  const best = within.reduce<JudgedStep | undefined>(
    (top, step) => (top === undefined || step.ratePerSec > top.ratePerSec ? step : top),
    undefined,
  );
  const unknown = (
    message: string,
    stepPerSec: number | null = null,
    perNodePerSec: number | null = null,
  ) => ({
    nodes,
    stepPerSec,
    perNodePerSec,
    level: null,
    message,
  });
  if (best === undefined) {
    const lowest = whole.reduce<JudgedStep | undefined>(
      (low, step) => (low === undefined || step.ratePerSec < low.ratePerSec ? step : low),
      undefined,
    );
    if (lowest === undefined) return unknown("Capacity: not measured (no whole step)");
    const bound = lowest.ratePerSec / nodes;
    if (bound >= CAPACITY_CRITICAL_BELOW_PER_NODE)
      return unknown(
        `Capacity: not measured (no step within target; the lowest asked ${fmt(bound)} req/s per node)`,
      );
    return {
      nodes,
      stepPerSec: null,
      perNodePerSec: null,
      level: "critical",
      message: `Capacity: below ${fmt(bound)} req/s per node (no step within target, even the lowest)`,
    };
  }
  const perNodePerSec = best.result.rate.achievedPerSec / nodes;
  const level = capacityLevel(perNodePerSec);
  const saturated = whole.some(
    (step) => step.ratePerSec > best.ratePerSec && step.result.verdict.level !== "target",
  );
  const rate = perNodeText(best.result.rate.achievedPerSec, nodes);
  if (level !== "target" && !saturated)
    return unknown(
      `Capacity: at least ${rate}: no step left target above ${fmt(best.ratePerSec)} req/s asked; add higher --rates to measure it`,
      best.ratePerSec,
      perNodePerSec,
    );
  return {
    nodes,
    stepPerSec: best.ratePerSec,
    perNodePerSec,
    level,
    message: `Capacity: ${rate} at the highest step within target (${fmt(best.ratePerSec)} req/s asked)`,
  };
}
