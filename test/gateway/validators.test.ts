import { describe, expect, it } from "vitest";
import {
  IBAN_LENGTHS,
  ibanMod97Valid,
  isCardNumber,
  isValidIban,
  luhnValid,
} from "../../src/gateway/policies.js";

describe("luhnValid", () => {
  it.each([
    "4111111111111111",
    "4012888888881881",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "30569309025904",
    "4222222222222",
    "79927398713", // the textbook example
    "0",
  ])("accepts %s", (digits) => expect(luhnValid(digits)).toBe(true));

  it.each(["4111111111111112", "1234567890123456", "79927398710", "5555555555554443"])(
    "rejects %s",
    (digits) => expect(luhnValid(digits)).toBe(false),
  );

  it("rejects empty input and non-digits instead of skipping them", () => {
    expect(luhnValid("")).toBe(false);
    expect(luhnValid("4111 1111 1111 1111")).toBe(false);
    expect(luhnValid("411111111111111a")).toBe(false);
  });

  it("detects every single-digit substitution (the property Luhn guarantees)", () => {
    const valid = "4539578763621486";
    expect(luhnValid(valid)).toBe(true);
    for (let i = 0; i < valid.length; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === valid[i]) continue;
        const changed = valid.slice(0, i) + String(d) + valid.slice(i + 1);
        expect(luhnValid(changed), changed).toBe(false);
      }
    }
  });
});

describe("isCardNumber", () => {
  it.each(["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "3782 822463 10005"])(
    "accepts %s",
    (text) => expect(isCardNumber(text)).toBe(true),
  );

  it("requires 13 to 19 digits", () => {
    expect(isCardNumber("79927398713")).toBe(false); // Luhn-valid but 11 digits
    expect(isCardNumber("4222222222222")).toBe(true); // 13
    expect(isCardNumber("6221260000000000001")).toBe(true); // 19
    expect(luhnValid("41111111111111111115")).toBe(true);
    expect(isCardNumber("41111111111111111115")).toBe(false); // 20
  });

  it("rejects a leading zero (no issuer uses major industry identifier 0)", () => {
    expect(luhnValid("0000000000000000")).toBe(true);
    expect(isCardNumber("0000000000000000")).toBe(false);
  });

  it("rejects a 16-digit order number that fails Luhn", () => {
    expect(isCardNumber("1234 5678 9012 3456")).toBe(false);
  });
});

describe("IBAN", () => {
  it.each([
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "DE89 3704 0044 0532 0130 00",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "gb82 west 1234 5698 7654 32",
  ])("accepts %s", (iban) => expect(isValidIban(iban)).toBe(true));

  it.each([
    ["wrong check digits", "GB00 WEST 1234 5698 7654 32"],
    ["one digit changed", "GB82 WEST 1234 5698 7654 33"],
    ["two digits swapped", "GB82 WEST 1234 5698 7654 23"],
    ["too short for GB", "GB82WEST1234569876543"],
    ["unknown country", "ZZ82WEST12345698765432"],
    ["letters as check digits", "GBAB WEST 1234 5698 7654 32"],
    ["punctuation", "GB82-WEST-1234-5698-7654-32"],
  ])("rejects %s", (_why, iban) => expect(isValidIban(iban)).toBe(false));

  it("mod-97 alone is the ISO 7064 check, independent of the country table", () => {
    expect(ibanMod97Valid("GB82WEST12345698765432")).toBe(true);
    expect(ibanMod97Valid("GB83WEST12345698765432")).toBe(false);
    expect(ibanMod97Valid("GB8")).toBe(false);
    expect(ibanMod97Valid("gb82west12345698765432")).toBe(false); // callers upper-case first
  });

  it("has sane registry lengths", () => {
    for (const [country, length] of Object.entries(IBAN_LENGTHS)) {
      expect(country).toMatch(/^[A-Z]{2}$/);
      expect(length).toBeGreaterThanOrEqual(15);
      expect(length).toBeLessThanOrEqual(34);
    }
    expect(IBAN_LENGTHS.GB).toBe(22);
    expect(IBAN_LENGTHS.DE).toBe(22);
    expect(IBAN_LENGTHS.NO).toBe(15);
  });
});
