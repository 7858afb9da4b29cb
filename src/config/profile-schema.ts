/**
 * The profile file's shape (`load-test run profile.yaml`), as zod schemas. They check types,
 * ranges and unknown keys (typos) of each field; src/config/profile.ts adds the rules between
 * fields and turns the result into a Profile. docs/profile.schema.json is generated from
 * `profileSchema` (profileJsonSchema) so editors complete and check the same format.
 */
import { z } from "zod";
import { parseStages } from "../plan/ramping.js";
import { InputError } from "./errors.js";
import { parseDurationMs, timerLimitProblem } from "./duration.js";
import { headerNameSchema, headerValueProblem } from "./headers.js";
import { caseSchema } from "./profile-cases.js";
import { CATEGORY_NAME, THRESHOLD_LEVELS } from "./thresholds.js";

/** The same language as parseDurationMs: `30s`, `1m30s`, `500ms`, `1h`, or a bare number of seconds. */
export const DURATION_PATTERN = "^\\s*(?:(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h))+|\\d+(?:\\.\\d+)?)\\s*$";
const DURATION_MESSAGE = "must be a duration like 30s, 1m30s or 500ms (a bare number is seconds)";
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Prometheus label names (the exporter checks reserved names again). */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const durationSchema = z
  .union([z.string().regex(new RegExp(DURATION_PATTERN), { error: DURATION_MESSAGE }), z.number().min(0)], {
    error: DURATION_MESSAGE,
  })
  .refine(
    (value) =>
      timerLimitProblem(typeof value === "number" ? value * 1000 : (parseDurationMs(value) ?? 0)) ===
      undefined,
    {
      error: (issue) =>
        timerLimitProblem(
          typeof issue.input === "number" ? issue.input * 1000 : (parseDurationMs(String(issue.input)) ?? 0),
        ),
    },
  )
  .describe("A duration: 30s, 5m, 1h, 1m30s, 500ms, or a number of seconds");

const isZeroDuration = (value: string | number): boolean =>
  typeof value === "number"
    ? value === 0
    : /^\s*(?:(?:0+(?:\.0+)?(?:ms|s|m|h))+|0+(?:\.0+)?)\s*$/.test(value);

const positiveDuration = durationSchema.refine((value) => !isZeroDuration(value), {
  error: "must be longer than 0",
});

const nonNegativeRate = z
  .number({ error: "must be a number ≥ 0" })
  .min(0, { error: "must be a number ≥ 0" })
  .describe("Requests per second (fractions allowed)");
const positiveRate = z
  .number({ error: "must be a number > 0" })
  .gt(0, { error: "must be a number > 0" })
  .describe("Requests per second (fractions allowed)");

const categoryName = z
  .string({ error: "must be a category name" })
  .regex(CATEGORY_NAME, { error: "must be a category name: lower case letters, digits, _ and -" });

const envName = z
  .string({ error: "must be an environment variable name like MY_KEY" })
  .regex(ENV_NAME, { error: "must be an environment variable name like MY_KEY" });

export const envRefSchema = z
  .strictObject({
    env: envName.describe("Environment variable read when the profile is loaded"),
    default: z.string({ error: "must be a string" }).optional().describe("Used when the variable is not set"),
  })
  .describe("A value read from the environment at load time; never written to results");

export const stageSchema = z
  .strictObject({
    duration: durationSchema,
    target: nonNegativeRate.describe("Rate (req/s) reached at the end of the stage"),
  })
  .describe("k6 stage: the rate moves linearly from the previous target to this one over duration");

const stagesText = z
  .string()
  .superRefine((text, ctx) => {
    try {
      // Zero targets are judged with the start rate, in src/config/profile.ts.
      parseStages(text, 1, "stages");
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message.replace(/^stages: /, "") });
    }
  })
  .describe('Compact form, as --stages: "30s:10,1m:50,2m:100,30s:0"');

export const stagesSchema = z
  .union([z.array(stageSchema).min(1, { error: "must hold at least one stage" }), stagesText], {
    error: 'must be a list of {duration, target} or a string like "30s:10,1m:50"',
  })
  .describe("k6 ramping arrival rate stages (instead of rps + duration)");

const mixSchema = z
  .record(
    categoryName,
    z
      .number({ error: "must be an integer weight ≥ 0" })
      .int({ error: "must be an integer weight ≥ 0" })
      .min(0, { error: "must be an integer weight ≥ 0" }),
  )
  .describe(
    "Category weights, e.g. {normal: 8, security: 1, policy: 1} (the methodology's ~20% block rate, docs/METHODOLOGY.md)",
  );

const categoryChoice = categoryName.describe(
  "One category (normal, security, policy, llm or a custom case category), or mixed",
);

