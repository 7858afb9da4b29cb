import { classifyResponse, type Classification } from "./classify.js";

/** An inclusive range of HTTP status codes: `200` is {from: 200, to: 200}, `2xx` is {from: 200, to: 299}. */
export interface StatusRange {
  from: number;
  to: number;
}

/** One `expect.json` entry: the value at `path` in the response body must deep-equal `value`. */
export interface JsonExpectation {
  /** As written, for messages: `$.data.items[0].id` or `data.items.0.id`. */
  path: string;
  segments: Array<string | number>;
  value: unknown;
}

/**
 * What a custom test case expects of its response. Every given part must hold (AND); an absent
 * part is not checked. Build it with `expectationOf` (src/config/profile-cases.ts does).
 */
export interface CaseExpectation {
  /** Accepted statuses; undefined = any status. */
  status?: StatusRange[];
  /** Whether the response must be a policy block (403, or 2xx with `"blocked": true`), as classifyResponse says. */
  blocked?: boolean;
  /** Values the JSON body must hold; empty = the body is not parsed. */
  json: JsonExpectation[];
}

export interface CaseCheck {
  matched: boolean;
  /** Why it did not match, for error examples ("status 500, expected 200"). */
  reason?: string;
}

const isBlocked = (statusCode: number, body: Buffer | null): boolean =>
  classifyResponse(statusCode, body).outcome === "blocked";

const inRanges = (statusCode: number, ranges: readonly StatusRange[]): boolean =>
  ranges.some((range) => statusCode >= range.from && statusCode <= range.to);

export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges
    .map((range) =>
      range.from === range.to
        ? String(range.from)
        : range.from % 100 === 0 && range.to === range.from + 99
          ? `${range.from / 100}xx`
          : `${range.from}-${range.to}`,
    )
    .join(", ");
}

/**
 * Checks a response against a case's expectation. Bodies arrive truncated to 64 KiB by the
 * transport; a JSON expectation on a larger body does not match (the body cannot be parsed).
 * The body is parsed only when the expectation has JSON entries, so plain status checks stay
 * cheap on the hot path.
 */
export function checkCase(statusCode: number, body: Buffer | null, expectation: CaseExpectation): CaseCheck {
  if (expectation.status !== undefined && !inRanges(statusCode, expectation.status)) {
    return {
      matched: false,
      reason: `status ${statusCode}, expected ${formatStatusRanges(expectation.status)}`,
    };
  }
  if (expectation.blocked !== undefined && isBlocked(statusCode, body) !== expectation.blocked) {
    return {
      matched: false,
      reason: expectation.blocked ? `not blocked (status ${statusCode})` : `blocked (status ${statusCode})`,
    };
  }
  if (expectation.json.length > 0) {
    let document: unknown;
    try {
      document = JSON.parse(body === null ? "" : body.toString("utf8"));
    } catch {
      return { matched: false, reason: "the body is not JSON (or is longer than the 64 KiB kept)" };
    }
    for (const entry of expectation.json) {
      const found = valueAt(document, entry.segments);
      if (!found.present) return { matched: false, reason: `${entry.path}: missing` };
      if (!jsonEqual(found.value, entry.value)) {
        return {
          matched: false,
          reason: `${entry.path}: ${truncate(JSON.stringify(found.value))}, expected ${truncate(JSON.stringify(entry.value))}`,
        };
      }
    }
  }
  return { matched: true };
}

/** True when the response meets the case's expectation (its correctness, docs/RESULTS.md). */
export function matchesCase(statusCode: number, body: Buffer | null, expectation: CaseExpectation): boolean {
  return checkCase(statusCode, body, expectation).matched;
}

/**
 * The outcome of a custom case's response: as classifyResponse (blocked: 403 or `"blocked": true`;
 * success: 2xx; error: every other status), except that a status the case explicitly expects is
 * not an error of the target: a negative test answered `404` as it should be counts as success,
 * so it does not raise the error rate.
 */
export function classifyCase(
  statusCode: number,
  body: Buffer | null,
  expectation: CaseExpectation,
): Classification {
  const classification = classifyResponse(statusCode, body);
  if (
    classification.outcome === "error" &&
    expectation.status !== undefined &&
    inRanges(statusCode, expectation.status)
  ) {
    return { outcome: "success" };
  }
  return classification;
}

/**
 * `$.data.items[0].id`, `$["odd key"].x`, `data.items.0.id` (the `$` is optional; a numeric dot
 * segment indexes arrays). Returns undefined with a reason when the path is malformed.
 */
export function parseJsonPath(path: string): { segments: Array<string | number> } | { error: string } {
  const segments: Array<string | number> = [];
  let at = 0;
  if (path.startsWith("$")) at = 1;
  else if (path.length > 0 && path[0] !== "." && path[0] !== "[") path = `.${path}`;
  if (path === "$" || path === "") return { error: "empty path (expected e.g. $.data.id)" };
  while (at < path.length) {
    const char = path[at];
    if (char === ".") {
      const match = /^[^.[\]]+/.exec(path.slice(at + 1));
      if (!match) return { error: `empty name at position ${at + 2}` };
      segments.push(/^\d+$/.test(match[0]) ? Number(match[0]) : match[0]);
      at += 1 + match[0].length;
    } else if (char === "[") {
      const close = path.indexOf("]", at);
      if (close < 0) return { error: `unclosed "[" at position ${at + 1}` };
      const inner = path.slice(at + 1, close).trim();
      if (/^\d+$/.test(inner)) segments.push(Number(inner));
      else if (/^(".*"|'.*')$/.test(inner)) segments.push(inner.slice(1, -1));
      else
        return {
          error: `"[${inner}]" at position ${at + 1}: expected an index [0] or a quoted key ["name"]`,
        };
      at = close + 1;
    } else {
      return { error: `unexpected "${char}" at position ${at + 1}` };
    }
  }
  return { segments };
}

function valueAt(
  document: unknown,
  segments: ReadonlyArray<string | number>,
): { present: boolean; value?: unknown } {
  let current: unknown = document;
  for (const segment of segments) {
    if (Array.isArray(current)) {
      const index = typeof segment === "number" ? segment : /^\d+$/.test(segment) ? Number(segment) : -1;
      if (index < 0 || index >= current.length) return { present: false };
      current = current[index];
    } else if (current !== null && typeof current === "object") {
      const key = String(segment);
      if (!Object.prototype.hasOwnProperty.call(current, key)) return { present: false };
      current = (current as Record<string, unknown>)[key];
    } else {
      return { present: false };
    }
  }
  return { present: true, value: current };
}

/** Structural equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, k) => jsonEqual(item, b[k]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && !Array.isArray(b)) {
    const aKeys = Object.keys(a);
    const bKeys = Object.keys(b);
    return (
      aKeys.length === bKeys.length &&
      aKeys.every(
        (key) =>
          Object.prototype.hasOwnProperty.call(b, key) &&
          jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
      )
    );
  }
  return false;
}

const truncate = (text: string | undefined): string =>
  text === undefined ? "undefined" : text.length > 60 ? `${text.slice(0, 57)}...` : text;
