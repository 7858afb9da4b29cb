/**
 * A "401 storm": every answer an authentication failure, and the verdict critical on its error
 * rate with no word on why. When most completed requests were refused for their credentials, the
 * summary says so and names the flags that send them (never the credentials themselves).
 */

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
  return (
    `Credentials rejected: ${total} of ${completed} answers were ${statuses}: the target refused the ` +
    "credentials sent; give the right ones with --api-key KEY (sent as Authorization: Bearer KEY) or " +
    "--header 'Name: value' (in a profile: auth or headers)"
  );
}
