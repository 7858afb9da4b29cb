/**
 * The one way from what a user typed to what a command runs: flags (and, for `run`, an optional
 * profile under them) become typed options for run, phases, ladder and demo. Every value is
 * validated once, by one parser, with one message naming its flag or field (InputError, exit 2).
 * A new run flag is declared in `addRunOptions` and read in `resolveOutputs` or `parseRunOptions`.
 */
import { Option, type Command } from "commander";
import { CATEGORY_CHOICES, type CategoryChoice } from "../scenarios/types.js";
import {
  parseListenAddress,
  parsePrometheusOptions,
  PrometheusOptionError,
  type PrometheusOptions,
  type RawPrometheusOptions,
} from "../report/prometheus-options.js";
import type { OutputPath } from "../report/output-file.js";
import { DEFAULT_DASHBOARD, type ListenAt } from "../report/html/dashboard.js";
import { parseDurationMs, timerLimitProblem } from "./duration.js";
import { durationValue } from "./flag-values.js";
import { InputError } from "./errors.js";
import {
  parseDistributedFlags,
  type DistributedFlags,
  type DistributedOptions,
} from "../distributed/flags.js";
import { parseDecimal, parseWholeNumber } from "./numbers.js";
import {
  DEFAULT_PATH,
  DEFAULT_TIMEOUT,
  parsePacing,
  parseRunOptions,
  resolveThreads,
  type RawRunOptions,
  type RunOptions,
} from "./options.js";
import { caseCorpus } from "./profile-cases.js";
import {
  effectiveWorkers,
  phasePlan,
  requestHeaders,
  type LoadedProfile,
  type PhaseSpec,
} from "./profile.js";
import { profileWithFlags, type ProfileCliFlags } from "./resolve-profile.js";
import { checkRateBound } from "./rate-bound.js";
import { parseCompareOptions, type CompareOptions } from "../compare/options.js";
import {
  DEFAULT_LOG_PATTERN,
  DEFAULT_MONITOR_INTERVAL,
  parseMonitorFlags,
  type RawMonitorFlags,
} from "../monitor/options.js";
import type { MonitorOptions } from "../monitor/types.js";
import { parseTransportFlags, type RawTransportFlags } from "./transport-options.js";

/** The run flags as commander hands them over (strings, as typed). */
export interface CliRunFlags extends RawRunOptions, RawPrometheusOptions, DistributedFlags, RawMonitorFlags {
  /** `--label k=v`, repeatable (commander names it after the flag). */
  label?: string[];
  out?: string;
  hdrLog?: string;
  markdown?: string;
  html?: string;
  /** `--dashboard` alone (true) or with HOST:PORT. */
  dashboard?: string | boolean;
  quiet?: boolean;
  /** `--archive DIR` (docs/COMPARE.md). */
  archive?: string;
  /** `--compare-to FILE`, repeatable: the baselines. */
  compareTo?: string[];
  maxRegression?: string;
  minChange?: string;
}

/** `--archive DIR` (a profile's `archive:`): where every run is kept, with what names it. */
export interface ArchiveOutput {
  dir: string;
  /** The flag or profile field that named it, for messages. */
  flag: string;
  /** `--label`, `--client`, `--environment`, `--provider`, or the profile's labels. */
  labels: Record<string, string>;
  /** The profile's name. */
  name?: string;
}

/** `--compare-to` (docs/COMPARE.md): the baselines and how to judge. */
export interface CompareToOutput {
  paths: string[];
  options: CompareOptions;
}

/** Where a command's results go: each becomes a reporter (cli/reporters.ts). */
export interface ResolvedOutputs {
  out?: OutputPath;
  /** The Baseline Results table of the command as Markdown. */
  markdown?: OutputPath;
  hdrLog?: OutputPath;
  /** `--html`: the self-contained HTML report (docs/REPORTS.md). */
  html?: OutputPath;
  /** Labels the HTML report shows in its header (`--label`, `--client`…, a profile's labels). */
  labels?: Record<string, string>;
  /** `--dashboard`: where the live page listens. */
  dashboard?: ListenAt;
  prometheus?: PrometheusOptions;
  /** `prometheus.prometheusFile`, named by its flag or its profile field. */
  prometheusFile?: OutputPath;
  /** The target's own signals (`--monitor…`, docs/MONITOR.md). */
  monitor?: MonitorOptions;
  quiet: boolean;
  archive?: ArchiveOutput;
  compareTo?: CompareToOutput;
}

