import type { ShardSpec } from "../distributed/flags.js";
import { availableParallelism } from "node:os";
import { z } from "zod";
import { CATEGORY_CHOICES, type CategoryChoice } from "../scenarios/types.js";
import { stagesPlan, parseStages, type Stage } from "../plan/ramping.js";
import { timerLimitProblem } from "./duration.js";
import { parseWholeNumber } from "./numbers.js";
import { InputError } from "./errors.js";
import {
  apiKeyValue,
  countValue,
  durationValue,
  headerValue,
  isClosedLoopRps,
  rateValue,
  startRateValue,
} from "./flag-values.js";
import { checkRateBound } from "./rate-bound.js";
import { parseTransportFlags, type RawTransportFlags, type TransportFlags } from "./transport-options.js";
import type { CustomCase } from "./profile-cases.js";
import { parseCliThreshold, type Threshold } from "./thresholds.js";

/** A validated run: every field in the unit its name carries. */
export interface RunOptions {
  /** Base URL (`http(s)://host:port[/prefix]`), possibly with credentials the reports strip. */
  targetUrl: URL;
  path: string;
  /** Constant rate; with `stages`, the average asked rate of the stages; 0 with `closedLoop`. */
  ratePerSec: number;
  /**
   * `--rps max`: no schedule. `workers` requests are in flight at all times, each sent as soon as
   * an answer frees its slot (a closed loop, as autocannon, wrk or k6's constant-vus run), for
   * `durationMs`. It measures the most the target serves; latency is then service time.
   */
  closedLoop?: boolean;
  /** Length of the measured schedule (the stages' total with `stages`). */
  durationMs: number;
  /** Ramping arrival rate (k6 stages); undefined for a constant rate. */
  stages: Stage[] | undefined;
  startPerSec: number;
  /** The first N requests get their own percentiles (cold start); 0 for none. */
  coldstartWindow: number;
  /**
   * Gateway nodes behind the target (`--nodes`): the methodology's throughput row is a capacity
   * per node (docs/THRESHOLDS.md); undefined = 1.
   */
  nodes?: number;
  category: CategoryChoice;
  /** The category as a profile wrote it (a custom case category), for reports; undefined: `category`. */
  categoryLabel?: string;
  workers: number;
  /** Worker threads sending stripes of the schedule (`--threads`); undefined = 1, this thread. */
  threads?: number;
  /** How the scheduler wakes up (`--pacing`, docs/PACING.md); undefined = "precise". */
  pacing?: Pacing;
  timeoutMs: number;
  /** Unrecorded traffic at the same rate before the measured run (JIT and connections warm). */
  warmupMs: number;
  /** Sent as `Authorization: Bearer …`; never printed or written. */
  apiKey: string | undefined;
  headers: Array<[string, string]>;
  /** Protocol, TLS and connection flags (docs/TRANSPORT.md); undefined = ALPN, keep-alive, verified TLS ≥ 1.2. */
  transport?: TransportFlags;
  /** Built-in corpora mixed by these weights instead of `category` (a profile's `mix`). */
  weights?: Record<string, number>;
  /** A profile's own test cases, already mixed (caseCorpus), instead of the built-in corpora. */
  customCases?: { corpus: Record<string, CustomCase[]>; weights: Record<string, number> };
  /** Thresholds judging the run (the methodology's table under them); undefined: the methodology's table alone. */
  thresholds?: Threshold[];
  /** False drops the methodology's table from under `thresholds` (a profile's `defaultThresholds: false`). */
  defaultThresholds?: boolean;
  /** Stop early once a critical threshold has clearly failed (k6's abortOnFail). */
  abortOnCritical?: boolean;
  /** Keep each second's latency per category (set by engine/run.ts for `--hdr-log`'s tagged lines). */
  secondsByCategory?: boolean;
  /** `--shard K/N`: this process sends stripe K of N of the plan (docs/DISTRIBUTED.md). */
  shard?: ShardSpec;
  /** `--start-at`: wall-clock instant (epoch ms) the measured schedule starts at. */
  startAtEpochMs?: number;
  /** `--run-id`: the id shared by every shard of one run. */
  runId?: string;
}

