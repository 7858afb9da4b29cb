import { parseDurationMs } from "./duration.js";
import { InputError } from "./errors.js";
import { ENFORCING_CATEGORIES, TARGET_TABLE } from "../evaluate/methodology.js";

/**
 * Thresholds in k6's grammar (`p(95)<10`, `rate<0.001`, `avg<5`…) on this tool's metrics, each
 * with a level so the methodology's three-level "Target Metrics" table is expressible:
 *
 * - a failed `target` threshold makes the run **degraded**;
 * - a failed `degraded` threshold (the bound of the degraded zone) makes it **critical**.
 *
 * The grammar is written out in docs/THRESHOLDS.md.
 */
export type ThresholdLevel = "target" | "degraded";
export const THRESHOLD_LEVELS: readonly ThresholdLevel[] = ["target", "degraded"];

export type ThresholdMetric =
  | "latency"
  | "service_time"
  | "send_lag"
  | "error_rate"
  | "block_rate"
  | "correctness"
  | "achieved_rate"
  | "rate_per_node"
  | "rate_ratio";

export type Aggregation = "p" | "avg" | "med" | "min" | "max" | "count" | "rate" | "value";
/** `===` is accepted as `==` (k6 accepts both) and normalized. */
export type Operator = "<" | "<=" | ">" | ">=" | "==" | "!=";

/** What a metric measures, and so which aggregations apply (k6: trend vs rate metrics). */
type MetricKind = "trend" | "rate" | "gauge";

interface MetricInfo {
  kind: MetricKind;
  aggregations: readonly Aggregation[];
  /** Whether `{category:…}` selects a per-category value. */
  perCategory: boolean;
  unit: string;
  description: string;
}

const TREND: readonly Aggregation[] = ["p", "avg", "med", "min", "max", "count"];

export const METRICS: Readonly<Record<ThresholdMetric, MetricInfo>> = {
  latency: {
    kind: "trend",
    aggregations: TREND,
    perCategory: true,
    unit: "ms",
    description: "latency from the intended send time (ms; no coordinated omission)",
  },
  service_time: {
    kind: "trend",
    aggregations: TREND,
    perCategory: false,
    unit: "ms",
    description: "time from the actual send to the end of the response (ms)",
  },
  send_lag: {
    kind: "trend",
    aggregations: TREND,
    perCategory: false,
    unit: "ms",
    description: "actual send time minus intended send time (ms): the generator's own delay",
  },
  error_rate: {
    kind: "rate",
    aggregations: ["rate", "value", "count"],
    perCategory: true,
    unit: "",
    description: "errors ÷ completed requests (count: number of errors)",
  },
  block_rate: {
    kind: "rate",
    aggregations: ["rate", "value", "count"],
    perCategory: true,
    unit: "",
    description: "blocked ÷ completed requests (count: number blocked)",
  },
  correctness: {
    kind: "rate",
    aggregations: ["rate", "value"],
    perCategory: true,
    unit: "",
    description: "completed requests whose outcome matched their case's expectation ÷ completed",
  },
  achieved_rate: {
    kind: "gauge",
    aggregations: ["value"],
    perCategory: false,
    unit: "req/s",
    description: "completed responses per second (req/s)",
  },
  rate_per_node: {
    kind: "gauge",
    aggregations: ["value"],
    perCategory: false,
    unit: "req/s",
    description: "completed responses per second ÷ gateway nodes (--nodes): a capacity with --rps max",
  },
  rate_ratio: {
    kind: "gauge",
    aggregations: ["value"],
    perCategory: false,
    unit: "",
    description: "achieved rate ÷ asked rate",
  },
};

/** k6's names of the same quantities, so thresholds can be pasted from a k6 script. */
export const METRIC_ALIASES: Readonly<Record<string, ThresholdMetric>> = {
  http_req_duration: "latency",
  errors: "error_rate",
  http_req_failed: "error_rate",
  blocked: "block_rate",
  throughput: "achieved_rate",
};

export interface Threshold {
  metric: ThresholdMetric;
  /** `{category:…}` tag selector; undefined = the whole run. */
  category?: string;
  aggregation: Aggregation;
  /** For `p(x)`: the percentile, 0..100. */
  percentile?: number;
  operator: Operator;
  bound: number;
  level: ThresholdLevel;
  /** k6's abortOnFail: stop the run as soon as the threshold fails (after delayAbortEvalMs). */
  abortOnFail: boolean;
  /** k6's delayAbortEval: do not abort before this much of the measured run has passed. */
  delayAbortEvalMs: number;
}

