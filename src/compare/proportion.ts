/**
 * Whether two rates (errors, blocks, matched outcomes ÷ completed requests) differ beyond
 * sampling noise: the two-proportion z-test with the pooled rate (docs/COMPARE.md "How noise is
 * judged"), two-sided at 95%.
 */

export const Z_95 = 1.959964;

export interface ProportionTest {
  /** (candidate rate − base rate) ÷ its standard error under "no change"; 0 when undefined. */
  z: number;
  significant: boolean;
}

export function proportionChange(
  baseCount: number,
  baseTotal: number,
  candCount: number,
  candTotal: number,
): ProportionTest {
  if (baseTotal === 0 || candTotal === 0) return { z: 0, significant: false };
  const pooledRate = (baseCount + candCount) / (baseTotal + candTotal);
  const standardError = Math.sqrt(pooledRate * (1 - pooledRate) * (1 / baseTotal + 1 / candTotal));
  if (standardError === 0) return { z: 0, significant: false };
  const z = (candCount / candTotal - baseCount / baseTotal) / standardError;
  return { z, significant: Math.abs(z) > Z_95 };
}

/** Wilson score interval of a rate at 95%: for trends across archived runs. */
export function wilsonInterval(count: number, total: number): { low: number; high: number } {
  if (total === 0) return { low: 0, high: 1 };
  const rate = count / total;
  const z2 = Z_95 * Z_95;
  const center = (rate + z2 / (2 * total)) / (1 + z2 / total);
  const half = (Z_95 * Math.sqrt((rate * (1 - rate)) / total + z2 / (4 * total * total))) / (1 + z2 / total);
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}
