/**
 * Check-digit validators used by the PII policies. Matching digits with a regex alone would block
 * every long order or tracking number; the check digit is what separates a real card number or
 * IBAN from an arbitrary digit run (one random candidate in 10 passes Luhn, one in 97 passes
 * mod-97, so they are necessary but deliberately paired with length and format rules).
 */

/**
 * Luhn (mod-10) check over a string of ASCII digits only (ISO/IEC 7812-1 Annex B).
 * Returns false for an empty string or any non-digit character, rather than ignoring it, so
 * callers decide which separators are acceptable.
 */
export function luhnValid(digits: string): boolean {
  const n = digits.length;
  if (n === 0) return false;
  let sum = 0;
  let double = false;
  for (let i = n - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Whether `text` is a payment card number: 13 to 19 digits (ISO/IEC 7812-1 PAN lengths),
 * optionally grouped with single spaces or dashes, not starting with 0 (major industry
 * identifier 0 is never issued to cards), passing Luhn.
 */
export function isCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, "");
  if (digits.length < 13 || digits.length > 19 || !/^[1-9]\d+$/.test(digits)) return false;
  return luhnValid(digits);
}

/**
 * IBAN lengths per country, from the SWIFT IBAN Registry (ISO 13616). A check of the length
 * for the country code removes most false positives that a bare mod-97 test would let through.
 */
// prettier-ignore
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15,
  PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19,
  SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
});

/**
 * ISO 7064 MOD 97-10 over an IBAN: move the first four characters to the end, read letters as
 * 10..35, and the whole number modulo 97 must be 1. Computed digit by digit so no BigInt or
 * long-number arithmetic is needed.
 */
export function ibanMod97Valid(iban: string): boolean {
  const n = iban.length;
  if (n < 5) return false;
  let rem = 0;
  for (let k = 0; k < n; k++) {
    const c = iban.charCodeAt((k + 4) % n);
    if (c >= 48 && c <= 57) {
      rem = (rem * 10 + (c - 48)) % 97;
    } else if (c >= 65 && c <= 90) {
      rem = (rem * 100 + (c - 55)) % 97;
    } else {
      return false;
    }
  }
  return rem === 1;
}

/**
 * Whether `text` is an IBAN: spaces are ignored (the ISO 13616 "paper format" groups of four),
 * letters are upper-cased, the country must be in the registry with the matching length, the
 * check digits must be two digits and the MOD 97-10 check must pass.
 */
export function isValidIban(text: string): boolean {
  const iban = text.replace(/ /g, "").toUpperCase();
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  if (expected === undefined || iban.length !== expected) return false;
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  return ibanMod97Valid(iban);
}
