import { describe, expect, it } from "vitest";
import { authRejectionWarning } from "../../src/evaluate/auth-hint.js";

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