/** The object form of the profile: `{threshold: "p(95)<20", level: degraded, abortOnFail: true, delayAbortEval: 10s}`. */
export interface ThresholdObject {
  threshold: string;
  level?: ThresholdLevel;
  abortOnFail?: boolean;
  delayAbortEval?: string | number;
}

const OPERATORS: readonly string[] = ["<=", ">=", "===", "==", "!=", "<", ">"]; // longest first
const AGGREGATION_NAMES: readonly string[] = ["avg", "med", "min", "max", "count", "rate", "value"];
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Category names: the built-in ones and those of custom cases (src/config/profile.ts). */
export const CATEGORY_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * Where a piece being parsed sits in the text the user wrote (the whole `--threshold` value),
 * so positions in messages count from the start of what they typed.
 */
interface SourceContext {
  full: string;
  offset: number;
}

/** `position` is 1-based, in characters of the part parsed; reported in the user's whole text. */
function syntaxError(
  field: string,
  text: string,
  position: number,
  message: string,
  context?: SourceContext,
): InputError {
  const full = context?.full ?? text;
  return new InputError(field, `"${full}" at position ${position + (context?.offset ?? 0)}: ${message}`);
}

/** Index of the first non-space character at or after `from`. */
function skipSpaces(text: string, from: number): number {
  let at = from;
  while (at < text.length && /\s/.test(text[at] as string)) at++;
  return at;
}

/** `p(95) < 10`, `rate<=0`, `value>=0.99`: aggregation, operator, number. */
export function parseThresholdExpression(
  text: string,
  field = "threshold",
  context?: SourceContext,
): Pick<Threshold, "aggregation" | "percentile" | "operator" | "bound"> {
  let at = skipSpaces(text, 0);
  if (at >= text.length)
    throw syntaxError(
      field,
      text,
      1,
      "empty threshold (expected e.g. p(95)<10, avg<5 or rate<0.001)",
      context,
    );
  const nameMatch = NAME.exec(text.slice(at));
  if (!nameMatch)
    throw syntaxError(
      field,
      text,
      at + 1,
      "expected an aggregation: p(N), avg, med, min, max, count, rate or value",
      context,
    );
  const name = nameMatch[0];
  let aggregation: Aggregation;
  let percentile: number | undefined;
  if (name === "p") {
    at += 1;
    at = skipSpaces(text, at);
    if (text[at] !== "(")
      throw syntaxError(field, text, at + 1, 'expected "(" after p, as in p(95)', context);
    at = skipSpaces(text, at + 1);
    const numberMatch = NUMBER.exec(text.slice(at));
    if (!numberMatch)
      throw syntaxError(field, text, at + 1, "expected a percentile between 0 and 100", context);
    percentile = Number(numberMatch[0]);
    if (!(percentile >= 0 && percentile <= 100))
      throw syntaxError(field, text, at + 1, `percentile ${numberMatch[0]} is outside 0..100`, context);
    at = skipSpaces(text, at + numberMatch[0].length);
    if (text[at] !== ")")
      throw syntaxError(field, text, at + 1, 'expected ")" after the percentile', context);
    at += 1;
    aggregation = "p";
  } else if (AGGREGATION_NAMES.includes(name)) {
    aggregation = name as Aggregation;
    at += name.length;
  } else {
    throw syntaxError(
      field,
      text,
      at + 1,
      `unknown aggregation "${name}" (expected p(N), avg, med, min, max, count, rate or value)`,
      context,
    );
  }
  at = skipSpaces(text, at);
  const operatorText = OPERATORS.find((candidate) => text.startsWith(candidate, at));
  if (operatorText === undefined)
    throw syntaxError(field, text, at + 1, "expected an operator: <, <=, >, >=, == or !=", context);
  const operator = (operatorText === "===" ? "==" : operatorText) as Operator;
  at = skipSpaces(text, at + operatorText.length);
  const boundMatch = NUMBER.exec(text.slice(at));
  if (!boundMatch) throw syntaxError(field, text, at + 1, "expected a number", context);
  const bound = Number(boundMatch[0]);
  at = skipSpaces(text, at + boundMatch[0].length);
  if (at < text.length) {
    const rest = text.slice(at);
    const hint = /^(ms|s|%)/.test(rest)
      ? " (bounds have no unit: latencies are in ms, rates are fractions: 0.001 is 0.1%)"
      : "";
    throw syntaxError(field, text, at + 1, `unexpected "${rest}" after the number${hint}`, context);
  }
  return percentile === undefined
    ? { aggregation, operator, bound }
    : { aggregation, percentile, operator, bound };
}

