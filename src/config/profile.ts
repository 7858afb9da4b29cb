/**
 * Profiles: one YAML or JSON file holds a whole test (`load-test run profile.yaml`): target,
 * auth, load shape (k6 stages, a constant rate, or named phases), category mix or custom cases,
 * thresholds, labels and outputs. The user guide is docs/PROFILES.md; editors get
 * docs/profile.schema.json.
 *
 * Loading validates everything up front and reports every problem at once, each with its field
 * path and line (docs/PROFILES.md). Secrets (auth, `{env: NAME}` headers) are read from the
 * environment at load time and kept apart from the serializable profile.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { parseStages, stagesPlan, type RampingPlan, type Stage } from "../plan/ramping.js";
import { CORPUS } from "../scenarios/corpus.js";
import { MIXED_WEIGHTS } from "../scenarios/mix.js";
import { CATEGORIES, type Category } from "../scenarios/types.js";
import { parseDurationMs } from "./duration.js";
import { InputError } from "./errors.js";
import { CLOSED_LOOP_WORKERS, DEFAULT_PATH, DEFAULT_TIMEOUT, defaultWorkers } from "./options.js";
import {
  describeValue,
  formatFieldPath,
  formatProblems,
  isRecord,
  issuesToProblems,
  type Path,
  type Problem,
} from "./profile-problems.js";
import {
  caseSchema,
  checkCaseSemantics,
  normalizeCase,
  parseCsvCases,
  parseJsonLines,
  type CaseRecord,
  type CustomCase,
} from "./profile-cases.js";
import { headerValueProblem } from "./headers.js";
import {
  monitorFlagsOfSection,
  parseMonitorFlags,
  SECTION_FIELD_OF_FLAG,
  type RawMonitorFlags,
} from "../monitor/options.js";
import { ENV_NAME, profileSchema, type RawPhase, type RawProfile } from "./profile-schema.js";
import {
  CATEGORY_NAME,
  closest,
  defaultThresholds,
  mergeThresholds,
  parseThresholdItem,
  type Threshold,
  type ThresholdObject,
} from "./thresholds.js";

export { formatFieldPath };

/** Every problem of a profile, each `field.path: message (line N)`; an InputError so the CLI exits 2. */
export class ProfileError extends InputError {
  constructor(
    /** The profile file (or "command line"). */
    readonly source: string,
    readonly problems: string[],
  ) {
    super(
      source,
      problems.length === 1
        ? (problems[0] as string)
        : `${problems.length} problems:\n  - ${problems.join("\n  - ")}`,
    );
  }
}

/** One step of the run; a profile without `phases` has one, named "main". */
export interface PhaseSpec {
  name: string;
  /** The load shape as k6 stages (a constant rate is one held stage). */
  stages: Stage[];
  startPerSec: number;
  /** Set when the phase was written as rps + duration. */
  constantPerSec?: number;
  /** `--rps max` over a profile without phases or stages: `workers` in flight, no rate (docs/PROFILES.md). */
  closedLoop?: boolean;
  pauseAfterMs: number;
  /** As written: "mixed", or one category. */
  category: string;
  /** Resolved category weights (integers ≥ 0, some > 0). */
  weights: Record<string, number>;
}

/** Where a header's value comes from; the value itself is in LoadedProfile.secrets. */
export interface HeaderSource {
  name: string;
  /** `profile` (literal in the file), `env:NAME`, `default` (env unset, the file's default), `--header`. */
  from: string;
}

export interface ProfileOutputs {
  out?: string;
  prometheusFile?: string;
  pushgateway?: string;
  markdown?: string;
  /** HdrHistogram interval log of the per-second latency histograms (`--hdr-log`). */
  hdrLog?: string;
  /** Self-contained HTML report (`--html`, docs/REPORTS.md). */
  html?: string;
}

