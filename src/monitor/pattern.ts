/**
 * `--monitor-metric PATTERN` (docs/MONITOR.md "Choosing series"): a metric name, a glob over
 * names (`*pool*`, `node_cpu_?`), and optional label matchers in PromQL's selector syntax
 * (`http_requests_total{code=~"5..",method!="GET"}`). Regex matchers are anchored, as in PromQL.
 */
import { InputError } from "../config/errors.js";

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  value: string;
}

export interface MetricPattern {
  /** The pattern as typed, for messages and results. */
  text: string;
  name: RegExp;
  matchers: Array<LabelMatcher & { regex?: RegExp }>;
}

const NAME = /^[a-zA-Z_:*?][a-zA-Z0-9_:*?]*$/;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/;

function globToRegExp(glob: string): RegExp {
  const source = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`);
}

function anchored(flag: string, text: string, source: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    throw new InputError(flag, `bad regular expression "${source}" in "${text}"`);
  }
}

export function parseMetricPattern(text: string, flag = "--monitor-metric"): MetricPattern {
  const brace = text.indexOf("{");
  const namePart = (brace < 0 ? text : text.slice(0, brace)).trim();
  const bad = (why: string): never => {
    throw new InputError(flag, `${why} in "${text}" (expected e.g. name, *pool*, name{label=~"5.."})`);
  };
  if (namePart === "" && brace < 0) bad("empty pattern");
  if (namePart !== "" && !NAME.test(namePart)) bad(`"${namePart}" is not a metric name or glob`);
  const matchers: MetricPattern["matchers"] = [];
  if (brace >= 0) {
    if (!text.trimEnd().endsWith("}")) bad("missing }");
    let rest = text.slice(brace + 1, text.trimEnd().length - 1);
    while (rest.trim() !== "") {
      const match = MATCHER.exec(rest);
      if (!match) bad(`cannot read the label matcher "${rest.trim()}"`);
      const [whole, label, op, rawValue] = match as unknown as [string, string, MatchOp, string];
      const value = rawValue.replace(/\\(.)/g, "$1");
      matchers.push({
        label,
        op,
        value,
        ...(op === "=~" || op === "!~" ? { regex: anchored(flag, text, value) } : {}),
      });
      rest = rest.slice(whole.length);
    }
  }
  return { text, name: globToRegExp(namePart === "" ? "*" : namePart), matchers };
}

/** Whether a sample's name and labels match; a missing label reads as "", as in PromQL. */
export function matchesPattern(
  pattern: MetricPattern,
  name: string,
  labels: Record<string, string>,
): boolean {
  if (!pattern.name.test(name)) return false;
  for (const matcher of pattern.matchers) {
    const value = labels[matcher.label] ?? "";
    const ok =
      matcher.op === "="
        ? value === matcher.value
        : matcher.op === "!="
          ? value !== matcher.value
          : matcher.op === "=~"
            ? (matcher.regex as RegExp).test(value)
            : !(matcher.regex as RegExp).test(value);
    if (!ok) return false;
  }
  return true;
}
