import type { RunResult } from "../metrics/result.js";

/** Failures that mean no connection to the target was ever made, or none answered. */
const NEVER_REACHED = ["connect_refused", "dns", "tls", "timeout"];

/**
 * Why the target counts as unreachable in this run: every request failed before any answer
 * (refused, DNS, TLS, timeout). Undefined when anything was answered. The latency of such a run
 * is the time to fail (about 1 ms for a refused connection), not the target's, so reports say
 * "unreachable" instead of judging it.
 */
export function unreachableReason(result: RunResult): string | undefined {
  const { requests, errors } = result;
  if (requests.total === 0 || requests.success + requests.blocked > 0) return undefined;
  const failed = NEVER_REACHED.reduce((sum, kind) => sum + (errors[kind] ?? 0), 0);
  if (failed < requests.total) return undefined;
  return `${requests.total} of ${requests.total} requests failed: ${Object.keys(errors).join(", ")}`;
}
