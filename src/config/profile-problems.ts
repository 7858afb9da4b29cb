/**
 * Problems of a profile: where they are (a field path, a line, a data file row) and how they
 * read. zod issues are turned into short sentences that name the field and what was found.
 */
import { z } from "zod";
import { closest } from "./thresholds.js";

export type Path = Array<string | number>;
export interface Problem {
  path: Path;
  message: string;
  /** Overrides the line lookup, e.g. `cases.csv:12` for a data file row. */
  location?: string;
}

/** `stages[2].target`, `headers.X-Key`, `thresholds["latency{category:security}"][0]`. */
export function formatFieldPath(path: readonly (string | number)[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text === "" ? "(profile)" : text;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

export function valueAt(root: unknown, path: Path): unknown {
  let current = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === "number") current = current[segment];
    else if (isRecord(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** The keys an object schema at `path` accepts, for "did you mean" on unknown keys. */
function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  let current: z.ZodType | undefined = schema;
  const unwrap = (candidate: z.ZodType): z.ZodType[] => {
    if (candidate instanceof z.ZodOptional) return unwrap(candidate.unwrap() as z.ZodType);
    if (candidate instanceof z.ZodUnion) return (candidate.options as z.ZodType[]).flatMap(unwrap);
    return [candidate];
  };
  for (const segment of path) {
    const next: z.ZodType[] = [];
    for (const candidate of unwrap(current as z.ZodType)) {
      if (candidate instanceof z.ZodObject && typeof segment === "string") {
        const child = (candidate.shape as Record<string, z.ZodType>)[segment];
        if (child) next.push(child);
      } else if (candidate instanceof z.ZodArray && typeof segment === "number") {
        next.push(candidate.element as z.ZodType);
      } else if (candidate instanceof z.ZodRecord) {
        next.push(candidate.valueType as z.ZodType);
      }
    }
    current = next.find((candidate) => unwrap(candidate).some((c) => c instanceof z.ZodObject)) ?? next[0];
    if (current === undefined) return [];
  }
  return unwrap(current as z.ZodType).flatMap((candidate) =>
    candidate instanceof z.ZodObject ? Object.keys(candidate.shape as object) : [],
  );
}

/** zod issues as problems with friendly messages; unions are opened to the branch that fits. */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  schema: z.ZodType,
  prefix: Path = [],
): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const path: Path = [...prefix, ...(issue.path as Path)];
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) {
        const suggestion = closest(key, known);
        const hint = suggestion
          ? ` (did you mean ${suggestion}?)`
          : known.length > 0
            ? `; known keys: ${known.join(", ")}`
            : "";
        problems.push({ path: [...path, key], message: `unknown key${hint}` });
      }
    } else if (issue.code === "invalid_union") {
      // A branch whose only complaint is "wrong type at the root" did not fit at all; if exactly
      // one branch fits, its issues say what is wrong inside it.
      const fitting = issue.errors.filter(
        (branch) => !branch.every((inner) => inner.path.length === 0 && inner.code === "invalid_type"),
      );
      if (fitting.length === 1)
        problems.push(...issuesToProblems(fitting[0] as z.core.$ZodIssue[], root, schema, path));
      else problems.push({ path, message: `${issue.message}, got ${describeValue(valueAt(root, path))}` });
    } else if (issue.code === "invalid_key") {
      problems.push({ path, message: issue.issues[0]?.message ?? issue.message });
    } else if (issue.code === "invalid_type") {
      const value = valueAt(root, path);
      problems.push({
        path,
        message: value === undefined ? "is required" : `${issue.message}, got ${describeValue(value)}`,
      });
    } else {
      // Say what was found: "must be longer than 0, got "0s"" is quicker to fix than without.
      const value = valueAt(root, path);
      const scalar = value !== null && ["string", "number", "boolean"].includes(typeof value);
      problems.push({
        path,
        message: scalar ? `${issue.message}, got ${describeValue(value)}` : issue.message,
      });
    }
  }
  return problems;
}

/** Problems as lines, in the order of the file (by line), data-file problems after the profile's. */
export function formatProblems(
  problems: readonly Problem[],
  lineOf: ((path: Path) => number | undefined) | undefined,
): string[] {
  const entries = problems.map((problem, order) => {
    if (problem.location !== undefined) {
      const field = problem.path.length > 0 ? `${formatFieldPath(problem.path)}: ` : "";
      const text =
        problem.location === ""
          ? `${formatFieldPath(problem.path)}: ${problem.message}`
          : `${problem.location}: ${field}${problem.message}`;
      return { text, line: Number.POSITIVE_INFINITY, order };
    }
    const line = lineOf?.(problem.path);
    const text = `${formatFieldPath(problem.path)}: ${problem.message}${line === undefined ? "" : ` (line ${line})`}`;
    return { text, line: line ?? Number.POSITIVE_INFINITY, order };
  });
  entries.sort((a, b) => a.line - b.line || a.order - b.order);
  return [...new Set(entries.map((entry) => entry.text))];
}