/** A validated profile: units in names, no secret values, JSON-serializable. */
export interface Profile {
  name?: string;
  description?: string;
  /** Base URL; undefined until --target or AXONFLOW_ENDPOINT gives one. */
  target?: string;
  path: string;
  headers: HeaderSource[];
  /** Bearer auth and where its token came from (`env:NAME`, `default`, `--api-key`); the token is a secret. */
  auth?: { scheme: "bearer"; from: string };
  /** Empty until the file or the CLI gives a load shape. */
  phases: PhaseSpec[];
  /** Top-level category choice as written ("mixed" by default). */
  category: string;
  /** Undefined: 2 s worth of the peak rate, 10..1000 (effectiveWorkers). */
  workers?: number;
  timeoutMs: number;
  warmupMs: number;
  /** The first N requests are reported on their own (cold start); 0 for none. */
  coldstartWindow: number;
  /** Gateway nodes serving the target: capacity is judged per node (docs/THRESHOLDS.md). */
  nodes: number;
  /** Custom test cases; undefined means the built-in corpora. */
  cases?: CustomCase[];
  /** The file's thresholds (and --threshold ones), before defaults are layered under them. */
  thresholds: Threshold[];
  /** Whether the methodology's table (DEFAULT_THRESHOLDS) stays under `thresholds`. */
  defaultThresholds: boolean;
  labels: Record<string, string>;
  outputs: ProfileOutputs;
  /** `archive:` (or `--archive`): the directory that keeps every run (docs/COMPARE.md). */
  archive?: string;
  /** `monitor:` as the `--monitor…` flags it stands for, typed flags over it (docs/MONITOR.md). */
  monitor?: RawMonitorFlags;
  abortOnCritical: boolean;
}

/** Secret values read at load time. Never serialized: LoadedProfile keeps them non-enumerable. */
export interface ProfileSecrets {
  bearerToken?: string;
  /** Every header value, literal or from the environment, in profile order. */
  headers: Array<[string, string]>;
}

export interface LoadedProfile {
  /** The profile file as given (or "command line"). */
  source: string;
  /** Directory data files are relative to. */
  baseDir: string;
  profile: Profile;
  /** `{env: NAME}` values whose variable is unset and has no default: the resolver fails unless a flag replaces them (resolve-profile.ts). */
  unresolvedEnv: Array<{ field: string; variable: string }>;
  /** Non-enumerable: JSON.stringify, structuredClone and console.log leave it out. */
  readonly secrets: ProfileSecrets;
}

/** Strips the `field: ` an InputError puts in front of its message. */
const bare = (error: InputError): string =>
  error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message;

const toMs = (value: string | number): number =>
  typeof value === "number" ? value * 1000 : (parseDurationMs(value) as number);

// ---------------------------------------------------------------------------------------------
// Rules between fields, checked on the raw input so they are reported even beside type errors.

function loadShapeProblems(raw: Record<string, unknown>, path: Path, topLevel: boolean): Problem[] {
  const problems: Problem[] = [];
  const has = (key: string): boolean => raw[key] !== undefined;
  if (topLevel && has("phases")) {
    const mixed = ["stages", "rps", "duration", "startRps"].filter(has);
    if (mixed.length > 0)
      problems.push({
        path: [...path, "phases"],
        message: `cannot be combined with ${mixed.join(", ")} (each phase has its own load shape)`,
      });
    return problems;
  }
  if (has("stages")) {
    for (const key of ["rps", "duration"].filter(has))
      problems.push({
        path: [...path, key],
        message: "cannot be combined with stages (the stages set the rate and the length)",
      });
    const stages = raw.stages;
    const startRps = typeof raw.startRps === "number" ? raw.startRps : 0;
    const targets = Array.isArray(stages)
      ? stages.map((stage) => (isRecord(stage) ? stage.target : undefined))
      : typeof stages === "string"
        ? stages.split(",").map((item) => Number(item.slice(item.indexOf(":") + 1)))
        : [];
    if (targets.length > 0 && startRps === 0 && targets.every((target) => target === 0))
      problems.push({
        path: [...path, "stages"],
        message: "every target is 0 and startRps is 0, so the stages ask for no request",
      });
  } else {
    if (has("rps") && !has("duration"))
      problems.push({ path: [...path, "duration"], message: "is required with rps" });
    if (has("duration") && !has("rps"))
      problems.push({ path: [...path, "rps"], message: "is required with duration" });
    if (has("startRps"))
      problems.push({
        path: [...path, "startRps"],
        message: "only applies to stages (the rate they ramp from)",
      });
    if (!topLevel && !has("rps") && !has("duration"))
      problems.push({ path, message: "needs a load shape: stages, or rps and duration" });
  }
  if (has("category") && has("mix"))
    problems.push({
      path: [...path, "mix"],
      message: "cannot be combined with category (mix is the category weights; use one)",
    });
  return problems;
}