export const phaseSchema = z
  .strictObject({
    name: z
      .string({ error: "must be a string" })
      .min(1, { error: "must not be empty" })
      .describe("Name of the phase (a row of the baseline ladder)"),
    description: z.string({ error: "must be a string" }).optional(),
    stages: stagesSchema.optional(),
    startRps: nonNegativeRate.optional().describe("Rate the phase's first stage ramps from (default 0)"),
    rps: positiveRate.optional().describe("Constant rate of the phase (with duration)"),
    duration: positiveDuration.optional().describe("Length of the phase at the constant rate"),
    pauseAfter: durationSchema.optional().describe("Idle time after the phase, before the next one"),
    category: categoryChoice.optional(),
    mix: mixSchema.optional(),
  })
  .describe("One step of the test: its own load shape and, optionally, its own category mix");

export const thresholdObjectSchema = z
  .strictObject({
    threshold: z.string({ error: "must be a string like p(95)<10" }).describe("e.g. p(95)<10, rate<0.001"),
    level: z
      .enum(THRESHOLD_LEVELS as [string, ...string[]], { error: "must be target or degraded" })
      .optional()
      .describe("target: failing makes the run degraded; degraded: failing makes it critical"),
    abortOnFail: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe("Stop the run as soon as the threshold fails"),
    delayAbortEval: durationSchema.optional().describe("Do not abort before this much of the run"),
  })
  .describe("A threshold with options (k6's object form)");

export const thresholdsSchema = z
  .record(
    z.string(),
    z
      .array(
        z.union([z.string(), thresholdObjectSchema], {
          error: 'must be a threshold like "p(95)<10" or {threshold, level, abortOnFail, delayAbortEval}',
        }),
        { error: 'must be a list of thresholds, e.g. ["p(95)<10"]' },
      )
      .min(1, { error: "must list at least one threshold" }),
  )
  .describe('Per metric (latency, error_rate, …, with an optional {category:x}): ["p(95)<10", …]');

const headerValue = z
  .union([z.string(), z.number(), envRefSchema], { error: "must be a string or {env: NAME}" })
  .refine((value) => typeof value === "object" || headerValueProblem(String(value)) === undefined, {
    error: (issue) => headerValueProblem(String(issue.input)),
  })
  .describe("A literal value, or {env: NAME} to read a secret from the environment");

export const headersSchema = z
  .record(headerNameSchema, headerValue)
  .describe("Request headers sent with every request");

export const authSchema = z
  .strictObject({
    bearerEnv: envName.describe("Sent as Authorization: Bearer <value of this variable>"),
    default: z.string({ error: "must be a string" }).optional().describe("Used when the variable is not set"),
  })
  .describe("Bearer authentication read from the environment (the methodology's AXONFLOW_CLIENT_ID)");

const url = (what: string) =>
  z.string({ error: `must be ${what}` }).regex(/^https?:\/\/\S+$/i, { error: `must be ${what}` });

export const outputsSchema = z
  .strictObject({
    out: z
      .string({ error: "must be a file path" })
      .min(1)
      .optional()
      .describe("Results JSON (docs/RESULTS.md)"),
    prometheusFile: z
      .string({ error: "must be a file path" })
      .min(1)
      .optional()
      .describe("Final metrics in Prometheus text format"),
    pushgateway: url("an http:// or https:// URL").optional().describe("Prometheus Pushgateway base URL"),
    markdown: z
      .string({ error: "must be a file path" })
      .min(1)
      .optional()
      .describe("Markdown summary table (the methodology's Baseline Results table)"),
    hdrLog: z
      .string({ error: "must be a file path" })
      .min(1)
      .optional()
      .describe("HdrHistogram interval log: each second's latency histogram (docs/RESULTS.md)"),
    html: z
      .string({ error: "must be a file path" })
      .min(1)
      .optional()
      .describe("Self-contained HTML report with charts (docs/REPORTS.md)"),
  })
  .describe("Where results go; paths are relative to the working directory, as the CLI flags");

const nonEmpty = (what: string) =>
  z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });

export const monitorSchema = z
  .strictObject({
    scrape: z
      .array(url("an http:// or https:// URL"), { error: "must be a list of URLs" })
      .optional()
      .describe("Prometheus text pages of the target to scrape every interval (--monitor)"),
    interval: z
      .union([nonEmpty("a duration"), z.number().positive()], {
        error: 'must be a duration like "1s" or "500ms", or seconds',
      })
      .optional()
      .describe("How often the sources are read, 100ms to 60s (--monitor-interval, default 1s)"),
    metrics: z
      .array(nonEmpty("a metric name, glob or selector"), {
        error: 'must be a list of patterns, e.g. ["*pool*"]',
      })
      .optional()
      .describe(
        'More series to keep from the scraped pages: name, glob, name{label=~"5.."} (--monitor-metric)',
      ),
    prometheus: url("an http:// or https:// URL")
      .optional()
      .describe("A Prometheus server to ask the queries (--monitor-prometheus)"),
    queries: z
      .record(
        z
          .string()
          .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { error: "not a series name ([a-zA-Z_:][a-zA-Z0-9_:]*)" }),
        nonEmpty("a PromQL query"),
        { error: "must map names to PromQL queries, e.g. {cpu: rate(process_cpu_seconds_total[15s])}" },
      )
      .optional()
      .describe("NAME: PROMQL, each kept as series NAME (--monitor-query)"),
    logs: z
      .array(nonEmpty("a file path"), { error: "must be a list of file paths" })
      .optional()
      .describe("Log files whose matching lines are counted during the run (--monitor-log)"),
    logPattern: nonEmpty("a regular expression")
      .optional()
      .describe("Which log lines count as errors (--monitor-log-pattern, default ERROR|FATAL|panic)"),
  })
  .describe("The target's own signals during the run (docs/MONITOR.md); flags override each field");

