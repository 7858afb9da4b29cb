import { describe, expect, it } from "vitest";
import { authRejectionWarning, blockedAllWarning } from "../../src/evaluate/auth-hint.js";

describe("a 401 storm is explained", () => {
  it("most answers 401: the target rejected the credentials, and the flags that send them", () => {
    const warning = authRejectionWarning({ http_401: 90, http_500: 1 }, 100);
    expect(warning).toBe(
      "Credentials rejected: 90 of 100 answers were 401: the target refused the credentials sent; give the right ones " +
        "with --api-key KEY (sent as Authorization: Bearer KEY) or --header 'Name: value' (in a profile: auth or headers)",
    );
  });

  it("401 and 407 together", () => {
    expect(authRejectionWarning({ http_401: 30, http_407: 30 }, 100)).toMatch(
      /^Credentials rejected: 60 of 100 answers were 401\/407:/,
    );
  });

  it.each([
    ["half or fewer", { http_401: 50 }, 100],
    ["other errors", { http_500: 100 }, 100],
    ["nothing completed", { http_401: 0 }, 0],
    ["no errors", {}, 100],
  ])("%s: no warning", (_name, errors, completed) => {
    expect(authRejectionWarning(errors, completed)).toBeUndefined();
  });
});

describe("a 403 storm reads as blocks: said to be perhaps the credentials", () => {
  const category = (requests: number, blocked: number) => ({ requests, blocked });

  it("most answers blocked, most normal requests too", () => {
    expect(blockedAllWarning({ normal: category(80, 80), security: category(20, 20) }, 100, 100)).toBe(
      "Most answers were blocks (100 of 100), 80 of 80 normal requests too: a target that refuses the credentials " +
        "with 403 reads as a block; if so, give the right ones with --api-key KEY (sent as Authorization: Bearer KEY) " +
        "or --header 'Name: value' (in a profile: auth or headers)",
    );
  });

  it.each([
    ["a security-only run, every probe blocked", { security: category(100, 100) }, 100, 100],
    ["a mixed run with 20% blocked", { normal: category(80, 0), security: category(20, 20) }, 20, 100],
    ["a few false positives", { normal: category(80, 30), policy: category(20, 20) }, 50, 100],
    ["nothing completed", {}, 0, 0],
  ])("%s: no warning", (_name, categories, blocked, completed) => {
    expect(blockedAllWarning(categories, blocked, completed)).toBeUndefined();
  });
});
