/**
 * A "401 storm": every answer an authentication failure, and the verdict critical on its error
 * rate with no word on why. When most completed requests were refused for their credentials, the
 * summary says so and names the flags that send them (never the credentials themselves).
 */
import type { CategoryResult } from "../metrics/result.js";

const HOW =
  "give the right ones with --api-key KEY (sent as Authorization: Bearer KEY) or --header 'Name: value' (in a profile: auth or headers)";

/** RFC 9110 §15.5.2 (401 Unauthorized) and §15.5.8 (407 Proxy Authentication Required). */
const AUTH_STATUSES = [401, 407] as const;

/** A warning sentence when more than half of the completed requests were refused for their credentials. */
export function authRejectionWarning(
  errors: Readonly<Record<string, number>> | undefined,
  completed: number,
): string | undefined {
  if (!errors || completed === 0) return undefined;
  const refused = AUTH_STATUSES.map((status) => ({ status, count: errors[`http_${status}`] ?? 0 })).filter(
    ({ count }) => count > 0,
  );
  const total = refused.reduce((sum, { count }) => sum + count, 0);
  if (total * 2 <= completed) return undefined;
  const statuses = refused.map(({ status }) => status).join("/");
  return `Credentials rejected: ${total} of ${completed} answers were ${statuses}: the target refused the credentials sent; ${HOW}`;
}

/** Built-in categories whose every case a working policy allows (docs: README "How responses are judged"). */
const ALLOWED_CATEGORIES = ["normal", "llm"] as const;

/**
 * A 403 counts as a block (the methodology's policy answer), so a target that refuses the credentials
 * with 403 reads as a policy blocking everything. When most answers were blocks, benign requests
 * too, the summary says that this may be the credentials.
 */
export function blockedAllWarning(
  categories: Readonly<Record<string, Pick<CategoryResult, "requests" | "blocked">>>,
  blocked: number,
  completed: number,
): string | undefined {
  if (completed === 0 || blocked * 2 <= completed) return undefined;
  for (const name of ALLOWED_CATEGORIES) {
    const category = categories[name];
    if (!category || category.requests === 0 || category.blocked * 2 <= category.requests) continue;
    return (
      `Most answers were blocks (${blocked} of ${completed}), ${category.blocked} of ${category.requests} ${name} requests too: ` +
      `a target that refuses the credentials with 403 reads as a block; if so, ${HOW}`
    );
  }
  return undefined;
}