/** The raw strings a user gave, named by the flag they came from. */
export interface RawRunOptions extends RawTransportFlags {
  target?: string;
  path?: string;
  rps?: string;
  duration?: string;
  stages?: string;
  startRps?: string;
  coldstartWindow?: string;
  nodes?: string;
  category?: string;
  /** `--max-in-flight`, or its alias `--workers` (the methodology's name). */
  maxInFlight?: string;
  workers?: string;
  threads?: string;
  /** `load-test coordinate --shards N`: the rate is split over N shard processes (the rate bound). */
  coordinatedShards?: number;
  /** `--shard K/N`'s N: the rate is split over N processes like this one (the rate bound). */
  shardCount?: number;
  pacing?: string;
  timeout?: string;
  warmup?: string;
  apiKey?: string;
  header?: string[];
  threshold?: string[];
  abortOnCritical?: boolean;
}

export { InputError };

export const DEFAULT_PATH = "/v1/execute";
/**
 * The client id sent when none is given, as the methodology's own k6 script does
 * (`__ENV.AXONFLOW_CLIENT_ID || 'demo-org'`, docs/GATEWAY.md): without it a policy gateway
 * answers every request 401. `--api-key ""` or an `Authorization` header replaces it.
 */
export const DEFAULT_CLIENT_ID = "demo-org";
export const DEFAULT_TIMEOUT = "30s";
export { isClosedLoopRps };

/** `--workers` of `--rps max` when none is given: the top of the open-loop default. */
export const CLOSED_LOOP_WORKERS = 64;

/**
 * Default in-flight cap (`--workers`). Requests to the methodology's LLM providers take 0.2-2 s, so a
 * mix with `llm` cases gets 2 s worth of the asked rate (10..1000). Policy-only requests take
 * milliseconds: 64 slots cover 64 ms of latency at 1,000 req/s. A larger default hurts: measured
 * here (bench/results), a 5,000 req/s run with 1,000 slots opened ~600 connections during its
 * first hiccup and its send lag p99 went from 2.5 ms (50 slots) to 13 ms; at 10,000 req/s it
 * collapsed to 57% of the asked rate, against 100% with 50 slots. Past the cap, requests queue
 * in order and their wait counts in their latency; the summary says when the cap was the limit.
 */
export function defaultWorkers(ratePerSec: number, slowCases = false): number {
  const twoSecondsWorth = Math.ceil(ratePerSec * 2);
  return Math.max(10, Math.min(slowCases ? 1000 : 64, twoSecondsWorth));
}

/** More threads than this only add context switches on any machine this runs on. */
const MAX_THREADS = 64;

/** A target on this machine: loopback names and addresses (RFC 6761 §6.3, RFC 4291 §2.5.3). */
export function isLoopbackTarget(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127\./.test(host);
}

/**
 * `--threads`: worker threads that each pace a stripe of the schedule. Default: one per core,
 * minus one for a target that runs on this machine (a loopback target, like the demo's
 * gateway in our own process tree), and never more than the in-flight slots (each thread needs
 * one). Measured here (2 cores, loopback target): a second thread competing with the target for
 * its core raised the send-lag p99 at 500 req/s from ~4 ms to 24-70 ms.
 */
export function resolveThreads(text: string | undefined, workers: number, targetUrl?: URL): number {
  const reservedCores = targetUrl && isLoopbackTarget(targetUrl) ? 1 : 0;
  if (text === undefined) return Math.max(1, Math.min(availableParallelism() - reservedCores, workers));
  const threads = parseWholeNumber(text) ?? Number.NaN;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
    throw new InputError("--threads", `must be an integer from 1 to ${MAX_THREADS}, got "${text}"`);
  if (threads > workers)
    throw new InputError(
      "--threads",
      `${threads} threads need at least as many in-flight slots, but --workers is ${workers}`,
    );
  return threads;
}

export type { Pacing } from "../metrics/result.js";
import type { Pacing } from "../metrics/result.js";
export const PACINGS: readonly Pacing[] = ["precise", "tick"];