/** `latency`, `http_req_duration`, `latency{category:security}`. */
export function parseMetricSelector(
  text: string,
  field = "threshold",
  context?: SourceContext,
): { metric: ThresholdMetric; category?: string } {
  const trimmed = text.trim();
  const offset = text.indexOf(trimmed);
  const brace = trimmed.indexOf("{");
  const name = (brace < 0 ? trimmed : trimmed.slice(0, brace)).trim();
  const metric = (name in METRICS ? name : METRIC_ALIASES[name]) as ThresholdMetric | undefined;
  if (metric === undefined) {
    const known = [...Object.keys(METRICS), ...Object.keys(METRIC_ALIASES)];
    const suggestion = closest(name, known);
    throw syntaxError(
      field,
      text,
      offset + 1,
      `unknown metric "${name}"${suggestion ? ` (did you mean ${suggestion}?)` : ""}; metrics: ${known.join(", ")}`,
      context,
    );
  }
  if (brace < 0) return { metric };
  const close = trimmed.indexOf("}", brace);
  if (close < 0)
    throw syntaxError(field, text, offset + trimmed.length + 1, 'expected "}" to close the tag', context);
  if (close !== trimmed.length - 1)
    throw syntaxError(
      field,
      text,
      offset + close + 2,
      `unexpected "${trimmed.slice(close + 1)}" after "}"`,
      context,
    );
  const inner = trimmed.slice(brace + 1, close);
  const colon = inner.indexOf(":");
  const tag = (colon < 0 ? inner : inner.slice(0, colon)).trim();
  if (tag !== "category")
    throw syntaxError(
      field,
      text,
      offset + brace + 2,
      `unknown tag "${tag}": the only tag is category, as in latency{category:security}`,
      context,
    );
  if (inner.includes(","))
    throw syntaxError(
      field,
      text,
      offset + brace + 2 + inner.indexOf(","),
      "only one tag is supported",
      context,
    );
  const category = colon < 0 ? "" : inner.slice(colon + 1).trim();
  if (!CATEGORY_NAME.test(category))
    throw syntaxError(
      field,
      text,
      offset + brace + 3 + colon,
      `"${category}" is not a category name (lower case letters, digits, _ and -)`,
      context,
    );
  if (!METRICS[metric].perCategory)
    throw syntaxError(
      field,
      text,
      offset + brace + 1,
      `${metric} has no per-category values; {category:…} applies to latency, error_rate, block_rate and correctness`,
      context,
    );
  return { metric, category };
}

function checkAggregation(
  field: string,
  text: string,
  metric: ThresholdMetric,
  expression: Pick<Threshold, "aggregation" | "operator" | "bound">,
): void {
  const info = METRICS[metric];
  if (!info.aggregations.includes(expression.aggregation)) {
    const allowed = info.aggregations.map((a) => (a === "p" ? "p(N)" : a)).join(", ");
    const aggregationText = expression.aggregation === "p" ? "p(N)" : expression.aggregation;
    throw new InputError(
      field,
      `"${text}": ${aggregationText} does not apply to ${metric} (a ${info.kind} metric): use ${allowed}`,
    );
  }
  const isFraction =
    expression.aggregation === "rate" || (info.kind === "rate" && expression.aggregation === "value");
  if (isFraction && !(expression.bound >= 0 && expression.bound <= 1)) {
    throw new InputError(
      field,
      `"${text}": a rate is a fraction between 0 and 1 (0.001 is 0.1%), got ${expression.bound}`,
    );
  }
}

export interface ThresholdOptions {
  level?: ThresholdLevel;
  abortOnFail?: boolean;
  delayAbortEvalMs?: number;
}

function buildThreshold(
  selector: { metric: ThresholdMetric; category?: string },
  expression: Pick<Threshold, "aggregation" | "percentile" | "operator" | "bound">,
  options: ThresholdOptions,
): Threshold {
  return {
    metric: selector.metric,
    ...(selector.category === undefined ? {} : { category: selector.category }),
    ...expression,
    level: options.level ?? "target",
    abortOnFail: options.abortOnFail ?? false,
    delayAbortEvalMs: options.delayAbortEvalMs ?? 0,
  };
}

