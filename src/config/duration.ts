/**
 * Durations as the methodology's parameter table writes them (`30s`, `5m`, `1h`) and as k6 stages do
 * (`1m30s`), plus `ms` for per-request timeouts. A bare number is seconds.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** Returns the duration in milliseconds, or undefined when the text is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  if (trimmed === "") return undefined;
  PART.lastIndex = 0;
  let totalMs = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = PART.exec(trimmed)) !== null) {
    totalMs += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    consumed = PART.lastIndex;
  }
  return consumed === trimmed.length ? totalMs : undefined;
}

/** `90000` -> `1m30s`; used in summaries so users see the duration the way they wrote it. */
export function formatDurationMs(durationMs: number): string {
  if (durationMs < 1000) return `${Math.round(durationMs)}ms`;
  let restSec = Math.round(durationMs / 1000);
  const hours = Math.floor(restSec / 3600);
  restSec -= hours * 3600;
  const minutes = Math.floor(restSec / 60);
  restSec -= minutes * 60;
  return `${hours ? `${hours}h` : ""}${minutes ? `${minutes}m` : ""}${restSec || (!hours && !minutes) ? `${restSec}s` : ""}`;
}

/**
 * The longest a Node.js timer waits: 2^31 − 1 ms (about 24.8 days). A longer delay fires at
 * once with a TimeoutOverflowWarning, so a run's end timer, its warm-up or a pause would spin;
 * durations that reach a timer are bounded by this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why `valueMs` cannot be waited for, or undefined when it can. */
export function timerLimitProblem(valueMs: number): string | undefined {
  return valueMs > MAX_TIMER_MS
    ? `must be at most ${Math.floor(MAX_TIMER_MS / 3_600_000)}h (2^31 ms, the longest a timer can wait)`
    : undefined;
}