/** One run: `load-test --rps …`, or a profile with one phase. */
export interface ResolvedRun {
  kind: "run";
  /** What the terminal calls it: `load-test`, or the profile's name. */
  title: string;
  /** The Notes cell of its Markdown row: "" for flags, the title for a profile. */
  note: string;
  options: RunOptions;
  outputs: ResolvedOutputs;
}

/** A profile's phases, run in order (docs/PROFILES.md "Phases"). */
export interface ResolvedPhases {
  kind: "phases";
  phases: Array<{ name: string; options: RunOptions; pauseAfterMs: number }>;
  outputs: ResolvedOutputs;
}

/** `ladder` and `demo`: one run per rate, back to back (engine/ladder.ts). */
export interface ResolvedLadder {
  kind: "ladder";
  title: string;
  /** Everything but the rate and duration, shared by every step (rate: the highest step). */
  base: RunOptions;
  ratesPerSec: number[];
  stepMs: number;
  pauseMs: number;
  outputs: ResolvedOutputs;
  /** The last step's summary in full before the table (`demo`). */
  summaryOfLast: boolean;
}

export type ResolvedCommand = ResolvedRun | ResolvedPhases | ResolvedLadder;

// ---------------------------------------------------------------------------------------------
// The flags

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The flags of run, ladder and the bare command, in one place. */
export function addRunOptions(command: Command, { withRate = true } = {}): Command {
  if (withRate) {
    command
      .option(
        "--rps <n>",
        'requests per second, paced evenly (open loop); "max": a closed loop with --workers in flight',
      )
      .option("--duration <d>", "test duration: 30s, 5m, 1h, 1m30s")
      .option(
        "--stages <list>",
        "ramping rate, k6 stages: 30s:10,1m:50,2m:100,30s:0 (instead of --rps/--duration)",
      )
      .option("--start-rps <n>", "rate the first stage ramps from", "0");
  }
  return command
    .addOption(
      new Option("--target <url>", "base URL of the target (http:// or https://)").env("AXONFLOW_ENDPOINT"),
    )
    .option("--coldstart-window <n>", "report the first N requests' percentiles on their own", "0")
    .option(
      "--nodes <n>",
      "gateway nodes serving the target: capacity (--rps max, a ladder) is judged per node",
      "1",
    )
    .option(
      "--category <c>",
      `test category: ${CATEGORY_CHOICES.join(", ")} (a profile may name its own)`,
      "mixed",
    )
    .option(
      "--max-in-flight <n>",
      "cap on requests in flight (and HTTP/1.1 connections); default 2 s worth of --rps, 10..64 (llm: 10..1000); 64 with --rps max",
    )
    .option("--workers <n>", "the methodology's name for --max-in-flight (an alias)")
    .option(
      "--threads <n>",
      "worker threads, each pacing every n-th request; default one per core, minus one for a loopback target",
    )
    .option(
      "--pacing <mode>",
      "precise: each request leaves at its due time, within ~0.1 ms (default); tick: a 1 ms tick, less CPU",
    )
    .option("--path <path>", "request path appended to the target", DEFAULT_PATH)
    .addOption(
      new Option(
        "--api-key <key>",
        "sent as Authorization: Bearer <key>; never printed; '' for none; default demo-org, the methodology's client id (with a profile: its auth)",
      ).env("AXONFLOW_CLIENT_ID"),
    )
    .option("--header <name:value>", "extra request header (repeatable)", collect)
    .option("--timeout <d>", "per-request timeout from the actual send", DEFAULT_TIMEOUT)
    .option("--http1", "speak HTTP/1.1 only (do not offer h2 by ALPN)")
    .option("--http2", "require HTTP/2 (h2 by ALPN over https://); stop if the server does not offer it")
    .option("--h2c", "HTTP/2 over cleartext with prior knowledge (http:// targets behind a TLS proxy)")
    .option(
      "--connections <n>",
      "connections at most: HTTP/2 default 1 per 100 in flight (1..4), HTTP/1.1 default --workers",
    )
    .option("--ca <file>", "extra trusted CA certificates (PEM), added to the system ones")
    .option("--insecure", "do not verify TLS certificates (the summary warns)")
    .option("--servername <name>", "TLS SNI and the name the certificate is verified against")
    .option("--cert <file>", "client certificate for mutual TLS (PEM, with --key)")
    .option("--key <file>", "client private key for mutual TLS (PEM, unencrypted)")
    .option("--tls-min <version>", "lowest TLS version: 1.2 (default) or 1.3")
    .option("--no-keepalive", "a new connection for every request (measures connection set-up)")
    .option("--max-requests-per-connection <n>", "close each connection after n requests")
    .option("--warmup <d>", "unrecorded traffic at the same rate before the measured run", "0s")
    .option("--out <file>", "write the results as JSON (docs/RESULTS.md)")
    .option(
      "--hdr-log <file>",
      "write each second's latency histogram as an HdrHistogram interval log (docs/RESULTS.md)",
    )
    .option("--markdown <file>", "write the Baseline Results row(s) of the run as a Markdown table")
    .option("--html <file>", "write a self-contained HTML report with charts (docs/REPORTS.md)")
    .option(
      "--dashboard [host:port]",
      "serve the report live during the run (default 127.0.0.1:5665; the URL is printed at start)",
    )
    .option("--quiet", "no live progress, only the summary")
    .option(
      "--shard <K/N>",
      "send stripe K of N of the plan (requests i ≡ K mod N) with 1/N of --workers; env JOB_COMPLETION_INDEX + LOAD_TEST_SHARDS (docs/DISTRIBUTED.md)",
    )
    .option(
      "--start-at <time>",
      "start the measured schedule at this instant: RFC 3339 or +10s (after the warm-up)",
    )
    .option(
      "--run-id <id>",
      "the run id (results, Pushgateway grouping key, run_id label); shared by all shards",
    )
    .option(
      "--threshold <metric:expr>",
      "k6-style threshold, repeatable: 'latency:p(95)<10', 'latency{category:security}:p(99)<25@degraded' (docs/THRESHOLDS.md)",
      collect,
    )
    .option(
      "--abort-on-critical",
      "stop early once a critical threshold has clearly failed; results are still written",
    )
    .option("--pushgateway <url>", "push metrics to a Prometheus Pushgateway during and after the run")
    .option("--push-interval <d>", "how often to push during the run (0: only at the end)", "10s")
    .option("--pushgateway-job <name>", "Pushgateway grouping key: job", "load-test")
    .option("--pushgateway-instance <name>", "Pushgateway grouping key: instance (e.g. the shard)")
    .option("--pushgateway-delete-after", "delete the pushed group when the run ends")
    .option("--pushgateway-fatal", "exit 4 when the Pushgateway could not be reached (CI)")
    .option("--prometheus-file <file>", "write the final metrics in Prometheus text format")
    .option("--metrics-listen <host:port>", "serve live /metrics during the run, e.g. 127.0.0.1:9464")
    .option("--metric-prefix <name>", "metric name prefix", "axonflow_load_test")
    .option("--client <id>", "Prometheus label client")
    .option("--environment <name>", "Prometheus label environment")
    .option("--provider <name>", "Prometheus label provider (LLM provider)")
    .option("--label <k=v>", "extra Prometheus label, also kept by --archive (repeatable)", collect)
    .option("--archive <dir>", "keep the results with metadata under DIR/<run id>/ (docs/COMPARE.md)")
    .option(
      "--compare-to <file>",
      "compare the results with this baseline results file (repeatable); a regression exits 3",
      collect,
    )
    .option("--max-regression <pct>", "with --compare-to: tolerated change before a row is judged", "10%")
    .option("--min-change <d>", "with --compare-to: smallest latency change ever judged", "0.5ms")
    .option(
      "--monitor <url>",
      "scrape the target's Prometheus /metrics during the run (repeatable; docs/MONITOR.md)",
      collect,
    )
    .option(
      "--monitor-interval <d>",
      "how often to scrape and query the monitor's sources",
      DEFAULT_MONITOR_INTERVAL,
    )
    .option(
      "--monitor-metric <pattern>",
      'also keep these series from --monitor pages: a name, a glob (*pool*), label matchers (name{code=~"5.."}); repeatable',
      collect,
    )
    .option("--monitor-prometheus <url>", "a Prometheus server to ask the --monitor-query queries")
    .option("--monitor-query <name=promql>", "a PromQL query kept as series NAME (repeatable)", collect)
    .option("--monitor-log <file>", "count the target's error log lines during the run (repeatable)", collect)
    .option("--monitor-log-pattern <regex>", "which log lines count as errors", DEFAULT_LOG_PATTERN);
}

