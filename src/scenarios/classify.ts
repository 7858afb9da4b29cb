import type { Outcome } from "../metrics/result.js";
import type { ExpectedOutcome } from "./types.js";

export interface Classification {
  outcome: Outcome;
  /** `http_<status>` for HTTP errors; transport kinds are added by the caller. */
  errorKind?: string;
}

const BLOCKED_MARKER = Buffer.from('"blocked"');
const BLOCKED_TRUE = /"blocked"\s*:\s*true/;

/**
 * The response classes of the core issue: `blocked` is a 403 or a JSON body with
 * `"blocked": true` (some gateways answer 200 with a verdict in the body); other 4xx and every
 * 5xx are errors. The body is only decoded when the marker is present, to keep the hot path cheap.
 */
export function classifyResponse(statusCode: number, body: Buffer | null): Classification {
  if (statusCode === 403) return { outcome: "blocked" };
  if (statusCode >= 200 && statusCode < 300) {
    if (body !== null && body.includes(BLOCKED_MARKER) && BLOCKED_TRUE.test(body.toString("utf8"))) {
      return { outcome: "blocked" };
    }
    return { outcome: "success" };
  }
  return { outcome: "error", errorKind: `http_${statusCode}` };
}

/** The spec's test categories: normal and llm expect success, security and policy a rejection. */
export function matchesExpectation(outcome: Outcome, expected: ExpectedOutcome): boolean {
  return expected === "allow" ? outcome === "success" : outcome === "blocked";
}
