#!/usr/bin/env node
/**
 * The command line: argv -> options -> run -> reports -> exit code. The only module that
 * touches process, argv, console and exit (DESIGN.md "Layout").
 */
import { existsSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { Command, CommanderError, Option } from "commander";
import { parseDurationMs, timerLimitProblem } from "../config/duration.js";
import { parseDecimal, parseWholeNumber } from "../config/numbers.js";
import {
  DEFAULT_PATH,
  DEFAULT_TIMEOUT,
  InputError,
  parseRunOptions,
  parsePacing,
  resolveThreads,
  type RawRunOptions,
  type RunOptions,
} from "../config/options.js";
import { randomUUID } from "node:crypto";
import { prepareRun, type Progress } from "../engine/run.js";
import { CAPACITY_EXPECTED } from "../evaluate/capacity.js";
import { EXIT_CODES } from "../evaluate/exit-codes.js";
import { unreachableReason } from "../evaluate/reachability.js";
import type { MetricsSnapshot, RunResult } from "../metrics/result.js";
import { writeJsonFile, writeResultsFile } from "../report/json.js";
import {
  checkOutputPaths,
  OutputWriteError,
  writeFileAtomic,
  type OutputPath,
} from "../report/output-file.js";
import { HdrIntervalLog } from "../report/hdr-log.js";
import { ladderTable } from "../report/markdown.js";
import { ladderOutcome, runLadder } from "../engine/ladder.js";
import {
  parsePrometheusOptions,
  PrometheusOptionError,
  startPrometheusExport,
  type PrometheusExport,
  type PrometheusOptions,
  type RawPrometheusOptions,
} from "../report/prometheus.js";
import { formatProgressLine, formatSummary } from "../report/terminal.js";
import { describeTargets, requestTargets } from "../scenarios/request-targets.js";
import { CATEGORY_CHOICES, type CategoryChoice } from "../scenarios/types.js";
import { caseCorpus } from "../config/profile-cases.js";
import { parseTransportFlags, type RawTransportFlags } from "../config/transport-options.js";
import { checkRateBound } from "../config/rate-bound.js";
import {
  applyCliOverrides,
  effectiveWorkers,
  loadProfile,
  phasePlan,
  requestHeaders,
  type LoadedProfile,
  type PhaseSpec,
  type ProfileCliFlags,
} from "../config/profile.js";
import { formatPolicyTable } from "../target/policies.js";
import {
  DEFAULT_HTTP_SERVER,
  HTTP_SERVER_KINDS,
  startGateway,
  type HttpServerKind,
} from "../target/gateway.js";
import { startGatewayProcess } from "./gateway-process.js";
import { unknownCommandMessage } from "./unknown-command.js";
import { hasNodeFlags, NODE_FLAGS } from "./node-flags.js";
import { interruptSignal, quitNow } from "./interrupts.js";
import { onParentDeath } from "./parent-watch.js";
import {
  ladderDocument,
  phasesDocument,
  writeLadderNow,
  quitSnapshot,
  writePhasesNow,
  writeRunNow,
} from "./partial-results.js";

const VERSION = "0.1.0";
/** Without a TTY (CI logs) a plain progress line every few seconds instead of a redrawn one. */
const PLAIN_PROGRESS_EVERY_SEC = 5;

interface CliRunFlags extends RawRunOptions, RawPrometheusOptions {
  /** `--label k=v`, repeatable (commander names it after the flag). */
  label?: string[];
  out?: string;
  hdrLog?: string;
  markdown?: string;
  quiet?: boolean;
}

interface OutputFlags {
  out?: OutputPath;
  /** The Baseline Results table of this run (one row) as Markdown. */
  markdown?: OutputPath;
  quiet?: boolean;
  prometheus?: PrometheusOptions;
  /** `--hdr-log`: the open interval log that receives the run's seconds. */
  intervals?: HdrIntervalLog;
  /** What quitting now writes instead of this run's own files (a profile's phases document). */
  writeNow?: (live: RunResult) => void;
}

/** Opens `--hdr-log FILE` (checked with the other outputs) before anything runs. */
async function openHdrLog(target: OutputPath | undefined): Promise<HdrIntervalLog | undefined> {
  if (target === undefined) return undefined;
  return HdrIntervalLog.open(target.path).catch((error: unknown) =>
    fail(`${target.flag} ${target.path}: ${(error as Error).message}`, EXIT_CODES.invalidInput),
  );
}

/**
 * Closes the interval log. A write that failed during the run is one line on stderr and
 * EXIT_CODES.writeFailed, as for any other output (an interrupted run keeps 130).
 */
async function closeHdrLog(
  log: HdrIntervalLog | undefined,
  target: OutputPath | undefined,
  code: number,
): Promise<number> {
  if (!log || target === undefined) return code;
  try {
    await log.close();
    process.stderr.write(`histogram log written to ${target.path}\n`);
    return code;
  } catch (error) {
    process.stderr.write(`load-test: error: ${target.flag} ${(error as Error).message}\n`);
    return code === EXIT_CODES.interrupted ? code : EXIT_CODES.writeFailed;
  }
}

/** `--out x` -> { flag: "--out", path: "x" }; undefined stays undefined. */
function output(flag: string, path: string | undefined): OutputPath | undefined {
  return path === undefined ? undefined : { flag, path };
}

/** Every output path is checked before anything is sent: exit 2 with one line naming the flag. */
async function checkOutputs(outputs: Array<OutputPath | undefined>): Promise<void> {
  try {
    await checkOutputPaths(outputs.filter((entry): entry is OutputPath => entry !== undefined));
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/**
 * Writes one results file after the run; a failure now (disk full, directory removed) is one
 * line on stderr and false, so the caller exits with EXIT_CODES.writeFailed.
 */
async function writeOutput(
  target: OutputPath | undefined,
  write: (target: OutputPath) => Promise<void>,
): Promise<boolean> {
  if (target === undefined) return true;
  try {
    await write(target);
    return true;
  } catch (error) {
    if (!(error instanceof OutputWriteError)) throw error;
    process.stderr.write(`load-test: error: ${error.message}\n`);
    return false;
  }
}

/** Short, unique per run: the Pushgateway grouping key and the `run_id` label. */
function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}-${randomUUID().slice(0, 8)}`;
}

function fail(message: string, code: number): never {
  process.stderr.write(`load-test: error: ${message}\n`);
  process.exit(code);
}

function addRunOptions(command: Command, { withRate = true } = {}): Command {
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
      "--workers <n>",
      "cap on requests in flight (and HTTP/1.1 connections); default 2 s worth of --rps, 10..64 (llm: 10..1000); 64 with --rps max",
    )
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
    .option(
      "--header <name:value>",
      "extra request header (repeatable)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
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
    .option("--quiet", "no live progress, only the summary")
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
    .option("--label <k=v>", "extra Prometheus label (repeatable)", collect);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Prometheus flags, validated before anything starts; undefined when no export was asked for. */
function prometheusOptions(flags: RawPrometheusOptions): PrometheusOptions | undefined {
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
    if (error instanceof PrometheusOptionError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/** Turns a commander "invalid choice" into our one-line style and exit code. */
function validate(raw: RawRunOptions, rateFlag = "--rps"): RunOptions {
  try {
    return parseRunOptions(raw);
  } catch (error) {
    // `ladder` and `demo` pass their highest --rates as the rate: a problem with it names --rates.
    if (error instanceof InputError)
      fail(
        error.field === "--rps" ? `${rateFlag}${error.message.slice(5)}` : error.message,
        EXIT_CODES.invalidInput,
      );
    throw error;
  }
}

function progressPrinter(quiet: boolean): ((progress: Progress) => void) | undefined {
  if (quiet) return undefined;
  const stderr = process.stderr;
  if (stderr.isTTY) {
    return (progress) => stderr.write(`\r\x1b[2K${formatProgressLine(progress)}`);
  }
  let lastPrintedSec = 0;
  return (progress) => {
    if (progress.elapsedSec - lastPrintedSec >= PLAIN_PROGRESS_EVERY_SEC - 0.5) {
      lastPrintedSec = progress.elapsedSec;
      stderr.write(`${formatProgressLine(progress)}\n`);
    }
  };
}

/** Connection-level failures on every request mean the target was never reached. */
function unreachableNote(result: RunResult, target: string): string | undefined {
  const reason = unreachableReason(result);
  return reason === undefined ? undefined : `--target ${target}: unreachable (${reason})`;
}

/** Runs one load test with live progress, summary, results file and exit code. */
async function executeRun(
  options: RunOptions,
  flags: OutputFlags & { hdrLog?: OutputPath },
  title?: string,
): Promise<number> {
  await checkOutputs([
    flags.out,
    flags.markdown,
    output("--prometheus-file", flags.prometheus?.prometheusFile),
    flags.hdrLog,
  ]);
  const intervals = await openHdrLog(flags.hdrLog);
  const { code } = await executeRunWithResult(options, { ...flags, intervals }, title);
  return closeHdrLog(intervals, flags.hdrLog, code);
}

/**
 * V8 lets the old generation grow to several times its live size before a full collection: a
 * 5k req/s run holds about 30 MB live, yet its heap grew to 95 MB and RSS from 117 to 164 MB
 * in 5 minutes (collectable garbage, not a leak). A 20% growing factor (V8's default is
 * dynamic, up to 4x) kept the heap at 60 MB and RSS flat at 124 MB over the same load, with no
 * heap limit that a large run could hit. Process-wide, so worker threads (`--threads`) follow.
 * Load-generating commands only: the gateway (`serve`) was measured without it.
 */
function tuneHeapForLoad(): void {
  setFlagsFromString("--heap-growing-percent=20");
}

/** V8's memory-reducer GC comes ~100 s after start (bin.ts); shorter runs never meet it. */
const MEMORY_REDUCER_AFTER_MS = 90_000;

/** `node dist/cli/main.js` skips the executable's restart; say so when a run is long enough to matter. */
function warnIfMemoryReducerOn(runMs: number): void {
  if (runMs <= MEMORY_REDUCER_AFTER_MS || hasNodeFlags(process.execArgv)) return;
  process.stderr.write(
    "load-test: warning: node runs with V8's memory reducer, whose full GC ~100 s in stalls a busy " +
      `run; start it as \`load-test\` or \`node ${NODE_FLAGS.join(" ")} …\` (docs/GATEWAY.md, "Long runs")\n`,
  );
}

async function executeRunWithResult(
  options: RunOptions,
  flags: OutputFlags,
  title?: string,
): Promise<{ code: number; result: RunResult }> {
  await checkOutputs([
    flags.out,
    flags.markdown,
    output("--prometheus-file", flags.prometheus?.prometheusFile),
  ]);
  tuneHeapForLoad();
  const interrupts = interruptSignal();
  const target = `${options.targetUrl.protocol}//${options.targetUrl.host}`;
  if (!flags.quiet) {
    const requests = requestTargets(options);
    process.stderr.write(
      `${title ?? "load-test"}: ${describeTargets(target, requests)} at ${options.closedLoop ? "max rate (closed loop)" : `${options.ratePerSec} req/s`} for ${options.durationMs / 1000}s, ` +
        `category ${requests.category}, workers ${options.workers}, threads ${options.threads ?? 1}` +
        (options.warmupMs > 0 ? `, after a ${options.warmupMs / 1000}s unrecorded warm-up` : "") +
        "\n",
    );
  }
  warnIfMemoryReducerOn(options.warmupMs + options.durationMs);
  const onProgress = progressPrinter(Boolean(flags.quiet));
  const run = prepareRun(options, { signal: interrupts.signal, onProgress, intervals: flags.intervals });
  const files = {
    out: flags.out?.path,
    markdown: flags.markdown?.path,
    ratePerSec: options.ratePerSec,
    title: title ?? "",
  };
  const writeNow = flags.writeNow ?? ((live: RunResult) => writeRunNow(live, files));
  interrupts.onQuitNow(() => writeNow(quitSnapshot(run.snapshot())));
  const runId = newRunId();
  let exporter: PrometheusExport | undefined;
  if (flags.prometheus) {
    exporter = await startPrometheusExport(flags.prometheus, runId, run.snapshot).catch((error: unknown) =>
      fail(error instanceof Error ? error.message : String(error), EXIT_CODES.invalidInput),
    );
    if (exporter.listenUrl && !flags.quiet) process.stderr.write(`live metrics on ${exporter.listenUrl}\n`);
  }
  // One preflight connection: a server that does not speak what --http2/--h2c/--http1 demand
  // stops the run here, with one line naming the flag (anything else is measured by the run).
  const probe = await run.probe();
  if (!probe.ok && probe.flag !== "--target") fail(probe.message, EXIT_CODES.invalidInput);
  const result = await run.start();
  // The signal handlers stay until the process exits: quitting now writes the final result.
  interrupts.onQuitNow(() => writeNow(result));
  if (onProgress && process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
  let exportFailed = false;
  let written = true;
  if (exporter) {
    const exported = await exporter.finish(run.snapshot());
    // Export problems never fail the measurement; they are warnings unless --pushgateway-fatal.
    result.verdict.warnings.push(...exported.warnings);
    exportFailed = exported.fatal;
    if (exported.writeFailed !== undefined) {
      process.stderr.write(`load-test: error: ${exported.writeFailed}\n`);
      written = false;
    }
  }
  process.stdout.write(`${formatSummary(result)}\n`);
  // Each file is written even when another failed: one lost file must not lose the others.
  const outWritten = await writeOutput(flags.out, async (out) => {
    await writeResultsFile(out, result);
    process.stderr.write(`results written to ${out.path}\n`);
  });
  const markdownWritten = await writeOutput(flags.markdown, (markdown) =>
    writeFileAtomic(
      markdown,
      `${ladderTable([{ ratePerSec: options.ratePerSec, result, note: title ?? "" }])}\n`,
    ),
  );
  const unreachable = unreachableNote(result, target);
  if (unreachable) process.stderr.write(`load-test: error: ${unreachable}\n`);
  return { code: exitCodeOf(result, exportFailed, !(written && outWritten && markdownWritten)), result };
}

/** README "Exit codes": interrupted, then a lost results file, then the verdict, then the export. */
function exitCodeOf(result: RunResult, exportFailed = false, writeFailed = false): number {
  if (result.interrupted) return EXIT_CODES.interrupted;
  if (writeFailed) return EXIT_CODES.writeFailed;
  if (result.verdict.level === "critical") return EXIT_CODES.critical;
  return exportFailed ? EXIT_CODES.exportFailed : EXIT_CODES.ok;
}

/** Only the flags the user typed, so defaults and env fallbacks never override a profile (docs/PROFILES.md). */
function typedFlags(command: Command): ProfileCliFlags {
  const typed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(command.opts())) {
    if (command.getOptionValueSource(key) === "cli") typed[key] = value;
  }
  return typed as ProfileCliFlags;
}

/** The run options of one profile phase (docs/PROFILES.md "Phases"). */
function phaseOptions(
  loaded: LoadedProfile,
  phase: PhaseSpec,
  index: number,
  transportFlags: RawTransportFlags & { threads?: string; pacing?: string },
): RunOptions {
  const { profile } = loaded;
  const plan = phasePlan(phase);
  const tooLong = timerLimitProblem(plan.durationMs);
  if (tooLong) throw new InputError(`phase "${phase.name}"`, `its stages in total ${tooLong}`);
  const constant = phase.constantPerSec !== undefined;
  const threads = resolveThreads(
    transportFlags.threads,
    effectiveWorkers(profile),
    new URL(profile.target as string),
  );
  const field = `${profile.phases.length > 1 ? `phases[${index}].` : ""}${constant ? "rps" : "stages"}`;
  checkRateBound(plan.peakPerSec, threads, field);
  return {
    targetUrl: new URL(profile.target as string),
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
    workers: effectiveWorkers(profile),
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
    transport: parseTransportFlags(
      transportFlags,
      new URL(profile.target as string),
      effectiveWorkers(profile),
    ),
  };
}

/** `load-test run profile.yaml`: every phase in order, each reported on its own. */
async function executeProfile(path: string, command: Command): Promise<number> {
  const flags = typedFlags(command);
  let loaded: LoadedProfile;
  try {
    loaded = applyCliOverrides(await loadProfile(path), flags);
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  const { profile } = loaded;
  const labels = Object.entries(profile.labels);
  const pick = (name: string): string | undefined => profile.labels[name];
  const prometheus = prometheusOptions({
    ...(command.opts() as RawPrometheusOptions),
    pushgateway: profile.outputs.pushgateway,
    prometheusFile: profile.outputs.prometheusFile,
    client: pick("client"),
    environment: pick("environment"),
    provider: pick("provider"),
    labels: labels
      .filter(([name]) => !["client", "environment", "provider"].includes(name))
      .map(([k, v]) => `${k}=${v}`),
  });
  // A path typed on the command line is named by its flag, one from the profile by its field.
  const outputOf = (
    key: "out" | "markdown" | "prometheusFile" | "hdrLog",
    flag: string,
  ): OutputPath | undefined =>
    output(flags[key] !== undefined ? flag : `outputs.${key}`, profile.outputs[key]);
  const outputs = {
    out: outputOf("out", "--out"),
    markdown: outputOf("markdown", "--markdown"),
    prometheusFile: outputOf("prometheusFile", "--prometheus-file"),
    hdrLog: outputOf("hdrLog", "--hdr-log"),
  };
  const quiet = Boolean(command.opts().quiet);
  const transportFlags = command.opts() as RawTransportFlags & { pacing?: string };
  let phaseRuns: RunOptions[];
  try {
    phaseRuns = profile.phases.map((phase, index) => phaseOptions(loaded, phase, index, transportFlags));
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  await checkOutputs([outputs.out, outputs.markdown, outputs.prometheusFile, outputs.hdrLog]);
  if (profile.phases.length === 1) {
    const options = phaseRuns[0] as RunOptions;
    return executeRun(
      options,
      { out: outputs.out, markdown: outputs.markdown, hdrLog: outputs.hdrLog, quiet, prometheus },
      profile.name ?? "load-test",
    );
  }
  // One interval log for every phase, on one time axis (docs/RESULTS.md "Interval log").
  const intervals = await openHdrLog(outputs.hdrLog);
  const phases: Array<{ name: string; result: RunResult }> = [];
  let code: number = EXIT_CODES.ok;
  for (const [index, phase] of profile.phases.entries()) {
    const title = `phase ${index + 1}/${profile.phases.length} "${phase.name}"`;
    const done = [...phases];
    const outcome = await executeRunWithResult(
      phaseRuns[index] as RunOptions,
      {
        quiet,
        prometheus,
        intervals,
        writeNow: (live) =>
          writePhasesNow([...done, { name: phase.name, result: live }], {
            out: outputs.out?.path,
            markdown: outputs.markdown?.path,
          }),
      },
      title,
    );
    phases.push({ name: phase.name, result: outcome.result });
    if (outcome.code === EXIT_CODES.interrupted) {
      code = outcome.code;
      break;
    }
    if (outcome.code !== EXIT_CODES.ok && code === EXIT_CODES.ok) code = outcome.code;
    if (phase.pauseAfterMs > 0 && index < profile.phases.length - 1) {
      if (!quiet) process.stderr.write(`pause ${phase.pauseAfterMs / 1000}s after "${phase.name}"\n`);
      await new Promise((resolve) => setTimeout(resolve, phase.pauseAfterMs));
    }
  }
  const rows = phases.map(({ name, result }) => ({
    ratePerSec: result.rate.targetPerSec,
    result,
    note: name,
  }));
  const markdownWritten = await writeOutput(outputs.markdown, (markdown) =>
    writeFileAtomic(markdown, `${ladderTable(rows)}\n`),
  );
  const outWritten = await writeOutput(outputs.out, async (out) => {
    await writeJsonFile(out, phasesDocument(phases, code === EXIT_CODES.interrupted));
    process.stderr.write(`results written to ${out.path}\n`);
  });
  const logged = await closeHdrLog(intervals, outputs.hdrLog, code);
  if (code === EXIT_CODES.interrupted) return code;
  return markdownWritten && outWritten ? logged : EXIT_CODES.writeFailed;
}

function parseLatencyRange(text: string): { min: number; max: number } {
  const [minText, maxText = minText] = text.split("..");
  const min = parseDurationMs(minText ?? "");
  const max = parseDurationMs(maxText ?? "");
  if (min === undefined || max === undefined || min < 0 || max < min) {
    fail(`--llm-latency: expected MIN..MAX like 200ms..2s, got "${text}"`, EXIT_CODES.invalidInput);
  }
  const tooLong = timerLimitProblem(max);
  if (tooLong) fail(`--llm-latency: ${tooLong}`, EXIT_CODES.invalidInput);
  return { min, max };
}

function parsePort(text: string): number {
  const port = parseWholeNumber(text) ?? Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port: must be 0..65535, got "${text}"`, EXIT_CODES.invalidInput);
  return port;
}

async function serveCommand(flags: {
  port: string;
  host: string;
  listPolicies?: boolean;
  llmLatency: string;
  httpServer: string;
}): Promise<void> {
  if (flags.listPolicies) {
    process.stdout.write(`${formatPolicyTable()}\n`);
    return;
  }
  if (!(HTTP_SERVER_KINDS as readonly string[]).includes(flags.httpServer)) {
    fail(
      `--http-server: expected one of ${HTTP_SERVER_KINDS.join(", ")}, got "${flags.httpServer}"`,
      EXIT_CODES.invalidInput,
    );
  }
  const gateway = await startGateway({
    host: flags.host,
    port: parsePort(flags.port),
    llmLatencyMs: parseLatencyRange(flags.llmLatency),
    httpServer: flags.httpServer as HttpServerKind,
  }).catch((error: Error) =>
    fail(
      `--port/--host: cannot listen on ${flags.host}:${flags.port}: ${error.message}`,
      EXIT_CODES.invalidInput,
    ),
  );
  process.stdout.write(
    `reference gateway listening on ${gateway.url} (POST /v1/execute, GET /health, GET /metrics); Ctrl-C to stop\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await gateway.close();
  process.stdout.write("reference gateway stopped\n");
}

interface DemoFlags {
  rates: string;
  step: string;
  pause: string;
  warmup: string;
  out?: string;
  markdown?: string;
  quiet?: boolean;
  llmLatency: string;
  threads?: string;
}

/**
 * `load-test demo`: the reference gateway in a child process, then the spec's "Start small"
 * sequence against it (shortened to finish in under a minute), ending with the Baseline table.
 */
async function demoCommand(flags: DemoFlags): Promise<number> {
  parseLatencyRange(flags.llmLatency);
  const ratesPerSec = parseRates(flags.rates);
  const stepMs = parseDurationFlag("--step", flags.step, false);
  const pauseMs = parseDurationFlag("--pause", flags.pause, true);
  // Validate every flag before starting anything (the target is a placeholder until the gateway is up).
  const demoOptions = {
    rps: String(Math.max(...ratesPerSec)),
    duration: flags.step,
    warmup: flags.warmup,
    threads: flags.threads,
  };
  validate({ target: "http://127.0.0.1", ...demoOptions }, "--rates");
  await checkOutputs([output("--out", flags.out), output("--markdown", flags.markdown)]);
  const gateway = await startGatewayProcess(flags.llmLatency);
  try {
    // A loopback target: the default --threads leaves one core to the gateway.
    const base = validate({ target: gateway.url, ...demoOptions, category: "mixed", apiKey: "demo-org" });
    process.stderr.write(`demo: reference gateway (pid ${gateway.pid}) listening on ${gateway.url}\n`);
    return await executeLadder(
      base,
      { ratesPerSec, stepMs, pauseMs },
      { ...flags, summaryOfLast: true },
      "demo",
    );
  } finally {
    await gateway.stop();
  }
}

interface LadderFlags extends CliRunFlags {
  rates: string;
  step: string;
  pause: string;
  markdown?: string;
}

function parseRates(text: string): number[] {
  const rates = text.split(",").map((item) => parseDecimal(item) ?? Number.NaN);
  if (rates.length === 0 || rates.some((rate) => !(rate > 0))) {
    fail(`--rates: expected increasing rates like 10,50,100,200, got "${text}"`, EXIT_CODES.invalidInput);
  }
  return rates;
}

function parseDurationFlag(flag: string, text: string, allowZero: boolean): number {
  const valueMs = parseDurationMs(text);
  if (valueMs === undefined || valueMs < 0 || (!allowZero && valueMs === 0)) {
    fail(`${flag}: must be a duration like 30s, 1m or 1m30s, got "${text}"`, EXIT_CODES.invalidInput);
  }
  const tooLong = timerLimitProblem(valueMs);
  if (tooLong) fail(`${flag}: ${tooLong}`, EXIT_CODES.invalidInput);
  return valueMs;
}

/** Steps of the ladder, one line each as they finish. */
function stepLine(index: number, count: number, ratePerSec: number, result: RunResult): string {
  const unreachable = unreachableReason(result);
  if (unreachable !== undefined)
    return `step ${index + 1}/${count}: ${ratePerSec} req/s -> unreachable (${unreachable})`;
  const completed = result.requests.total;
  const errorRate =
    completed > 0 ? `${Number(((result.requests.error / completed) * 100).toFixed(3))}%` : "n/a";
  return (
    `step ${index + 1}/${count}: ${ratePerSec} req/s -> achieved ${result.rate.achievedPerSec.toFixed(1)}, ` +
    `p50 ${result.latencyMs.p50}ms p95 ${result.latencyMs.p95}ms p99 ${result.latencyMs.p99}ms, ` +
    `errors ${errorRate}, correctness ${result.correctness === null ? "n/a" : `${Number((result.correctness * 100).toFixed(2))}%`}: ` +
    result.verdict.level +
    (result.interrupted ? ` (interrupted after ${Number(result.durationSec.toFixed(1))}s)` : "")
  );
}

/** `load-test ladder`: the spec's "Start small" steps back to back, then its Baseline Results table. */
async function executeLadder(
  base: RunOptions,
  ladder: { ratesPerSec: number[]; stepMs: number; pauseMs: number },
  flags: { out?: string; markdown?: string; hdrLog?: string; quiet?: boolean; summaryOfLast?: boolean },
  title = "ladder",
): Promise<number> {
  const outputs = {
    out: output("--out", flags.out),
    markdown: output("--markdown", flags.markdown),
    hdrLog: output("--hdr-log", flags.hdrLog),
  };
  await checkOutputs([outputs.out, outputs.markdown, outputs.hdrLog]);
  const intervals = await openHdrLog(outputs.hdrLog);
  const code = await runLadderSteps(base, ladder, flags, outputs, title, intervals);
  return closeHdrLog(intervals, outputs.hdrLog, code);
}

async function runLadderSteps(
  base: RunOptions,
  ladder: { ratesPerSec: number[]; stepMs: number; pauseMs: number },
  flags: { quiet?: boolean; summaryOfLast?: boolean },
  outputs: { out?: OutputPath; markdown?: OutputPath },
  title: string,
  intervals: HdrIntervalLog | undefined,
): Promise<number> {
  tuneHeapForLoad();
  const interrupts = interruptSignal();
  const onProgress = progressPrinter(Boolean(flags.quiet));
  const count = ladder.ratesPerSec.length;
  const files = { out: outputs.out?.path, markdown: outputs.markdown?.path };
  // Quitting now: the steps done, and the running one as far as it got.
  const done: RunResult[] = [];
  let running: (() => MetricsSnapshot) | undefined;
  interrupts.onQuitNow(() => {
    const live = running && done.length < count ? [quitSnapshot(running())] : [];
    writeLadderNow(ladderOutcome(ladder.ratesPerSec, ladder.stepMs, [...done, ...live], true), files);
  });
  const outcome = await runLadder(
    { base, ...ladder },
    {
      signal: interrupts.signal,
      onProgress,
      intervals,
      onStepStart: (index, ratePerSec) => {
        if (!flags.quiet) {
          process.stderr.write(
            `${title}: step ${index + 1}/${count}: ${ratePerSec} req/s for ${ladder.stepMs / 1000}s against ` +
              `${base.targetUrl.protocol}//${base.targetUrl.host}${base.path}, category ${base.category}\n`,
          );
        }
      },
      onStepPrepared: (_index, snapshot) => (running = snapshot),
      onStepEnd: (index, result) => {
        done.push(result);
        if (onProgress && process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
        process.stdout.write(`${stepLine(index, count, ladder.ratesPerSec[index] as number, result)}\n`);
      },
    },
  );
  interrupts.onQuitNow(() => writeLadderNow(outcome, files));
  const last = outcome.steps[outcome.steps.length - 1];
  if (flags.summaryOfLast && last) {
    process.stdout.write(
      `\nThe last step (${last.ratePerSec} req/s) in full:\n${formatSummary(last.result)}\n`,
    );
  }
  const table = ladderTable(outcome.steps);
  process.stdout.write(`\nBaseline Results\n\n${table}\n\n`);
  const saturated = outcome.steps.find((step) => step.ratePerSec === outcome.saturatedAtPerSec);
  const target = `${base.targetUrl.protocol}//${base.targetUrl.host}`;
  const neverReached = outcome.unreachable !== undefined && outcome.steps.length === 1;
  if (outcome.unreachable) {
    process.stderr.write(
      `load-test: error: --target ${target}: unreachable at ${outcome.unreachable.ratePerSec} req/s ` +
        `(${outcome.unreachable.reason}); the ladder stopped there\n`,
    );
  }
  process.stdout.write(
    neverReached
      ? "Saturation: not measured (the target was unreachable)\n"
      : saturated
        ? `Saturation: from ${saturated.ratePerSec} req/s on, no step was within target (${saturated.result.verdict.level}: ` +
          `${saturated.result.verdict.checks
            .filter((check) => check.level !== "target")
            .map((check) => check.message)
            .join("; ")})\n`
        : `Saturation: not reached (the highest step was within target)\n`,
  );
  const { capacity } = outcome;
  process.stdout.write(
    `${capacity.message}: ${capacity.level ?? "not judged"} (${CAPACITY_EXPECTED}; --nodes ${capacity.nodes})\n`,
  );
  const markdownWritten = await writeOutput(outputs.markdown, (markdown) =>
    writeFileAtomic(markdown, `${table}\n`),
  );
  const outWritten = await writeOutput(outputs.out, async (out) => {
    await writeJsonFile(out, ladderDocument(outcome, table));
    process.stderr.write(`results written to ${out.path}\n`);
  });
  if (outcome.interrupted) return EXIT_CODES.interrupted;
  if (!(markdownWritten && outWritten)) return EXIT_CODES.writeFailed;
  // A ladder is meant to find saturation, so a critical top step is not a failure. It fails when
  // even the first step is critical, or when any step let a security or policy probe through.
  const policyFailed = outcome.steps.some((step) =>
    step.result.verdict.checks.some(
      (check) =>
        (check.name === "correctness_security" || check.name === "correctness_policy") &&
        check.level === "critical",
    ),
  );
  // An unreachable target is critical, as for a single run (README "Exit codes").
  const firstCritical = outcome.steps[0]?.result.verdict.level === "critical";
  return policyFailed || firstCritical || outcome.unreachable ? EXIT_CODES.critical : EXIT_CODES.ok;
}

/** `load-test fly`: one line suggesting the nearest command, exit 2 (cli/unknown-command.ts). */
function refuseUnknownCommand(program: Command, argument: string): void {
  const commands = program.commands.map((sub) => sub.name());
  if (commands.includes(argument)) return;
  const unknown = unknownCommandMessage(argument, commands, existsSync(argument));
  if (unknown) fail(unknown, EXIT_CODES.invalidInput);
}

export function buildProgram(): Command {
  const program = new Command("load-test")
    .description("Policy-aware open-loop HTTP load testing (P50/P95/P99, block rate, correctness, verdict)")
    .version(VERSION)
    .showHelpAfterError("(run load-test --help for usage)")
    // Options after a subcommand belong to it (`load-test demo --duration 5s`).
    .enablePositionalOptions();
  const runAction = async (
    profilePath: string | undefined,
    flags: CliRunFlags,
    command: Command,
  ): Promise<void> => {
    if (profilePath !== undefined) {
      refuseUnknownCommand(program, profilePath);
      process.exitCode = await executeProfile(profilePath, command);
      return;
    }
    const options = validate(flags);
    process.exitCode = await executeRun(options, {
      out: output("--out", flags.out),
      markdown: output("--markdown", flags.markdown),
      hdrLog: output("--hdr-log", flags.hdrLog),
      quiet: flags.quiet,
      prometheus: prometheusOptions({ ...flags, labels: flags.label }),
    });
  };
  addRunOptions(
    program.argument("[profile]", "a profile file (.yaml, .yml, .json): docs/PROFILES.md"),
  ).action(runAction);
  addRunOptions(
    program
      .command("run")
      .description("run a load test (same as the flags on load-test itself)")
      .argument("[profile]", "a profile file (.yaml, .yml, .json): docs/PROFILES.md"),
  ).action(runAction);
  addRunOptions(
    program
      .command("ladder")
      .description("run the spec's 'Start small' steps back to back and print its Baseline Results table"),
    { withRate: false },
  )
    .option("--rates <list>", "asked rates, one step each", "10,50,100,200,500")
    .option("--step <d>", "duration of each step", "60s")
    .option("--pause <d>", "quiet time between steps", "2s")
    .action(async (flags: LadderFlags) => {
      // The ladder writes --out and --markdown only; an export flag would be a file never written.
      const exportFlag = (
        [
          ["--prometheus-file", flags.prometheusFile],
          ["--pushgateway", flags.pushgateway],
          ["--metrics-listen", flags.metricsListen],
        ] as const
      ).find(([, value]) => value !== undefined)?.[0];
      if (exportFlag)
        fail(
          `${exportFlag}: not supported by ladder (each step is a run of its own: use load-test --rps N ${exportFlag} …)`,
          EXIT_CODES.invalidInput,
        );
      const ratesPerSec = parseRates(flags.rates);
      const stepMs = parseDurationFlag("--step", flags.step, false);
      const pauseMs = parseDurationFlag("--pause", flags.pause, true);
      const base = validate(
        { ...flags, rps: String(Math.max(...ratesPerSec)), duration: flags.step },
        "--rates",
      );
      process.exitCode = await executeLadder(base, { ratesPerSec, stepMs, pauseMs }, flags);
    });
  program
    .command("serve")
    .description("start the reference policy gateway (POST /v1/execute, /health, /metrics)")
    .option("--port <port>", "port to listen on (0 = any free port)", "8080")
    .option("--host <host>", "address to bind (loopback by default)", "127.0.0.1")
    .option("--llm-latency <min..max>", "latency range of the mock LLM provider", "200ms..2s")
    .option(
      "--http-server <kind>",
      `HTTP/1.1 server underneath: node (node:http) or lean (llhttp on raw sockets, less CPU per request)`,
      DEFAULT_HTTP_SERVER,
    )
    .option("--list-policies", "print the policy table and exit")
    .action(async (flags) => {
      await serveCommand(flags);
    });
  program
    .command("demo")
    .description(
      "start the reference gateway on a loopback port and run the spec's 'Start small' steps against it (mixed category)",
    )
    .option("--rates <list>", "asked rates, one step each", "10,50,100,200")
    .option("--step <d>", "duration of each step", "8s")
    .option("--pause <d>", "quiet time between steps", "1s")
    .option("--warmup <d>", "unrecorded warm-up before the first step", "2s")
    .option("--markdown <file>", "also write the table as Markdown")
    .option("--llm-latency <min..max>", "latency range of the mock LLM provider", "200ms..2s")
    .option(
      "--threads <n>",
      "worker threads sending requests; default one per core minus one for the gateway",
    )
    .option("--out <file>", "write the results as JSON (the ladder form, see docs/RESULTS.md)")
    .option("--quiet", "no live progress, only the summary")
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demoCommand(flags);
    });
  return program;
}

async function main(): Promise<void> {
  onParentDeath(() => quitNow("the process that started this one has ended"));
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const command of program.commands) command.exitOverride();
  // Before commander, which would first refuse the mistyped command's own flags (`sevre --port 0`).
  const first = process.argv[2];
  // `load-test help [command]` as git and npm read it: the usage, not a profile named "help".
  if (first === "help") process.argv.splice(2, 2, ...(process.argv[3] ? [process.argv[3]] : []), "--help");
  else if (first !== undefined) refuseUnknownCommand(program, first);
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; every parse error is invalid input.
      process.exit(error.exitCode === 0 ? 0 : EXIT_CODES.invalidInput);
    }
    process.stderr.write(`load-test: internal error: ${(error as Error).message}\n`);
    process.exit(EXIT_CODES.internalError);
  }
  process.exit(process.exitCode ?? 0);
}

void main();