/** `--label k=v` and the label flags, as the archive keeps them. */
function labelsOf(flags: CliRunFlags): Record<string, string> {
  const labels: Record<string, string> = {};
  if (flags.client !== undefined) labels.client = flags.client;
  if (flags.environment !== undefined) labels.environment = flags.environment;
  if (flags.provider !== undefined) labels.provider = flags.provider;
  for (const item of flags.label ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0 || eq === item.length - 1)
      throw new InputError("--label", `expected name=value, got "${item}"`);
    labels[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return labels;
}

/** `--archive` and `--compare-to` of a command; `archive` names the directory and its labels. */
function workflowOutputs(
  flags: CliRunFlags,
  archive: ArchiveOutput | undefined,
): Pick<ResolvedOutputs, "archive" | "compareTo"> {
  const options = parseCompareOptions(flags);
  return {
    ...(archive ? { archive } : {}),
    ...(flags.compareTo?.length ? { compareTo: { paths: flags.compareTo, options } } : {}),
  };
}

const flagArchive = (flags: CliRunFlags): ArchiveOutput | undefined =>
  flags.archive === undefined
    ? undefined
    : { dir: flags.archive, flag: "--archive", labels: labelsOf(flags) };

// ---------------------------------------------------------------------------------------------
// Values

/** `--out x` -> { flag: "--out", path: "x" }; undefined stays undefined. */
export function output(flag: string, path: string | undefined): OutputPath | undefined {
  return path === undefined ? undefined : { flag, path };
}

/** A duration flag (`--step`, `--pause`): one parser and message for every duration (flag-values.ts). */
export function parseDurationFlag(flag: string, text: string, allowZero: boolean): number {
  return durationValue(flag, text, allowZero);
}

/** `--rates 10,50,100`: the ladder's asked rates, each > 0. */
export function parseRates(text: string): number[] {
  const rates = text.split(",").map((item) => parseDecimal(item) ?? Number.NaN);
  if (rates.length === 0 || rates.some((rate) => !(rate > 0)))
    throw new InputError("--rates", `expected increasing rates like 10,50,100,200, got "${text}"`);
  return rates;
}

/** `--llm-latency 200ms..2s`: the mock provider's latency range. */
export function parseLatencyRange(text: string): { min: number; max: number } {
  const [minText, maxText = minText] = text.split("..");
  const min = parseDurationMs(minText ?? "");
  const max = parseDurationMs(maxText ?? "");
  if (min === undefined || max === undefined || min < 0 || max < min)
    throw new InputError("--llm-latency", `expected MIN..MAX like 200ms..2s, got "${text}"`);
  const tooLong = timerLimitProblem(max);
  if (tooLong) throw new InputError("--llm-latency", tooLong);
  return { min, max };
}

/** `--port`: 0..65535 (0: any free port). */
/** `serve --llm-concurrency`: a whole number of completions, at least 1. */
export function parseLlmConcurrency(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1)
    throw new InputError("--llm-concurrency", `must be a whole number of at least 1, got "${text}"`);
  return value;
}

