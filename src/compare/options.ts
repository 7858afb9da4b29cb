import { parseDurationMs } from "../config/duration.js";
import { InputError } from "../config/errors.js";
import { parseDecimal } from "../config/numbers.js";

/** How a comparison judges (docs/COMPARE.md "How noise is judged"). */
export interface CompareOptions {
  /** Relative change a latency or throughput row may make before it is judged (0.1 = 10%). */
  maxRegression: number;
  /** Smallest latency change (ms) ever judged: below it, timers and scheduling are the noise. */
  minChangeMs: number;
}

export const DEFAULT_COMPARE_OPTIONS: CompareOptions = { maxRegression: 0.1, minChangeMs: 0.5 };

/** `--max-regression 10%` (or `10`): a percentage, as a ratio. */
export function parseTolerance(text: string | undefined, flag = "--max-regression"): number {
  if (text === undefined) return DEFAULT_COMPARE_OPTIONS.maxRegression;
  const value = parseDecimal(text.trim().replace(/%$/, ""));
  if (value === undefined || !(value >= 0) || value > 1000)
    throw new InputError(flag, `expected a percentage like 10% (0..1000), got "${text}"`);
  return value / 100;
}

/** `--min-change 0.5ms`: a duration with its unit. */
export function parseMinChange(text: string | undefined, flag = "--min-change"): number {
  if (text === undefined) return DEFAULT_COMPARE_OPTIONS.minChangeMs;
  const valueMs = /[a-z]$/i.test(text.trim()) ? parseDurationMs(text) : undefined;
  if (valueMs === undefined || valueMs < 0 || valueMs > 3_600_000)
    throw new InputError(flag, `expected a duration with its unit like 0.5ms or 2ms, got "${text}"`);
  return valueMs;
}

export function parseCompareOptions(flags: { maxRegression?: string; minChange?: string }): CompareOptions {
  return { maxRegression: parseTolerance(flags.maxRegression), minChangeMs: parseMinChange(flags.minChange) };
}
