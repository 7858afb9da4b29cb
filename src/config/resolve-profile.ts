/**
 * The profile half of the resolver (resolve.ts `resolveProfile`): the flags a user typed over a
 * loaded profile (docs/PROFILES.md "Precedence"), each value checked by the parser its flag has
 * everywhere (flag-values.ts), every problem reported at once.
 */
import { monitorFlagsOver, type RawMonitorFlags } from "../monitor/options.js";
import { parseStages, type Stage } from "../plan/ramping.js";
import { MIXED_WEIGHTS } from "../scenarios/mix.js";
import { CATEGORIES } from "../scenarios/types.js";
import { InputError } from "./errors.js";
import { inFlightCap, type RawRunOptions } from "./options.js";
import {
  apiKeyValue,
  countValue,
  durationValue,
  headerValue,
  rateValue,
  startRateValue,
} from "./flag-values.js";
import type { CustomCase } from "./profile-cases.js";
import { LABEL_NAME } from "./profile-schema.js";
import {
  isHttpUrl,
  ProfileError,
  withSecrets,
  type LoadedProfile,
  type Profile,
  type ProfileOutputs,
  type ProfileSecrets,
} from "./profile.js";
import { mergeThresholds, parseCliThreshold, type Threshold } from "./thresholds.js";

/** The run flags as the CLI received them: only flags the user typed (see docs/PROFILES.md "Precedence"). */
export interface ProfileCliFlags
  extends
    Pick<
      RawRunOptions,
      | "target"
      | "path"
      | "rps"
      | "duration"
      | "stages"
      | "startRps"
      | "category"
      | "maxInFlight"
      | "workers"
      | "timeout"
      | "warmup"
      | "coldstartWindow"
      | "nodes"
      | "apiKey"
      | "header"
      | "threshold"
      | "abortOnCritical"
    >,
    ProfileOutputs,
    RawMonitorFlags {
  label?: string[];
  archive?: string;
}

/** `--max-in-flight` or `--workers` (config/options.ts `inFlightCap`); a conflict is one more problem. */
function inFlightOf(flags: ProfileCliFlags, problems: string[]): { flag: string; text: string } | undefined {
  try {
    return inFlightCap(flags);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    problems.push(error.message);
    return undefined;
  }
}

/**
 * Applies command-line flags over a loaded profile and checks the result is runnable.
 *
 * Precedence, highest first: flags typed on the command line > the profile file > environment
 * variables the file names (`{env: NAME}`, `auth.bearerEnv`) and, for a target the file leaves
 * out, $AXONFLOW_ENDPOINT > built-in defaults. Pass only flags whose source is the command
 * line (commander: `getOptionValueSource(name) === "cli"`): a flag's default or env fallback
 * must not override the file.
 *
 * - `--stages` [+ `--start-rps`] or `--rps` + `--duration` replace the whole load shape (every
 *   phase) with one phase; `--rps` or `--duration` alone only adjust a profile that is itself one
 *   constant-rate phase.
 * - `--category` applies to every phase. `--header` replaces the file's header of the same name
 *   (case-insensitive); `--api-key` replaces `auth`. `--threshold` replaces the file's
 *   thresholds of the same metric selector (see mergeThresholds). `--label k=v` sets one label.
 * - Everything else replaces the file's value.
 *
 * Throws a ProfileError with every problem (bad flags, no target, no load shape, unset env).
 */