export function parsePort(text: string): number {
  const port = parseWholeNumber(text) ?? Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError("--port", `must be 0..65535, got "${text}"`);
  return port;
}

/** Prometheus flags; undefined when no export was asked for (labels alone are still checked). */
export function prometheusOptions(flags: RawPrometheusOptions): PrometheusOptions | undefined {
  const wanted = flags.pushgateway ?? flags.prometheusFile ?? flags.metricsListen;
  const extraFlags = flags.pushgatewayDeleteAfter || flags.pushgatewayFatal;
  if (wanted === undefined && !extraFlags) {
    // Labels without an export are still checked, so a typo is not silently ignored.
    if (!flags.labels?.length && !flags.client && !flags.environment && !flags.provider) return undefined;
  }
  try {
    // --pushgateway-job and --push-interval have defaults: they only matter with a Pushgateway.
    const options = parsePrometheusOptions(
      flags.pushgateway === undefined
        ? { ...flags, pushgatewayJob: undefined, pushInterval: undefined }
        : flags,
    );
    return wanted === undefined && !extraFlags ? undefined : options;
  } catch (error) {
    if (error instanceof PrometheusOptionError)
      throw new InputError(error.flag, bare(error.message, error.flag));
    throw error;
  }
}

/**
 * Shards share one run id: without an `instance` their pushes would replace each other in one
 * Pushgateway group, so a shard pushes as `shard-K` unless `--pushgateway-instance` names it.
 */
