/**
 * Numbers on the command line are plain decimals: `10`, `0.5`, `.5`. `Number()` alone also
 * takes `0x10` (16), `0b11`, `1e3`, `Infinity` and blanks (0), which in a rate or a count are
 * almost always a typo, so those are refused with the flag's own message.
 */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const WHOLE = /^\d+$/;

/** A non-negative decimal, or undefined when `text` is not one (a sign, hex, exponent, blank). */
export function parseDecimal(text: string): number | undefined {
  const trimmed = text.trim();
  return DECIMAL.test(trimmed) ? Number(trimmed) : undefined;
}

/** A non-negative whole number in decimal digits, or undefined. */
export function parseWholeNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) ? value : undefined;
}