/** One threshold from its metric selector and expression (both as written). */
export function parseThreshold(
  selector: string,
  expression: string,
  options: ThresholdOptions = {},
  field = "threshold",
): Threshold {
  const parsedSelector = parseMetricSelector(selector, field);
  const parsed = parseThresholdExpression(expression, field);
  checkAggregation(field, expression, parsedSelector.metric, parsed);
  return buildThreshold(parsedSelector, parsed, options);
}

/** The profile's list items: a string or `{threshold, level, abortOnFail, delayAbortEval}`. */
export function parseThresholdItem(
  selector: string,
  item: string | ThresholdObject,
  field: string,
): Threshold {
  if (typeof item === "string") return parseThreshold(selector, item, {}, field);
  let delayAbortEvalMs = 0;
  if (item.delayAbortEval !== undefined) {
    const parsed =
      typeof item.delayAbortEval === "number"
        ? item.delayAbortEval * 1000
        : parseDurationMs(item.delayAbortEval);
    if (parsed === undefined || !(parsed >= 0))
      throw new InputError(
        `${field}.delayAbortEval`,
        `must be a duration like 10s, got "${item.delayAbortEval}"`,
      );
    delayAbortEvalMs = parsed;
  }
  return parseThreshold(
    selector,
    item.threshold,
    {
      ...(item.level === undefined ? {} : { level: item.level }),
      ...(item.abortOnFail === undefined ? {} : { abortOnFail: item.abortOnFail }),
      delayAbortEvalMs,
    },
    `${field}.threshold`,
  );
}

/**
 * The CLI form: `--threshold 'latency{category:security}:p(99)<25@degraded'`:
 * `SELECTOR:EXPRESSION[@LEVEL]`. The selector ends at the first ":" outside `{…}`. Positions
 * in messages count from the start of the flag's value.
 */
export function parseCliThreshold(text: string, field = "--threshold"): Threshold {
  let depth = 0;
  let split = -1;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === "{") depth++;
    else if (char === "}") depth--;
    else if (char === ":" && depth === 0) {
      split = at;
      break;
    }
  }
  if (split < 0)
    throw syntaxError(
      field,
      text,
      text.length + 1,
      "expected METRIC:EXPRESSION[@LEVEL], as in latency:p(95)<10 or error_rate:rate<=0.001@degraded",
    );
  let end = text.length;
  let level: ThresholdLevel = "target";
  const at = text.lastIndexOf("@");
  if (at > split) {
    const levelText = text.slice(at + 1).trim();
    if (!(THRESHOLD_LEVELS as readonly string[]).includes(levelText))
      throw syntaxError(field, text, at + 2, `unknown level "${levelText}" (expected @target or @degraded)`);
    level = levelText as ThresholdLevel;
    end = at;
  }
  const selector = parseMetricSelector(text.slice(0, split), field, { full: text, offset: 0 });
  const expressionText = text.slice(split + 1, end);
  const expression = parseThresholdExpression(expressionText, field, { full: text, offset: split + 1 });
  checkAggregation(field, text, selector.metric, expression);
  return buildThreshold(selector, expression, { level });
}

/** `latency{category:security}`: the key thresholds are grouped and replaced by. */
export function selectorOf(threshold: Pick<Threshold, "metric" | "category">): string {
  return threshold.category === undefined
    ? threshold.metric
    : `${threshold.metric}{category:${threshold.category}}`;
}

/** `p(95)<10`. */
export function expressionOf(threshold: Threshold): string {
  const aggregation = threshold.aggregation === "p" ? `p(${threshold.percentile})` : threshold.aggregation;
  return `${aggregation}${threshold.operator}${threshold.bound}`;
}

/** The CLI form, which parseCliThreshold reads back: `latency{category:security}:p(99)<25@degraded`. */
export function formatThreshold(threshold: Threshold): string {
  return `${selectorOf(threshold)}:${expressionOf(threshold)}${threshold.level === "degraded" ? "@degraded" : ""}`;
}

/**
 * Layering (defaults < profile file < --threshold flags): thresholds of a later layer replace
 * every earlier threshold with the same selector, so `latency: ["p(95)<50"]` in a profile drops
 * the default P50/P95/P99 latency bounds, while `latency{category:security}` only adds. This is
 * how a k6 script states what it wants for a metric: all of it, in one place.
 */
