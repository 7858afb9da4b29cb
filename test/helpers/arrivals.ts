/**
 * How evenly requests reached a target: the gaps between consecutive arrivals (ms), their median
 * and their mean absolute deviation from the planned gap, 1000 / `ratePerSec`.
 */
export function spreadMs(
  arrivalsMs: readonly number[],
  ratePerSec: number,
): { medianGapMs: number; meanDeviationMs: number } {
  const sorted = [...arrivalsMs].sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
  const ordered = [...gaps].sort((a, b) => a - b);
  const ideal = 1000 / ratePerSec;
  return {
    medianGapMs: ordered[Math.floor(ordered.length / 2)] as number,
    meanDeviationMs: gaps.reduce((sum, gap) => sum + Math.abs(gap - ideal), 0) / gaps.length,
  };
}