function crossFieldProblems(raw: Record<string, unknown>): Problem[] {
  const problems = loadShapeProblems(raw, [], true);
  if (Array.isArray(raw.phases)) {
    const names = new Set<string>();
    raw.phases.forEach((phase, k) => {
      if (!isRecord(phase)) return;
      problems.push(...loadShapeProblems(phase, ["phases", k], false));
      if (typeof phase.name === "string") {
        if (names.has(phase.name))
          problems.push({ path: ["phases", k, "name"], message: `"${phase.name}" is used by another phase` });
        names.add(phase.name);
      }
    });
  }
  if (isRecord(raw.headers) && isRecord(raw.auth)) {
    const clash = Object.keys(raw.headers).find((name) => name.toLowerCase() === "authorization");
    if (clash)
      problems.push({
        path: ["headers", clash],
        message: "cannot be combined with auth (both set Authorization)",
      });
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Data files

async function loadCasesFile(
  file: string,
  baseDir: string,
): Promise<{ cases: Array<{ raw: z.infer<typeof caseSchema>; source: string }>; problems: Problem[] }> {
  const display = file;
  const absolute = resolve(baseDir, file);
  const problems: Problem[] = [];
  const cases: Array<{ raw: z.infer<typeof caseSchema>; source: string }> = [];
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? `no such file (looked for ${absolute})` : (error as Error).message;
    return { cases, problems: [{ path: ["casesFile"], message: reason }] };
  }
  const extension = extname(file).toLowerCase();
  let records: CaseRecord[];
  if (extension === ".csv") {
    const parsed = parseCsvCases(text);
    for (const problem of parsed.problems)
      problems.push({ path: ["casesFile"], message: `${display}: ${problem}`, location: "" });
    records = parsed.records;
  } else if (extension === ".jsonl" || extension === ".ndjson") {
    records = parseJsonLines(text);
  } else {
    return {
      cases,
      problems: [{ path: ["casesFile"], message: `"${file}": expected a .jsonl (JSON Lines) or .csv file` }],
    };
  }
  if (records.length === 0 && problems.length === 0)
    problems.push({ path: ["casesFile"], message: `${display}: holds no case` });
  for (const record of records) {
    const location = `casesFile ${display}:${record.line}`;
    if (record.error !== undefined) {
      problems.push({ path: [], message: record.error, location });
      continue;
    }
    const parsed = caseSchema.safeParse(record.value);
    if (!parsed.success) {
      for (const problem of issuesToProblems(parsed.error.issues, record.value, caseSchema))
        problems.push({ ...problem, location });
      continue;
    }
    for (const problem of checkCaseSemantics(parsed.data)) problems.push({ ...problem, location });
    cases.push({ raw: parsed.data, source: `${basename(file)}:${record.line}` });
  }
  return { cases, problems };
}

// ---------------------------------------------------------------------------------------------
// Normalization (after the schema passed)

interface NormalizeContext {
  env: Readonly<Record<string, string | undefined>>;
  problems: Problem[];
  unresolvedEnv: Array<{ field: string; variable: string }>;
  secrets: ProfileSecrets;
  knownCategories: readonly string[];
  cases: CustomCase[] | undefined;
}

/** Category weights from `category` or `mix`, checked against the categories that exist. */
function resolveWeights(
  category: string | undefined,
  mix: Record<string, number> | undefined,
  path: Path,
  context: Pick<NormalizeContext, "problems" | "knownCategories" | "cases">,
): { category: string; weights: Record<string, number> } {
  const known = context.knownCategories;
  const unknown = (name: string, where: Path): void => {
    const suggestion = closest(name, known);
    context.problems.push({
      path: where,
      message: `unknown category "${name}"${suggestion ? ` (did you mean ${suggestion}?)` : ""}; categories: ${known.join(", ")}`,
    });
  };
  if (mix !== undefined) {
    for (const name of Object.keys(mix)) if (!known.includes(name)) unknown(name, [...path, "mix", name]);
    if (!Object.values(mix).some((weight) => weight > 0))
      context.problems.push({ path: [...path, "mix"], message: "every weight is 0: nothing would be sent" });
    return { category: "mixed", weights: { ...mix } };
  }
  const choice = category ?? "mixed";
  if (choice === "mixed") {
    if (context.cases) {
      // Custom cases: each category weighs what its cases weigh together.
      const weights: Record<string, number> = {};
      for (const testCase of context.cases)
        weights[testCase.category] = (weights[testCase.category] ?? 0) + testCase.weight;
      return { category: choice, weights };
    }
    return { category: choice, weights: { ...MIXED_WEIGHTS } };
  }
  if (!known.includes(choice)) unknown(choice, [...path, "category"]);
  return { category: choice, weights: { [choice]: 1 } };
}

function normalizePhase(
  raw: RawPhase | RawProfile,
  name: string,
  path: Path,
  inherited: { category: string; weights: Record<string, number> } | undefined,
  context: NormalizeContext,
): PhaseSpec | undefined {
  const own =
    raw.category !== undefined || raw.mix !== undefined
      ? resolveWeights(raw.category, raw.mix, path, context)
      : inherited;
  const selection = own ?? resolveWeights(undefined, undefined, path, context);
  const pauseAfterMs = "pauseAfter" in raw && raw.pauseAfter !== undefined ? toMs(raw.pauseAfter) : 0;
  if (raw.stages !== undefined) {
    const startPerSec = raw.startRps ?? 0;
    const stages =
      typeof raw.stages === "string"
        ? parseStages(raw.stages, startPerSec > 0 ? startPerSec : 1, formatFieldPath([...path, "stages"]))
        : raw.stages.map((stage) => ({ durationMs: toMs(stage.duration), targetPerSec: stage.target }));
    return { name, stages, startPerSec, pauseAfterMs, ...selection };
  }
  if (raw.rps !== undefined && raw.duration !== undefined) {
    return {
      name,
      stages: [{ durationMs: toMs(raw.duration), targetPerSec: raw.rps }],
      startPerSec: raw.rps,
      constantPerSec: raw.rps,
      pauseAfterMs,
      ...selection,
    };
  }
  return undefined;
}

/** Reads `{env: NAME, default}`: the value, or records the variable as unresolved. */
function readEnv(
  ref: { env: string; default?: string | undefined },
  field: string,
  context: NormalizeContext,
): { value: string; from: string } | undefined {
  const value = context.env[ref.env];
  if (value !== undefined && value !== "") return { value, from: `env:${ref.env}` };
  if (ref.default !== undefined) return { value: ref.default, from: "default" };
  context.unresolvedEnv.push({ field, variable: ref.env });
  return undefined;
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function checkTarget(text: string, path: Path, context: NormalizeContext, from: string): string | undefined {
  if (isHttpUrl(text)) return text;
  context.problems.push({ path, message: `${from} is not an http:// or https:// URL: "${text}"` });
  return undefined;
}

function normalize(data: RawProfile, context: NormalizeContext): Profile {
  const { problems } = context;

  // Target: the file, else $AXONFLOW_ENDPOINT (the methodology's variable), else --target later.
  let target: string | undefined;
  if (typeof data.target === "string") target = checkTarget(data.target, ["target"], context, "target");
  else if (data.target !== undefined) {
    const read = readEnv(data.target, "target", context);
    if (read)
      target = checkTarget(
        read.value,
        ["target"],
        context,
        read.from === "default" ? "target.default" : `$${data.target.env}`,
      );
  } else if (context.env.AXONFLOW_ENDPOINT) {
    target = checkTarget(context.env.AXONFLOW_ENDPOINT, ["target"], context, "$AXONFLOW_ENDPOINT");
  }

  let auth: Profile["auth"];
  if (data.auth !== undefined) {
    const read = readEnv({ env: data.auth.bearerEnv, default: data.auth.default }, "auth.bearerEnv", context);
    if (read && headerValueProblem(read.value) !== undefined) {
      context.problems.push({
        path: ["auth", "bearerEnv"],
        message: `${read.from}: the token may hold only visible characters (no CR, LF or other control characters)`,
      });
    } else if (read) {
      context.secrets.bearerToken = read.value;
      auth = { scheme: "bearer", from: read.from };
    }
  }

  const headers: HeaderSource[] = [];
  for (const [name, value] of Object.entries(data.headers ?? {})) {
    if (typeof value === "object") {
      const read = readEnv(value, formatFieldPath(["headers", name]), context);
      const problem = read === undefined ? undefined : headerValueProblem(read.value);
      if (problem) {
        context.problems.push({ path: ["headers", name], message: `${read?.from}: ${problem}` });
      } else if (read) {
        context.secrets.headers.push([name, read.value]);
        headers.push({ name, from: read.from });
      }
    } else {
      context.secrets.headers.push([name, String(value)]);
      headers.push({ name, from: "profile" });
    }
  }

  const top = resolveWeights(data.category, data.mix, [], context);
  const phases: PhaseSpec[] = [];
  if (data.phases) {
    data.phases.forEach((phase, k) => {
      const spec = normalizePhase(phase, phase.name, ["phases", k], top, context);
      if (spec) phases.push(spec);
    });
  } else {
    const main = normalizePhase(data, "main", [], top, context);
    if (main) phases.push(main);
  }

  const thresholds = collectThresholds(data.thresholds, context.knownCategories, problems);

  const labels: Record<string, string> = {};
  for (const [name, value] of Object.entries(data.labels ?? {})) {
    if (name.startsWith("__"))
      problems.push({
        path: ["labels", name],
        message: "names starting with __ are reserved for Prometheus",
      });
    else if (String(value).trim() === "")
      problems.push({ path: ["labels", name], message: "must not be empty" });
    else labels[name] = String(value);
  }

  let monitor: RawMonitorFlags | undefined;
  if (data.monitor !== undefined) {
    monitor = monitorFlagsOfSection(data.monitor);
    try {
      parseMonitorFlags(monitor);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push({ path: ["monitor", SECTION_FIELD_OF_FLAG[error.field] ?? ""], message: bare(error) });
    }
  }

  return {
    ...(data.name === undefined ? {} : { name: data.name }),
    ...(data.description === undefined ? {} : { description: data.description }),
    ...(target === undefined ? {} : { target }),
    path: data.path ?? DEFAULT_PATH,
    headers,
    ...(auth === undefined ? {} : { auth }),
    phases,
    category: top.category,
    ...(data.workers === undefined ? {} : { workers: data.workers }),
    timeoutMs: toMs(data.timeout ?? DEFAULT_TIMEOUT),
    warmupMs: data.warmup === undefined ? 0 : toMs(data.warmup),
    coldstartWindow: data.coldstartWindow ?? 0,
    nodes: data.nodes ?? 1,
    ...(context.cases === undefined ? {} : { cases: context.cases }),
    thresholds,
    defaultThresholds: data.defaultThresholds ?? true,
    labels,
    outputs: { ...(data.outputs ?? {}) },
    ...(data.archive === undefined ? {} : { archive: data.archive }),
    ...(monitor === undefined ? {} : { monitor }),
    abortOnCritical: data.abortOnCritical ?? false,
  };
}

/**
 * The profile's thresholds, each parsed with the grammar of src/config/thresholds.ts. Works on the
 * raw value (skipping what the schema already reported) so that expression errors are listed
 * even when other fields have type errors.
 */
function collectThresholds(raw: unknown, known: readonly string[], problems: Problem[]): Threshold[] {
  const thresholds: Threshold[] = [];
  if (!isRecord(raw)) return thresholds;
  for (const [selector, items] of Object.entries(raw)) {
    if (!Array.isArray(items)) continue;
    items.forEach((item: unknown, k) => {
      let parsedItem: string | ThresholdObject;
      if (typeof item === "string") parsedItem = item;
      else if (isRecord(item) && typeof item.threshold === "string") {
        const delay = item.delayAbortEval;
        const delayOk =
          (typeof delay === "number" && delay >= 0) ||
          (typeof delay === "string" && parseDurationMs(delay) !== undefined);
        parsedItem = {
          threshold: item.threshold,
          ...(item.level === "target" || item.level === "degraded" ? { level: item.level } : {}),
          ...(typeof item.abortOnFail === "boolean" ? { abortOnFail: item.abortOnFail } : {}),
          ...(delayOk ? { delayAbortEval: delay as string | number } : {}),
        };
      } else return; // the schema reports it
      const path: Path = ["thresholds", selector, k];
      const field = formatFieldPath(path);
      try {
        const threshold = parseThresholdItem(selector, parsedItem, field);
        if (threshold.category !== undefined && !known.includes(threshold.category)) {
          const suggestion = closest(threshold.category, known);
          problems.push({
            path: ["thresholds", selector],
            message: `unknown category "${threshold.category}"${suggestion ? ` (did you mean ${suggestion}?)` : ""}; categories: ${known.join(", ")}`,
          });
          return;
        }
        thresholds.push(threshold);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        problems.push({
          path: error.field === `${field}.threshold` ? [...path, "threshold"] : path,
          message: bare(error),
        });
      }
    });
  }
  return thresholds;
}

/** Unknown categories in `category` / `mix` (top level and phases), on the raw value. */
function rawCategoryProblems(raw: Record<string, unknown>, known: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  const check = (owner: Record<string, unknown>, path: Path): void => {
    const names: Array<[string, Path]> = [];
    if (typeof owner.category === "string" && owner.category !== "mixed")
      names.push([owner.category, [...path, "category"]]);
    if (isRecord(owner.mix))
      for (const name of Object.keys(owner.mix)) names.push([name, [...path, "mix", name]]);
    for (const [name, where] of names) {
      if (known.includes(name) || !CATEGORY_NAME.test(name)) continue; // invalid names: reported by the schema
      const suggestion = closest(name, known);
      problems.push({
        path: where,
        message: `unknown category "${name}"${suggestion ? ` (did you mean ${suggestion}?)` : ""}; categories: ${known.join(", ")}`,
      });
    }
  };
  check(raw, []);
  if (Array.isArray(raw.phases))
    raw.phases.forEach((phase, k) => isRecord(phase) && check(phase, ["phases", k]));
  return problems;
}

/** `loaded` with its secrets attached, out of reach of serialization. */
export function withSecrets(loaded: Omit<LoadedProfile, "secrets">, secrets: ProfileSecrets): LoadedProfile {
  const result = { ...loaded } as LoadedProfile;
  // Non-enumerable, and its own toJSON: a results writer that serializes the loaded profile
  // (or a debugging console.log) cannot leak the token.
  Object.defineProperty(secrets, "toJSON", { value: () => "[secrets redacted]", enumerable: false });
  Object.defineProperty(result, "secrets", { value: secrets, enumerable: false, writable: false });
  return result;
}

export interface ParseProfileOptions {
  /** Shown in messages: the file path, or "command line". */
  source: string;
  /** Data files (casesFile) are relative to this directory. */
  baseDir: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Line of a field in the source text, for messages. */
  lineOf?: (path: Path) => number | undefined;
}

/** Aliases a profile may expand: plenty for shared settings, far below a resource-exhaustion file. */
const MAX_ALIAS_COUNT = 100;

/** Validates an already-parsed profile object (YAML/JSON value); throws ProfileError with every problem. */
export async function parseProfile(raw: unknown, options: ParseProfileOptions): Promise<LoadedProfile> {
  const env = options.env ?? process.env;
  if (!isRecord(raw)) {
    throw new ProfileError(options.source, [
      raw === null || raw === undefined
        ? "the profile is empty"
        : `must be a mapping of settings (target: …, rps: …), got ${describeValue(raw)}`,
    ]);
  }
  const problems: Problem[] = [];
  const parsed = profileSchema.safeParse(raw);
  if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, raw, profileSchema));
  problems.push(...crossFieldProblems(raw));

  // Custom cases: inline ones, then the data file's.
  const rawCases: Array<{ raw: z.infer<typeof caseSchema>; source: string }> = [];
  if (Array.isArray(raw.cases)) {
    raw.cases.forEach((item, k) => {
      const one = caseSchema.safeParse(item);
      if (!one.success) return; // reported by the profile schema
      for (const problem of checkCaseSemantics(one.data))
        problems.push({ path: ["cases", k, ...problem.path], message: problem.message });
      rawCases.push({ raw: one.data, source: `cases[${k}]` });
    });
  }
  if (typeof raw.casesFile === "string" && raw.casesFile !== "") {
    const file = await loadCasesFile(raw.casesFile, options.baseDir);
    problems.push(...file.problems);
    rawCases.push(...file.cases);
  }
  let cases: CustomCase[] | undefined;
  if (raw.cases !== undefined || raw.casesFile !== undefined) {
    cases = rawCases.map(({ raw: one, source }) => normalizeCase(one, source));
    const seen = new Map<string, string>();
    for (const testCase of cases) {
      const first = seen.get(testCase.name);
      if (first !== undefined)
        problems.push({
          path: [],
          location: testCase.source.startsWith("cases[")
            ? formatFieldPath(["cases", Number(testCase.source.slice(6, -1)), "name"])
            : `casesFile ${testCase.source}`,
          message: `duplicate case name "${testCase.name}" (first in ${first})`,
        });
      else seen.set(testCase.name, testCase.source);
    }
  }

  const unresolvedEnv: LoadedProfile["unresolvedEnv"] = [];
  const secrets: ProfileSecrets = { headers: [] };
  const knownCategories: readonly string[] = cases
    ? [...new Set(cases.map((testCase) => testCase.category))]
    : CATEGORIES;
  let profile: Profile | undefined;
  if (parsed.success) {
    profile = normalize(parsed.data, { env, problems, unresolvedEnv, secrets, knownCategories, cases });
  } else {
    // The schema failed somewhere: still check what it cannot, so one pass shows every problem.
    collectThresholds(raw.thresholds, knownCategories, problems);
    problems.push(...rawCategoryProblems(raw, knownCategories));
  }

  if (problems.length > 0 || profile === undefined) {
    throw new ProfileError(options.source, formatProblems(problems, options.lineOf));
  }
  return withSecrets({ source: options.source, baseDir: options.baseDir, profile, unresolvedEnv }, secrets);
}

