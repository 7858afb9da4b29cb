import type { Outcome } from "../metrics/result.js";
import type { ExpectedOutcome } from "./types.js";

export interface Classification {
  outcome: Outcome;
  /** `http_<status>` for HTTP errors; transport kinds are added by the caller. */
  errorKind?: string;
}

/**
 * Tested on the body decoded as latin1: one byte per character, so the ASCII of the pattern
 * matches where it would in the UTF-8 text, and JSON whitespace is ASCII (RFC 8259 §2).
 * Decoding that way and testing at once took half the time of searching the bytes for
 * `"blocked"` first and decoding UTF-8 (~140 against ~300 ns per small gateway answer, which says
 * `"blocked": false` on every allowed request).
 */
const BLOCKED_TRUE = /"blocked"\s*:\s*true/;

/**
 * The response classes of the core issue: `blocked` is a 403 or a JSON body with
 * `"blocked": true` (some gateways answer 200 with a verdict in the body); other 4xx and every
 * 5xx are errors.
 */
export function classifyResponse(statusCode: number, body: Buffer | null): Classification {
  if (statusCode === 403) return { outcome: "blocked" };
  if (statusCode >= 200 && statusCode < 300) {
    if (body !== null && BLOCKED_TRUE.test(body.toString("latin1"))) {
      return { outcome: "blocked" };
    }
    return { outcome: "success" };
  }
  return { outcome: "error", errorKind: `http_${statusCode}` };
}

/** The methodology's test categories: normal and llm expect success, security and policy a rejection. */
export function matchesExpectation(outcome: Outcome, expected: ExpectedOutcome): boolean {
  return expected === "allow" ? outcome === "success" : outcome === "blocked";
}