export const profileSchema = z
  .strictObject({
    $schema: z.string().optional().describe("JSON Schema of this file, for editors"),
    name: z.string({ error: "must be a string" }).optional().describe("Name of the test"),
    description: z.string({ error: "must be a string" }).optional(),
    target: z
      .union([url("an http:// or https:// URL"), envRefSchema], {
        error: "must be an http:// or https:// URL, or {env: NAME, default: URL}",
      })
      .optional()
      .describe("Base URL of the target; default $AXONFLOW_ENDPOINT"),
    path: z
      .string({ error: "must be a string" })
      .refine((path) => path.startsWith("/"), { error: 'must start with "/"' })
      .optional()
      .describe("Request path (default /v1/execute); cases may set their own"),
    headers: headersSchema.optional(),
    auth: authSchema.optional(),
    stages: stagesSchema.optional(),
    startRps: nonNegativeRate.optional().describe("Rate the first stage ramps from (default 0)"),
    rps: positiveRate.optional().describe("Constant rate (with duration)"),
    duration: positiveDuration.optional().describe("Test duration at the constant rate"),
    phases: z
      .array(phaseSchema, { error: "must be a list of phases" })
      .min(1, { error: "must hold at least one phase" })
      .optional()
      .describe("Named steps run one after another (instead of stages or rps + duration)"),
    workers: z
      .number({ error: "must be an integer ≥ 1" })
      .int({ error: "must be an integer ≥ 1" })
      .min(1, { error: "must be an integer ≥ 1" })
      .optional()
      .describe("Cap on requests in flight (default 2 s worth of the peak rate, 10..1000)"),
    timeout: positiveDuration.optional().describe("Per-request timeout from the actual send (default 30s)"),
    warmup: durationSchema.optional().describe("Unrecorded traffic before the measured run (default 0)"),
    nodes: z
      .number({ error: "must be an integer ≥ 1" })
      .int({ error: "must be an integer ≥ 1" })
      .min(1, { error: "must be an integer ≥ 1" })
      .optional()
      .describe("Gateway nodes serving the target: capacity is judged per node (default 1)"),
    coldstartWindow: z
      .number({ error: "must be an integer ≥ 0" })
      .int({ error: "must be an integer ≥ 0" })
      .min(0, { error: "must be an integer ≥ 0" })
      .optional()
      .describe("Report the first N requests' percentiles on their own (default 0: none)"),
    category: categoryChoice.optional(),
    mix: mixSchema.optional(),
    cases: z
      .array(caseSchema, { error: "must be a list of cases" })
      .optional()
      .describe("Custom test cases for any HTTP API (instead of the built-in corpora)"),
    casesFile: z
      .string({ error: "must be a file path" })
      .min(1, { error: "must be a file path" })
      .optional()
      .describe("More cases from a .jsonl or .csv file, relative to this profile"),
    thresholds: thresholdsSchema.optional(),
    defaultThresholds: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe("Keep the methodology's Target Metrics table under the thresholds given (default true)"),
    labels: z
      .record(
        z.string().regex(LABEL_NAME, { error: "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)" }),
        z.union([z.string(), z.number(), z.boolean()], { error: "must be a string" }),
      )
      .optional()
      .describe("Prometheus labels (client, environment, provider and your own)"),
    outputs: outputsSchema.optional(),
    monitor: monitorSchema.optional(),
    archive: z
      .string({ error: "must be a directory path" })
      .min(1, { error: "must be a directory path" })
      .optional()
      .describe(
        "Directory that keeps every run's results with metadata, for compare and history (docs/COMPARE.md)",
      ),
    abortOnCritical: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe("Stop the run as soon as the live verdict is critical"),
  })
  .describe("A load-test profile: one file holds a whole test (docs/PROFILES.md)");

export type RawProfile = z.input<typeof profileSchema>;
export type RawPhase = z.input<typeof phaseSchema>;
export type RawThresholds = z.input<typeof thresholdsSchema>;

/** docs/profile.schema.json: JSON Schema (draft-07, what editors support best) of the profile file. */
export function profileJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(profileSchema, {
    io: "input",
    target: "draft-7",
    unrepresentable: "any",
  });
  return {
    $schema: generated.$schema,
    title: "load-test profile",
    ...Object.fromEntries(Object.entries(generated).filter(([key]) => key !== "$schema")),
  };
}