/** YAML (or JSON, a subset of YAML 1.2) text to a value plus a field -> line lookup. */
export function parseProfileText(
  text: string,
  source: string,
): { value: unknown; lineOf: (path: Path) => number | undefined } {
  if (extname(source).toLowerCase() === ".json") {
    try {
      JSON.parse(text);
    } catch (error) {
      throw new ProfileError(source, [`not valid JSON: ${(error as Error).message}`]);
    }
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ProfileError(
      source,
      document.errors.map((error) => {
        const position = lineCounter.linePos(error.pos[0]);
        return `line ${position.line}, column ${position.col}: ${error.message.split("\n")[0] as string}`;
      }),
    );
  }
  /** The line of the key (for mapping entries) or item at `path`, or of its nearest ancestor. */
  const lineOf = (path: Path): number | undefined => {
    let node: unknown = document.contents;
    let line: number | undefined;
    const lineOfNode = (candidate: unknown): number | undefined => {
      const range = (candidate as { range?: [number, number, number] } | null)?.range;
      return range ? lineCounter.linePos(range[0]).line : undefined;
    };
    line = lineOfNode(node);
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === String(segment),
        );
        if (!pair) break;
        line = lineOfNode(pair.key) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
        line = lineOfNode(node) ?? line;
      } else break;
    }
    return line;
  };
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml library throws a ReferenceError when aliases would expand beyond the limit (a
    // "billion laughs" file), or for an alias to an anchor it has not seen.
    if (!(error instanceof ReferenceError)) throw error;
    throw new ProfileError(source, [
      /Excessive alias count/.test(error.message)
        ? `its YAML aliases (*name) expand to too much data (more than ${MAX_ALIAS_COUNT} uses of anchors)`
        : `YAML: ${error.message}`,
    ]);
  }
  return { value, lineOf };
}