export function mergeThresholds(base: readonly Threshold[], overrides: readonly Threshold[]): Threshold[] {
  const replaced = new Set(overrides.map(selectorOf));
  return [...base.filter((threshold) => !replaced.has(selectorOf(threshold))), ...overrides];
}

export { ENFORCING_CATEGORIES };

export interface DefaultThresholdContext {
  /** Categories the run can send (absent ones are skipped at evaluation anyway). */
  categories: readonly string[];
  /** True when the mix holds cases a policy must block (enables the "policy inactive" check). */
  expectsBlocks: boolean;
  /** Categories whose misses are critical; default security and policy. */
  enforcingCategories?: readonly string[];
  /** `--rps max`: the run measures capacity, judged per node (src/evaluate/capacity.ts). */
  closedLoop?: boolean;
}

const t = (selector: string, expression: string, level: ThresholdLevel = "target"): Threshold =>
  parseThreshold(selector, expression, { level }, "default threshold");

/**
 * The methodology's "Target Metrics" table as thresholds, with the same levels as evaluateRun in
 * src/evaluate/verdict.ts (tested side by side in test/evaluate/thresholds.test.ts):
 *
 * | methodology row | target | degraded bound (beyond is critical) |
 * |---|---|---|
 * | P50 latency | p(50)<3 | p(50)<=5 |
 * | P95 latency | p(95)<10 | p(95)<=20 |
 * | P99 latency | p(99)<25 | p(99)<=50 |
 * | Throughput (of the asked rate) | rate_ratio ≥ 0.95 | ≥ 0.5 |
 * | Capacity per node, closed loop only | rate_per_node > 1000 | ≥ 500 |
 * | Error rate "0%" | rate==0 | rate<=0.001 |
 * | Policy block rate "0% = policy inactive" | | rate>0, when the mix must be blocked |
 * | Correctness security/policy | | rate==1 |
 * | Correctness other categories | rate==1 | rate>=0.95 |
 */
export function defaultThresholds(context: DefaultThresholdContext): Threshold[] {
  const enforcing = context.enforcingCategories ?? ENFORCING_CATEGORIES;
  const table = TARGET_TABLE;
  const thresholds: Threshold[] = table.latencyMs.flatMap((row) => [
    t("latency", `p(${row.percentile})<${row.targetBelowMs}`),
    t("latency", `p(${row.percentile})<=${row.degradedUpToMs}`, "degraded"),
  ]);
  thresholds.push(
    t("rate_ratio", `value>=${table.rateRatio.targetAtLeast}`),
    t("rate_ratio", `value>=${table.rateRatio.degradedAtLeast}`, "degraded"),
    t("error_rate", table.errorRate.targetAtMost === 0 ? "rate==0" : `rate<=${table.errorRate.targetAtMost}`),
    t("error_rate", `rate<=${table.errorRate.degradedAtMost}`, "degraded"),
  );
  if (context.closedLoop) {
    thresholds.push(
      t("rate_per_node", `value>${table.capacityPerNodePerSec.targetAbove}`),
      t("rate_per_node", `value>=${table.capacityPerNodePerSec.degradedAtLeast}`, "degraded"),
    );
  }
  if (context.expectsBlocks)
    thresholds.push(t("block_rate", `rate>${table.blockRate.targetAbove}`, "degraded"));
  const { targetAtLeast, degradedAtLeast } = table.correctness;
  for (const category of context.categories) {
    const selector = `correctness{category:${category}}`;
    // Enforcing categories: any miss is critical. Others: degraded down to `degradedAtLeast`.
    thresholds.push(
      ...(enforcing.includes(category)
        ? [t(selector, `rate==${targetAtLeast}`, "degraded")]
        : [t(selector, `rate==${targetAtLeast}`), t(selector, `rate>=${degradedAtLeast}`, "degraded")]),
    );
  }
  return thresholds;
}

/** The defaults for the built-in categories and a mix that must be blocked (the standard mixed run). */
export const DEFAULT_THRESHOLDS: readonly Threshold[] = Object.freeze(
  defaultThresholds({ categories: ["normal", "security", "policy", "llm"], expectsBlocks: true }),
);

/** The nearest of `candidates` within a small edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