/** `--pacing`: undefined leaves the scheduler's default. */
export function parsePacing(text: string | undefined): Pacing | undefined {
  if (text === undefined) return undefined;
  if (!(PACINGS as readonly string[]).includes(text))
    throw new InputError("--pacing", `must be one of ${PACINGS.join(", ")}, got "${text}"`);
  return text as Pacing;
}

/** A zod transform through one of flag-values.ts' parsers: its message, bare, as the issue. */
function via<In, T>(parse: (text: In) => T) {
  return (text: In, ctx: z.RefinementCtx): T => {
    try {
      return parse(text);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      ctx.addIssue({ code: "custom", message: bare(error) });
      return z.NEVER;
    }
  };
}

/** Strips the `field: ` an InputError puts in front of its message. */
const bare = (error: InputError): string =>
  error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message;

const schema = z.object({
  target: z.string({ error: "is required (or set AXONFLOW_ENDPOINT)" }).transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({
        code: "custom",
        message: `not a valid URL: "${text}" (expected http://host:port or https://host)`,
      });
      return z.NEVER;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      ctx.addIssue({
        code: "custom",
        message: `scheme must be http or https, got "${url.protocol.replace(/:$/, "")}"`,
      });
      return z.NEVER;
    }
    return url;
  }),
  path: z
    .string()
    .default(DEFAULT_PATH)
    .refine((path) => path.startsWith("/"), { message: 'must start with "/"' }),
  rps: z
    .string()
    .transform(via((text) => rateValue("--rps", text)))
    .optional(),
  duration: z
    .string()
    .transform(via((text) => durationValue("--duration", text, false)))
    .optional(),
  stages: z.string().optional(),
  startRps: z
    .string()
    .default("0")
    .transform(via((text) => startRateValue("--start-rps", text))),
  coldstartWindow: z
    .string()
    .default("0")
    .transform(via((text) => countValue("--coldstart-window", text, 0, "a number of requests ≥ 0"))),
  nodes: z
    .string()
    .default("1")
    .transform(via((text) => countValue("--nodes", text, 1, "an integer ≥ 1 (gateway nodes)"))),
  category: z
    .enum(CATEGORY_CHOICES, { error: `must be one of ${CATEGORY_CHOICES.join(", ")}` })
    .default("mixed"),
  workers: z
    .string()
    .transform(via((text) => countValue("--workers", text, 1, "an integer ≥ 1")))
    .optional(),
  timeout: z
    .string()
    .default(DEFAULT_TIMEOUT)
    .transform(via((text) => durationValue("--timeout", text, false))),
  warmup: z
    .string()
    .default("0s")
    .transform(via((text) => durationValue("--warmup", text, true))),
  apiKey: z
    .string()
    .transform(via((text) => apiKeyValue("--api-key", text)))
    .optional(),
  header: z
    .array(z.string())
    .default([])
    .transform(via((items: string[]) => items.map((item) => headerValue("--header", item)))),
});

const FLAG_OF: Record<string, string> = {
  apiKey: "--api-key",
  startRps: "--start-rps",
  coldstartWindow: "--coldstart-window",
};

/**
 * A load shape already validated as numbers (a ladder step's rate and length), in place of
 * `--rps`/`--duration`/`--stages`; `rateFlag` names the flag the rate came from (`--rates`).
 */
export interface GivenLoad {
  ratePerSec: number;
  durationMs: number;
  rateFlag: string;
}