/**
 * Loads a profile file (`.yaml`, `.yml` or `.json`). Every problem of the file, its data files
 * and its environment references is reported at once in one ProfileError. A variable named by
 * `{env: NAME}` (or `auth.bearerEnv`) that is unset and has no default is not an error yet: a
 * flag may replace it, so the resolver reports it if none does (resolve-profile.ts).
 */
export async function loadProfile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<LoadedProfile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ProfileError(path, [
      code === "ENOENT" ? "no such file" : `cannot read: ${(error as Error).message}`,
    ]);
  }
  const { value, lineOf } = parseProfileText(text, path);
  return parseProfile(value, { source: path, baseDir: dirname(resolve(path)), env, lineOf });
}

// ---------------------------------------------------------------------------------------------
// What the engine reads

/** Headers every request carries: `authorization: Bearer …` first (if any), then the profile's. */
export function requestHeaders(loaded: LoadedProfile): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  if (loaded.secrets.bearerToken !== undefined)
    headers.push(["authorization", `Bearer ${loaded.secrets.bearerToken}`]);
  for (const [name, value] of loaded.secrets.headers) headers.push([name, value]);
  return headers;
}

/** The schedule of one phase (a constant phase is a single held stage: exactly constantRatePlan). */
export function phasePlan(phase: PhaseSpec): RampingPlan {
  return stagesPlan(phase.stages, phase.startPerSec);
}