export function profileWithFlags(loaded: LoadedProfile, flags: ProfileCliFlags): LoadedProfile {
  const problems: string[] = [];
  const profile: Profile = structuredClone(loaded.profile);
  const secrets: ProfileSecrets = {
    ...(loaded.secrets.bearerToken === undefined ? {} : { bearerToken: loaded.secrets.bearerToken }),
    headers: loaded.secrets.headers.map(([name, value]): [string, string] => [name, value]),
  };
  let unresolvedEnv = loaded.unresolvedEnv.map((entry) => ({ ...entry }));
  const settle = (field: string): void => {
    unresolvedEnv = unresolvedEnv.filter((entry) => entry.field !== field);
  };

  if (flags.target !== undefined) {
    if (isHttpUrl(flags.target)) {
      profile.target = flags.target;
      settle("target");
    } else problems.push(`--target: not an http:// or https:// URL: "${flags.target}"`);
  }
  if (flags.path !== undefined) {
    if (flags.path.startsWith("/")) profile.path = flags.path;
    else problems.push('--path: must start with "/"');
  }

  /** One value through its parser (flag-values.ts); a bad one is one more problem. */
  const value = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };

  // Load shape.
  const startRps = flags.startRps;
  const startPerSec = startRps === undefined ? 0 : value(() => startRateValue("--start-rps", startRps));
  if (flags.stages !== undefined) {
    if (flags.rps !== undefined)
      problems.push("--stages: cannot be combined with --rps (the stages set the rate)");
    if (flags.duration !== undefined)
      problems.push("--stages: cannot be combined with --duration (the stages set it)");
    try {
      const stages = parseStages(flags.stages, startPerSec ?? 0);
      profile.phases = [
        { ...phaseSelection(profile), name: "main", stages, startPerSec: startPerSec ?? 0, pauseAfterMs: 0 },
      ];
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(error.message);
    }
  } else if (flags.rps !== undefined || flags.duration !== undefined) {
    if (flags.startRps !== undefined) problems.push("--start-rps: only applies to --stages");
    const rpsText = flags.rps;
    const durationText = flags.duration;
    const rate = rpsText === undefined ? undefined : value(() => rateValue("--rps", rpsText));
    const closedLoop = rate === "max";
    const rps = rate === "max" ? undefined : rate;
    const durationMs =
      durationText === undefined ? undefined : value(() => durationValue("--duration", durationText, false));
    const only = profile.phases.length === 1 ? profile.phases[0] : undefined;
    if (closedLoop) {
      // A closed loop has no rate to ramp or to step through: it replaces one constant rate (or
      // no load shape at all), never phases or stages whose rates the profile chose.
      const shapeless = profile.phases.length === 0 || only?.constantPerSec !== undefined;
      const loopMs = durationMs ?? (only ? (only.stages[0] as Stage).durationMs : undefined);
      if (!shapeless)
        problems.push(
          `--rps: "max" (a closed loop) replaces a profile's one constant rate; this profile's load is ${profile.phases.length > 1 ? "several phases" : "k6 stages"}`,
        );
      else if (loopMs === undefined) {
        if (flags.duration === undefined)
          problems.push("--rps: --duration is required too (the profile has no load shape)");
      } else
        profile.phases = [
          {
            ...phaseSelection(profile),
            name: "main",
            stages: [{ durationMs: loopMs, targetPerSec: 0 }],
            startPerSec: 0,
            closedLoop: true,
            pauseAfterMs: 0,
          },
        ];
    } else if (flags.rps !== undefined && flags.duration !== undefined) {
      if (rps !== undefined && durationMs !== undefined)
        profile.phases = [
          {
            ...phaseSelection(profile),
            name: "main",
            stages: [{ durationMs, targetPerSec: rps }],
            startPerSec: rps,
            constantPerSec: rps,
            pauseAfterMs: 0,
          },
        ];
    } else if (only?.constantPerSec !== undefined) {
      const newRate = rps ?? only.constantPerSec;
      const newDurationMs = durationMs ?? (only.stages[0] as Stage).durationMs;
      only.stages = [{ durationMs: newDurationMs, targetPerSec: newRate }];
      only.startPerSec = newRate;
      only.constantPerSec = newRate;
    } else {
      const given = flags.rps !== undefined ? "--rps" : "--duration";
      const other = flags.rps !== undefined ? "--duration" : "--rps";
      problems.push(
        profile.phases.length === 0
          ? `${given}: ${other} is required too (the profile has no load shape)`
          : `${given}: the profile's load is ${profile.phases.length > 1 ? "several phases" : "k6 stages"}; give both --rps and --duration to replace it, or --stages`,
      );
    }
  } else if (flags.startRps !== undefined) {
    problems.push("--start-rps: only applies to --stages");
  }

  if (flags.category !== undefined) {
    const known = profile.cases ? [...new Set(profile.cases.map((c) => c.category))] : [...CATEGORIES];
    if (flags.category !== "mixed" && !known.includes(flags.category)) {
      problems.push(
        `--category: unknown category "${flags.category}"; categories: mixed, ${known.join(", ")}`,
      );
    } else {
      profile.category = flags.category;
      const weights = weightsOf(flags.category, profile.cases);
      for (const phase of profile.phases) {
        phase.category = flags.category;
        phase.weights = { ...weights };
      }
    }
  }

  const inFlight = inFlightOf(flags, problems);
  if (inFlight !== undefined) {
    const workers = value(() => countValue(inFlight.flag, inFlight.text, 1, "an integer ≥ 1"));
    if (workers !== undefined) profile.workers = workers;
  }
  const { timeout, warmup, coldstartWindow, nodes, apiKey } = flags;
  if (timeout !== undefined) {
    const timeoutMs = value(() => durationValue("--timeout", timeout, false));
    if (timeoutMs !== undefined) profile.timeoutMs = timeoutMs;
  }
  if (warmup !== undefined) {
    const warmupMs = value(() => durationValue("--warmup", warmup, true));
    if (warmupMs !== undefined) profile.warmupMs = warmupMs;
  }
  if (coldstartWindow !== undefined) {
    const window = value(() =>
      countValue("--coldstart-window", coldstartWindow, 0, "a number of requests ≥ 0"),
    );
    if (window !== undefined) profile.coldstartWindow = window;
  }
  if (nodes !== undefined) {
    const count = value(() => countValue("--nodes", nodes, 1, "an integer ≥ 1 (gateway nodes)"));
    if (count !== undefined) profile.nodes = count;
  }

  if (apiKey !== undefined && value(() => apiKeyValue("--api-key", apiKey)) !== undefined && apiKey !== "") {
    secrets.bearerToken = apiKey;
    profile.auth = { scheme: "bearer", from: "--api-key" };
    settle("auth.bearerEnv");
  }
  for (const item of flags.header ?? []) {
    const header = value(() => headerValue("--header", item));
    if (header === undefined) continue;
    const [name] = header;
    const same = (other: string): boolean => other.toLowerCase() === name.toLowerCase();
    secrets.headers = [...secrets.headers.filter(([other]) => !same(other)), header];
    profile.headers = [...profile.headers.filter((header) => !same(header.name)), { name, from: "--header" }];
    unresolvedEnv = unresolvedEnv.filter(
      (entry) => !(entry.field.startsWith("headers") && same(headerOfField(entry.field))),
    );
  }

  const cliThresholds: Threshold[] = [];
  for (const text of flags.threshold ?? []) {
    try {
      const threshold = parseCliThreshold(text);
      const known = profile.cases ? [...new Set(profile.cases.map((c) => c.category))] : [...CATEGORIES];
      if (threshold.category !== undefined && !known.includes(threshold.category))
        problems.push(
          `--threshold: "${text}": unknown category "${threshold.category}"; categories: ${known.join(", ")}`,
        );
      else cliThresholds.push(threshold);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(error.message);
    }
  }
  profile.thresholds = mergeThresholds(profile.thresholds, cliThresholds);

  for (const item of flags.label ?? []) {
    const eq = item.indexOf("=");
    const name = eq > 0 ? item.slice(0, eq).trim() : "";
    const value = eq > 0 ? item.slice(eq + 1).trim() : "";
    if (!LABEL_NAME.test(name) || name.startsWith("__") || value === "")
      problems.push(`--label: expected name=value with a Prometheus label name, got "${item}"`);
    else profile.labels[name] = value;
  }
  for (const key of ["out", "prometheusFile", "pushgateway", "markdown", "hdrLog", "html"] as const) {
    const value = flags[key];
    if (value !== undefined) profile.outputs[key] = value;
  }
  if (flags.abortOnCritical !== undefined) profile.abortOnCritical = flags.abortOnCritical;
  if (flags.archive !== undefined) profile.archive = flags.archive;
  const monitor = monitorFlagsOver(profile.monitor, flags);
  if (monitor) profile.monitor = monitor;

  // Runnable?
  if (profile.target === undefined && !unresolvedEnv.some((entry) => entry.field === "target"))
    problems.push("target: missing (set target in the profile, pass --target, or set AXONFLOW_ENDPOINT)");
  if (profile.phases.length === 0)
    problems.push(
      "load: missing (give stages, rps and duration, or phases in the profile, or --stages, or --rps and --duration)",
    );
  for (const entry of unresolvedEnv) {
    const flag =
      entry.field === "target" ? "--target" : entry.field === "auth.bearerEnv" ? "--api-key" : "--header";
    problems.push(
      `${entry.field}: environment variable ${entry.variable} is not set (set it, give a default in the profile, or pass ${flag})`,
    );
  }
  if (problems.length > 0) throw new ProfileError(loaded.source, problems);
  return withSecrets({ source: loaded.source, baseDir: loaded.baseDir, profile, unresolvedEnv }, secrets);
}

/** `headers["X-Key"]` or `headers.X-Key` -> `X-Key`. */
function headerOfField(field: string): string {
  const bracket = /^headers\["(.*)"\]$/.exec(field);
  if (bracket) return bracket[1] as string;
  return field.replace(/^headers\./, "");
}

function weightsOf(category: string, cases: readonly CustomCase[] | undefined): Record<string, number> {
  if (category !== "mixed") return { [category]: 1 };
  if (!cases) return { ...MIXED_WEIGHTS };
  const weights: Record<string, number> = {};
  for (const testCase of cases)
    weights[testCase.category] = (weights[testCase.category] ?? 0) + testCase.weight;
  return weights;
}

/** The category selection a CLI-made phase takes: the profile's top-level one. */
function phaseSelection(profile: Profile): { category: string; weights: Record<string, number> } {
  const first = profile.phases[0];
  if (first && profile.phases.every((phase) => phase.category === first.category))
    return { category: first.category, weights: { ...first.weights } };
  return { category: profile.category, weights: weightsOf(profile.category, profile.cases) };
}