/** Validates every flag at once; throws an InputError naming the first bad flag (one line for the CLI). */
export function parseRunOptions(raw: RawRunOptions, given?: GivenLoad): RunOptions {
  const inFlight = inFlightCap(raw);
  const parsed = schema.safeParse({ ...raw, workers: inFlight?.text });
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const key = String(issue.path[0] ?? "options");
    const flag = key === "workers" && inFlight ? inFlight.flag : (FLAG_OF[key] ?? `--${key}`);
    throw new InputError(flag, issue.message);
  }
  const value = parsed.data;
  const load = given
    ? {
        ratePerSec: given.ratePerSec,
        durationMs: given.durationMs,
        stages: undefined,
        startPerSec: 0,
        peakPerSec: given.ratePerSec,
      }
    : loadShape(value.rps, value.duration, value.stages, value.startRps);
  const workers =
    value.workers ??
    (load.closedLoop ? CLOSED_LOOP_WORKERS : defaultWorkers(load.peakPerSec, value.category === "llm"));
  const threads = resolveThreads(raw.threads, workers, value.target);
  checkRateBound(
    load.peakPerSec,
    threads,
    given ? given.rateFlag : value.stages === undefined ? "--rps" : "--stages",
    raw.coordinatedShards,
    raw.shardCount,
  );
  return {
    targetUrl: value.target,
    path: value.path,
    ...load,
    coldstartWindow: value.coldstartWindow,
    nodes: value.nodes,
    category: value.category,
    workers,
    threads,
    pacing: parsePacing(raw.pacing),
    timeoutMs: value.timeout,
    warmupMs: value.warmup,
    apiKey: resolveApiKey(value.apiKey, value.header),
    headers: value.header,
    transport: parseTransportFlags(raw, value.target, workers),
    // --abort-on-critical alone judges by the methodology's table through the threshold machinery.
    thresholds:
      raw.threshold?.length || raw.abortOnCritical
        ? (raw.threshold ?? []).map((text) => parseCliThreshold(text))
        : undefined,
    abortOnCritical: raw.abortOnCritical === true,
  };
}

/**
 * The in-flight cap as typed: `--max-in-flight`, or `--workers`, the methodology's name for it
 * (not to be confused with `--threads`, the worker threads); both at once is ambiguous.
 */
export function inFlightCap(flags: {
  maxInFlight?: string;
  workers?: string;
}): { flag: string; text: string } | undefined {
  if (flags.maxInFlight !== undefined && flags.workers !== undefined)
    throw new InputError(
      "--max-in-flight",
      "and --workers are one setting (--workers is its alias): give one",
    );
  if (flags.maxInFlight !== undefined) return { flag: "--max-in-flight", text: flags.maxInFlight };
  return flags.workers === undefined ? undefined : { flag: "--workers", text: flags.workers };
}

/** `--api-key`, else the methodology's default client id unless a header carries the credentials. */
function resolveApiKey(apiKey: string | undefined, headers: Array<[string, string]>): string | undefined {
  if (apiKey !== undefined) return apiKey === "" ? undefined : apiKey;
  const ownAuth = headers.some(([name]) => name.toLowerCase() === "authorization");
  return ownAuth ? undefined : DEFAULT_CLIENT_ID;
}

/**
 * Either a constant rate (`--rps` + `--duration`) or k6 stages (`--stages`, optionally from
 * `--start-rps`); mixing them is ambiguous, so it is refused.
 */
function loadShape(
  rps: number | "max" | undefined,
  durationMs: number | undefined,
  stagesText: string | undefined,
  startPerSec: number,
): Pick<RunOptions, "ratePerSec" | "durationMs" | "stages" | "startPerSec" | "closedLoop"> & {
  peakPerSec: number;
} {
  if (stagesText !== undefined) {
    if (rps !== undefined)
      throw new InputError("--stages", "cannot be combined with --rps (the stages set the rate)");
    if (durationMs !== undefined)
      throw new InputError("--stages", "cannot be combined with --duration (the stages set it)");
    const stages = parseStages(stagesText, startPerSec);
    const plan = stagesPlan(stages, startPerSec);
    const tooLong = timerLimitProblem(plan.durationMs);
    if (tooLong) throw new InputError("--stages", `the stages in total ${tooLong}`);
    return {
      ratePerSec: plan.count / (plan.durationMs / 1000),
      durationMs: plan.durationMs,
      stages,
      startPerSec,
      peakPerSec: plan.peakPerSec,
    };
  }
  if (rps === undefined) throw new InputError("--rps", "is required (or give --stages)");
  if (durationMs === undefined) throw new InputError("--duration", "is required (or give --stages)");
  if (rps === "max") {
    return { ratePerSec: 0, durationMs, stages: undefined, startPerSec: 0, peakPerSec: 0, closedLoop: true };
  }
  return { ratePerSec: rps, durationMs, stages: undefined, startPerSec: 0, peakPerSec: rps };
}

/** The target as reports show it: no user:password, query or fragment (secrets stay out of results). */
export function displayTarget(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "")}`;
}