/** Highest asked rate of any phase (req/s). */
export function peakRatePerSec(profile: Profile): number {
  return Math.max(0, ...profile.phases.map((phase) => phasePlan(phase).peakPerSec));
}

/** `workers`, or 2 s worth of the peak rate (10..1000), as for --rps; a closed loop's default as for --rps max. */
export function effectiveWorkers(profile: Profile): number {
  if (profile.workers !== undefined) return profile.workers;
  if (profile.phases.some((phase) => phase.closedLoop)) return CLOSED_LOOP_WORKERS;
  const llm = profile.phases.some((phase) => (phase.weights.llm ?? 0) > 0);
  return defaultWorkers(peakRatePerSec(profile), llm);
}

/** Whether a phase sends cases a working policy must block (enables the "policy inactive" check). */
export function phaseExpectsBlocks(profile: Profile, phase: PhaseSpec): boolean {
  const weighted = Object.entries(phase.weights)
    .filter(([, weight]) => weight > 0)
    .map(([name]) => name);
  if (profile.cases) {
    return profile.cases.some(
      (testCase) => weighted.includes(testCase.category) && testCase.expect.blocked === true,
    );
  }
  return weighted.some((name) =>
    (CORPUS[name as Category] ?? []).some((testCase) => testCase.expect === "block"),
  );
}

/** The categories a phase sends. */
export function phaseCategories(phase: PhaseSpec): string[] {
  return Object.entries(phase.weights)
    .filter(([, weight]) => weight > 0)
    .map(([name]) => name);
}

/**
 * The thresholds a phase (or the whole run) is judged by: the methodology's table for the categories
 * it sends (unless `defaultThresholds: false`), with the profile's and the CLI's layered over it
 * by metric selector (mergeThresholds).
 */
export function effectiveThresholds(
  profile: Profile,
  phases: readonly PhaseSpec[] = profile.phases,
): Threshold[] {
  const categories = [...new Set(phases.flatMap(phaseCategories))];
  const expectsBlocks = phases.some((phase) => phaseExpectsBlocks(profile, phase));
  const base = profile.defaultThresholds ? defaultThresholds({ categories, expectsBlocks }) : [];
  return mergeThresholds(base, profile.thresholds);
}

/** Names usable in `{env: NAME}`: re-exported for the CLI's messages. */
export { ENV_NAME };
