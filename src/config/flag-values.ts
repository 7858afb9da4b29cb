/**
 * The values flags take, each parsed by one function with one message, whichever path the flag
 * comes through: a run's flags (options.ts), flags over a profile (resolve-profile.ts), ladder and
 * demo (resolve.ts). Each throws an InputError naming the flag.
 */
import { parseDurationMs, timerLimitProblem } from "./duration.js";
import { InputError } from "./errors.js";
import { headerNameProblem, headerValueProblem, NOT_A_HEADER_NAME } from "./headers.js";
import { parseDecimal, parseWholeNumber } from "./numbers.js";

/** `--rps max` (any case, spaces around): a closed loop instead of a rate. */
export function isClosedLoopRps(text: string): boolean {
  return text.trim().toLowerCase() === "max";
}

/** `--rps`: a rate > 0, or "max" for a closed loop. */
export function rateValue(flag: string, text: string): number | "max" {
  if (isClosedLoopRps(text)) return "max";
  const value = parseDecimal(text);
  if (value === undefined || value <= 0)
    throw new InputError(flag, `must be a number > 0 or "max", got "${text}"`);
  return value;
}

/** `--start-rps`: a rate ≥ 0. */
export function startRateValue(flag: string, text: string): number {
  const value = parseDecimal(text);
  if (value === undefined) throw new InputError(flag, `must be a rate ≥ 0, got "${text}"`);
  return value;
}

/** A count in decimal digits, at least `min` (`--workers`, `--nodes`, `--coldstart-window`). */
export function countValue(flag: string, text: string, min: number, what: string): number {
  const value = parseWholeNumber(text);
  if (value === undefined || value < min) throw new InputError(flag, `must be ${what}, got "${text}"`);
  return value;
}

/**
 * A duration (`--duration`, `--timeout`, `--warmup`, `--step`, `--pause`), at most what a timer
 * can wait; `allowZero` for the ones where 0 means none.
 */
export function durationValue(flag: string, text: string, allowZero: boolean): number {
  const valueMs = parseDurationMs(text);
  if (valueMs === undefined || valueMs < 0 || (!allowZero && valueMs === 0))
    throw new InputError(
      flag,
      allowZero
        ? `must be a duration like 2s, or 0 for none, got "${text}"`
        : `must be a duration like 30s, 5m, 1h or 1m30s, got "${text}"`,
    );
  const tooLong = timerLimitProblem(valueMs);
  if (tooLong) throw new InputError(flag, tooLong);
  return valueMs;
}

/** `--header "Name: value"`: a header name load-test may send and a value without control characters. */
export function headerValue(flag: string, item: string): [string, string] {
  const colon = item.indexOf(":");
  const name = colon > 0 ? item.slice(0, colon).trim() : "";
  const problem = headerNameProblem(name);
  if (problem)
    throw new InputError(
      flag,
      problem === NOT_A_HEADER_NAME ? `expected "Name: value", got "${item}"` : problem,
    );
  const value = item.slice(colon + 1).trim();
  const valueProblem = headerValueProblem(value);
  if (valueProblem) throw new InputError(flag, `${name}: ${valueProblem}`);
  return [name, value];
}

/** `--api-key`: sent in a header, so only visible characters. */
export function apiKeyValue(flag: string, text: string): string {
  if (headerValueProblem(text) !== undefined)
    throw new InputError(flag, "may hold only visible characters (no CR, LF or other control characters)");
  return text;
}