function withShardInstance(
  prometheus: PrometheusOptions | undefined,
  distributed: DistributedOptions,
): PrometheusOptions | undefined {
  const { shard } = distributed;
  if (!prometheus?.pushgateway || !shard || prometheus.pushgateway.instance !== undefined) return prometheus;
  return { ...prometheus, pushgateway: { ...prometheus.pushgateway, instance: `shard-${shard.index}` } };
}

const bare = (message: string, flag: string): string =>
  message.startsWith(`${flag}: `) ? message.slice(flag.length + 2) : message;

// ---------------------------------------------------------------------------------------------
// Commands

/** `--dashboard` (true: the default address) or `--dashboard HOST:PORT`; loopback unless a host is given. */
export function parseDashboard(value: string | boolean | undefined): ListenAt | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_DASHBOARD;
  return parseListenAddress(
    value,
    (flag, message) => {
      throw new InputError(flag, message);
    },
    "--dashboard",
    DEFAULT_DASHBOARD.port,
  );
}

/** `--label k=v`, `--client`, `--environment`, `--provider` as the HTML report's header labels. */
function cliLabels(flags: CliRunFlags): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const name of ["client", "environment", "provider"] as const) {
    const value = flags[name];
    if (typeof value === "string") labels[name] = value;
  }
  for (const item of flags.label ?? []) {
    const eq = item.indexOf("=");
    if (eq > 0) labels[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return Object.keys(labels).length > 0 ? labels : undefined;
}

/** `load-test --rps … --duration …` (or `run` without a profile). */
export function resolveRun(flags: CliRunFlags): ResolvedRun {
  const distributed = parseDistributedFlags(flags, Date.now());
  const prometheus = withShardInstance(prometheusOptions({ ...flags, labels: flags.label }), distributed);
  return {
    kind: "run",
    title: "load-test",
    note: "",
    options: { ...parseRunOptions({ ...flags, shardCount: distributed.shard?.count }), ...distributed },
    outputs: {
      ...fileOutputs(flags),
      hdrLog: output("--hdr-log", flags.hdrLog),
      labels: cliLabels(flags),
      prometheus,
      prometheusFile: output("--prometheus-file", prometheus?.prometheusFile),
      ...workflowOutputs(flags, flagArchive(flags)),
      monitor: parseMonitorFlags(flags),
    },
  };
}

export interface LadderFlags extends CliRunFlags {
  rates: string;
  step: string;
  pause: string;
}

/** `load-test ladder`: the steps' rates and lengths as numbers, every other flag as for a run. */
export function resolveLadder(flags: LadderFlags): ResolvedLadder {
  // The ladder writes --out and --markdown only; an export flag would be a file never written.
  const exportFlag = (
    [
      ["--prometheus-file", flags.prometheusFile],
      ["--pushgateway", flags.pushgateway],
      ["--metrics-listen", flags.metricsListen],
    ] as const
  ).find(([, value]) => value !== undefined)?.[0];
  const shardFlag = (
    [
      ["--shard", flags.shard],
      ["--start-at", flags.startAt],
    ] as const
  ).find(([, value]) => value !== undefined)?.[0];
  if (shardFlag) throw new InputError(shardFlag, "not supported by ladder (shard a run: load-test --rps N)");
  if (exportFlag)
    throw new InputError(
      exportFlag,
      `not supported by ladder (each step is a run of its own: use load-test --rps N ${exportFlag} …)`,
    );
  const steps = ladderSteps(flags);
  return {
    kind: "ladder",
    title: "ladder",
    base: parseRunOptions(flags, steps.given),
    ...steps.shape,
    outputs: {
      ...fileOutputs(flags),
      hdrLog: output("--hdr-log", flags.hdrLog),
      labels: cliLabels(flags),
      ...workflowOutputs(flags, flagArchive(flags)),
      monitor: parseMonitorFlags(flags),
    },
    summaryOfLast: false,
  };
}

/** `--rates`, `--step` and `--pause` as numbers, and the highest step as the load to validate. */
function ladderSteps(flags: { rates: string; step: string; pause: string }) {
  const ratesPerSec = parseRates(flags.rates);
  const stepMs = parseDurationFlag("--step", flags.step, false);
  const pauseMs = parseDurationFlag("--pause", flags.pause, true);
  return {
    shape: { ratesPerSec, stepMs, pauseMs },
    given: { ratePerSec: Math.max(...ratesPerSec), durationMs: stepMs, rateFlag: "--rates" },
  };
}

/** `--out`, `--markdown`, `--html`, `--dashboard` and `--quiet`, which every command takes. */
function fileOutputs(flags: {
  out?: string;
  markdown?: string;
  html?: string;
  dashboard?: string | boolean;
  quiet?: boolean;
}): ResolvedOutputs {
  return {
    out: output("--out", flags.out),
    markdown: output("--markdown", flags.markdown),
    html: output("--html", flags.html),
    dashboard: parseDashboard(flags.dashboard),
    quiet: Boolean(flags.quiet),
  };
}

export interface DemoFlags {
  rates: string;
  step: string;
  pause: string;
  warmup: string;
  out?: string;
  markdown?: string;
  html?: string;
  dashboard?: string | boolean;
  quiet?: boolean;
  llmLatency: string;
  threads?: string;
  /** `--no-monitor` sets it false: the demo scrapes its gateway's /metrics unless told not to. */
  monitor?: boolean;
}

/**
 * `load-test demo`: a ladder against the reference gateway at `targetUrl`, mixed category, with
 * the methodology's client id. Called once with a placeholder target to validate every flag
 * before the gateway starts, then with the gateway's URL.
 */
export function resolveDemo(flags: DemoFlags, targetUrl = "http://127.0.0.1"): ResolvedLadder {
  parseLatencyRange(flags.llmLatency);
  const steps = ladderSteps(flags);
  const base = parseRunOptions(
    {
      target: targetUrl,
      warmup: flags.warmup,
      threads: flags.threads,
      category: "mixed",
      apiKey: "demo-org",
    },
    steps.given,
  );
  return {
    kind: "ladder",
    title: "demo",
    base,
    ...steps.shape,
    outputs: {
      ...fileOutputs(flags),
      ...(flags.monitor === false
        ? {}
        : { monitor: parseMonitorFlags({ monitor: [`${targetUrl}/metrics`] }) }),
    },
    summaryOfLast: true,
  };
}

/**
 * `load-test run profile.yaml`: the profile with the typed flags over it (docs/PROFILES.md
 * "Precedence"); `typed` holds only the flags the user typed, `all` every flag with its default.
 */
export function resolveProfile(
  profileLoaded: LoadedProfile,
  typed: ProfileCliFlags,
  all: CliRunFlags,
): ResolvedRun | ResolvedPhases {
  const loaded = profileWithFlags(profileLoaded, typed);
  const { profile } = loaded;
  const labels = Object.entries(profile.labels);
  const pick = (name: string): string | undefined => profile.labels[name];
  const distributed: DistributedOptions = parseDistributedFlags(all, Date.now());
  const prometheusAsked = prometheusOptions({
    ...(all as RawPrometheusOptions),
    pushgateway: profile.outputs.pushgateway,
    prometheusFile: profile.outputs.prometheusFile,
    client: pick("client"),
    environment: pick("environment"),
    provider: pick("provider"),
    labels: labels
      .filter(([name]) => !["client", "environment", "provider"].includes(name))
      .map(([k, v]) => `${k}=${v}`),
  });
  const prometheus = withShardInstance(prometheusAsked, distributed);
  // A path typed on the command line is named by its flag, one from the profile by its field.
  const outputOf = (
    key: "out" | "markdown" | "prometheusFile" | "hdrLog" | "html",
    flag: string,
  ): OutputPath | undefined =>
    output(typed[key] !== undefined ? flag : `outputs.${key}`, profile.outputs[key]);
  const outputs: ResolvedOutputs = {
    out: outputOf("out", "--out"),
    markdown: outputOf("markdown", "--markdown"),
    hdrLog: outputOf("hdrLog", "--hdr-log"),
    html: outputOf("html", "--html"),
    labels: { ...profile.labels },
    dashboard: parseDashboard(all.dashboard),
    quiet: Boolean(all.quiet),
    // The profile's `monitor:` with the typed --monitor… flags over it (applyCliOverrides).
    monitor: parseMonitorFlags(profile.monitor ?? {}),
    ...(prometheus ? { prometheus, prometheusFile: outputOf("prometheusFile", "--prometheus-file") } : {}),
    ...workflowOutputs(
      all,
      profile.archive === undefined
        ? undefined
        : {
            dir: profile.archive,
            flag: typed.archive !== undefined ? "--archive" : "archive",
            labels: { ...profile.labels },
            ...(profile.name === undefined ? {} : { name: profile.name }),
          },
    ),
  };
  const runs = profile.phases.map((phase, index) => ({
    ...phaseOptions(loaded, phase, index, { ...all, shardCount: distributed.shard?.count }),
    ...distributed,
    // The shared start is the first phase's; the phases after it follow on.
    ...(index > 0 ? { startAtEpochMs: undefined } : {}),
  }));
  if (profile.phases.length === 1) {
    const title = profile.name ?? "load-test";
    return { kind: "run", title, note: title, options: runs[0] as RunOptions, outputs };
  }
  return {
    kind: "phases",
    phases: profile.phases.map((phase, index) => ({
      name: phase.name,
      options: runs[index] as RunOptions,
      pauseAfterMs: phase.pauseAfterMs,
    })),
    outputs,
  };
}

/** The run options of one profile phase (docs/PROFILES.md "Phases"). */
function phaseOptions(
  loaded: LoadedProfile,
  phase: PhaseSpec,
  index: number,
  transportFlags: RawTransportFlags & {
    threads?: string;
    pacing?: string;
    coordinatedShards?: number;
    shardCount?: number;
  },
): RunOptions {
  const { profile } = loaded;
  const plan = phasePlan(phase);
  const tooLong = timerLimitProblem(plan.durationMs);
  if (tooLong) throw new InputError(`phase "${phase.name}"`, `its stages in total ${tooLong}`);
  const constant = phase.constantPerSec !== undefined;
  const targetUrl = new URL(profile.target as string);
  const workers = effectiveWorkers(profile);
  const threads = resolveThreads(transportFlags.threads, workers, targetUrl);
  const field = `${profile.phases.length > 1 ? `phases[${index}].` : ""}${constant ? "rps" : "stages"}`;
  checkRateBound(
    plan.peakPerSec,
    threads,
    field,
    transportFlags.coordinatedShards,
    transportFlags.shardCount,
  );
  return {
    targetUrl,
    path: profile.path,
    ratePerSec: phase.closedLoop ? 0 : (phase.constantPerSec ?? plan.count / (plan.durationMs / 1000)),
    ...(phase.closedLoop ? { closedLoop: true } : {}),
    durationMs: plan.durationMs,
    stages: constant || phase.closedLoop ? undefined : phase.stages,
    startPerSec: phase.startPerSec,
    coldstartWindow: index === 0 ? profile.coldstartWindow : 0,
    nodes: profile.nodes,
    category: (CATEGORY_CHOICES as readonly string[]).includes(phase.category)
      ? (phase.category as CategoryChoice)
      : "mixed",
    categoryLabel: phase.category,
    weights: profile.cases ? undefined : phase.weights,
    customCases: profile.cases ? caseCorpus(profile.cases, phase.weights) : undefined,
    workers,
    threads,
    pacing: parsePacing(transportFlags.pacing),
    timeoutMs: profile.timeoutMs,
    warmupMs: index === 0 ? profile.warmupMs : 0,
    apiKey: undefined,
    headers: requestHeaders(loaded),
    thresholds: profile.thresholds,
    defaultThresholds: profile.defaultThresholds,
    abortOnCritical: profile.abortOnCritical,
    // TLS and protocol flags come from the command line only (docs/TRANSPORT.md).
    transport: parseTransportFlags(transportFlags, targetUrl, workers),
  };
}
