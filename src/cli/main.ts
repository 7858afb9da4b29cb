#!/usr/bin/env node
/**
 * The command line: argv -> resolved options (config/resolve.ts) -> run -> reporters -> exit
 * code. The only module that touches process, argv, console and exit (docs/ARCHITECTURE.md).
 */
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { parseRunId, shardFromEnvironment } from "../distributed/flags.js";
import { k8sManifests } from "../distributed/k8s.js";
import { basename } from "node:path";
import { readFileSync } from "node:fs";
import { stringify as stringifyYaml } from "yaml";
import { parseWholeNumber } from "../config/numbers.js";
import { MergeError } from "../distributed/merge.js";
import { mergeFiles } from "../distributed/merge-files.js";
import { setFlagsFromString } from "node:v8";
import { Command, CommanderError } from "commander";
import { InputError, type RunOptions } from "../config/options.js";
import { loadProfile, type LoadedProfile } from "../config/profile.js";
import {
  addRunOptions,
  output,
  parseDurationFlag,
  parseLatencyRange,
  parseLlmConcurrency,
  parsePort,
  resolveDemo,
  resolveLadder,
  resolveProfile,
  resolveRun,
  type CliRunFlags,
  type DemoFlags,
  type LadderFlags,
  type ResolvedCommand,
  type ResolvedLadder,
  type ResolvedPhases,
  type ResolvedRun,
} from "../config/resolve.js";
import type { ProfileCliFlags } from "../config/resolve-profile.js";
import { ladderOutcome, runLadder } from "../engine/ladder.js";
import { prepareRun, type RunHooks } from "../engine/run.js";
import { systemClock } from "../engine/clock.js";
import {
  DEFAULT_LOST_AFTER,
  DEFAULT_REGISTER_TIMEOUT,
  MIN_LOST_AFTER_MS,
  parseCoordinatorDuration,
  parseCoordinatorUrl,
  parseListen,
  parseShardCount,
} from "../distributed/coordinate-flags.js";
import { Fleet, RegistrationError } from "../distributed/fleet.js";
import { RemoteDriver, remoteInput } from "../distributed/remote-driver.js";
import { runRemoteShard } from "../distributed/remote-shard.js";
import { parseShard } from "../distributed/flags.js";
import { documentCritical, EXIT_CODES, exitCodeOf } from "../evaluate/exit-codes.js";
import { ladderDocument, phasesDocument } from "../metrics/documents.js";
import type { ResultsDocument, RunResult } from "../metrics/result.js";
import { ladderTable } from "../report/markdown.js";
import { Reporters, type Reporter, type RunStart, type Streams } from "../report/reporter.js";
import { HdrLogReporter } from "../report/reporters/hdr-log.js";
import { HtmlReporter } from "../report/reporters/html.js";
import { DashboardReporter } from "../report/reporters/dashboard.js";
import { defaultReportPath, writeReportFile } from "../report/html/report-file.js";
import { checkOutputPaths, OutputWriteError, writeFileAtomic } from "../report/output-file.js";
import { ResultsFileError } from "../metrics/results-file.js";
import { InvalidHistogramError, MissingHistogramsError } from "../metrics/result-histograms.js";
import { writeJsonFile } from "../report/json.js";
import { htmlReport, loadedRun } from "../report/html/report.js";
import { formatSummary } from "../report/terminal.js";
import { JsonReporter } from "../report/reporters/json.js";
import { MarkdownReporter } from "../report/reporters/markdown.js";
import { MonitorReporter } from "../report/reporters/monitor.js";
import { PrometheusReporter } from "../report/reporters/prometheus.js";
import { TerminalReporter } from "../report/reporters/terminal.js";
import { formatPolicyTable } from "../gateway/policies.js";
import { ArchiveReporter } from "../report/reporters/archive.js";
import { CompareReporter } from "../report/reporters/compare.js";
import { compareCommand, historyCommand, type CompareFlags, type HistoryFlags } from "./workflow.js";
import {
  DEFAULT_HTTP_SERVER,
  DEFAULT_LLM_CONCURRENCY,
  HTTP_SERVER_KINDS,
  startGateway,
  type HttpServerKind,
} from "../gateway/gateway.js";
import { startGatewayProcess } from "./gateway-process.js";
import { unknownCommandMessage } from "./unknown-command.js";
import { hasNodeFlags, NODE_FLAGS } from "./node-flags.js";
import { interruptSignal, quitNow, writeStderr, writeStdout, type InterruptSession } from "./interrupts.js";
import { onParentDeath } from "./parent-watch.js";
import { asInterrupted, quitSnapshot } from "../metrics/documents.js";

const VERSION = "0.1.0";

function fail(message: string, code: number): never {
  process.stderr.write(`load-test: error: ${message}\n`);
  process.exit(code);
}

/** Runs `resolve` and turns a bad value into one line naming its flag, exit 2. */
function resolved<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/** The reporters' streams: this process's stdout and stderr. */
const STREAMS: Streams = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  outNow: writeStdout,
  errNow: writeStderr,
  get isTTY() {
    return process.stderr.isTTY === true;
  },
};

/** `--shard`, or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX with LOAD_TEST_SHARDS. */
function withShardFromEnv<T extends CliRunFlags>(flags: T): T {
  if (flags.shard !== undefined) return flags;
  const shard = shardFromEnvironment(process.env);
  return shard === undefined ? flags : { ...flags, shard };
}

/** Short, unique per run: the Pushgateway grouping key and the `run_id` label. */
function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}-${randomUUID().slice(0, 8)}`;
}

/** Every output the command asked for, as reporters, in the order they act at each moment. */
function reportersFor(command: ResolvedCommand, given?: MonitorReporter): Reporters {
  const { outputs } = command;
  // First: its run end adds the target's series and warnings before any other reporter shows them.
  const monitor = given ?? (outputs.monitor ? new MonitorReporter(outputs.monitor) : undefined);
  const list: Reporter[] = [
    ...(monitor ? [monitor] : []),
    new TerminalReporter(STREAMS, {
      quiet: outputs.quiet,
      summaryOfLast: command.kind === "ladder" && command.summaryOfLast,
      ...(monitor ? { targetLive: monitor.live } : {}),
    }),
  ];
  if (outputs.prometheus)
    list.push(new PrometheusReporter(outputs.prometheus, outputs.prometheusFile, STREAMS, outputs.quiet));
  if (outputs.hdrLog) list.push(new HdrLogReporter(outputs.hdrLog, STREAMS));
  if (outputs.out) list.push(new JsonReporter(outputs.out, STREAMS));
  if (outputs.markdown)
    list.push(new MarkdownReporter(outputs.markdown, command.kind === "run" ? command.note : ""));
  if (outputs.html) list.push(new HtmlReporter(outputs.html, STREAMS, outputs.labels));
  if (outputs.dashboard) list.push(new DashboardReporter(outputs.dashboard, STREAMS, outputs.labels));
  // After the interval log's reporter: the archive copies the log once it is closed.
  if (outputs.archive)
    list.push(
      new ArchiveReporter(
        { ...outputs.archive, cwd: process.cwd(), toolVersion: VERSION, hdrLogPath: outputs.hdrLog?.path },
        STREAMS,
      ),
    );
  if (outputs.compareTo)
    list.push(new CompareReporter(outputs.compareTo.paths, outputs.compareTo.options, STREAMS));
  return new Reporters(list, STREAMS);
}

/** Output paths checked and files opened before anything is sent: exit 2 naming the flag. */
async function openReporters(reporters: Reporters): Promise<void> {
  try {
    await reporters.checkOutputs();
    await reporters.open();
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/** How a command's runs are named and what it writes when it must quit now. */
interface RunSlot {
  kind: RunStart["kind"];
  title: string;
  index: number;
  count: number;
  /** The command's document with this run's live (interrupted) result as its last run. */
  documentWith(live: RunResult): ResultsDocument;
}

/**
 * One run of a command (the run, a phase, a ladder step): prepared, announced to the reporters,
 * probed, run, and its result handed to every reporter. A forced quit meanwhile writes the
 * command's document with this run as far as it got.
 */
async function runOnce(
  options: RunOptions,
  slot: RunSlot,
  reporters: Reporters,
  interrupts: InterruptSession,
  driver?: RunHooks["driver"],
): Promise<RunResult> {
  const prepared = prepareRun(options, {
    ...(driver ? { driver } : {}),
    signal: interrupts.signal,
    onProgress: reporters.wantsProgress ? (progress) => reporters.progress(progress, run) : undefined,
    intervals: reporters.intervals,
  });
  const run: RunStart = {
    kind: slot.kind,
    title: slot.title,
    index: slot.index,
    count: slot.count,
    options,
    runId: options.runId ?? newRunId(),
    snapshot: prepared.snapshot,
  };
  interrupts.onQuitNow(() => reporters.quitNow(slot.documentWith(quitSnapshot(prepared.snapshot()))));
  try {
    await reporters.runStart(run);
  } catch (error) {
    // An exporter that cannot start (a port in use) stops the command before anything is sent.
    fail(error instanceof Error ? error.message : String(error), EXIT_CODES.invalidInput);
  }
  warnIfMemoryReducerOn(options.warmupMs + options.durationMs);
  // One preflight connection: a server that does not speak what --http2/--h2c/--http1 demand
  // stops the run here, with one line naming the flag (anything else is measured by the run).
  const probe = await prepared.probe();
  if (!probe.ok && probe.flag !== "--target") fail(probe.message, EXIT_CODES.invalidInput);
  const result = await prepared.start();
  // The signal handlers stay until the process exits: quitting now writes the final result.
  interrupts.onQuitNow(() => reporters.quitNow(slot.documentWith(asInterrupted(result))));
  await reporters.runResult(result, run);
  return result;
}

/** Hands the command's document to every reporter, closes them, and applies the one exit-code rule. */
async function finishCommand(reporters: Reporters, document: ResultsDocument): Promise<number> {
  await reporters.finish(document);
  await reporters.close();
  const { writeFailed, exportFailed, regression } = reporters.failures;
  return exitCodeOf({
    interrupted: document.interrupted,
    // `--compare-to`: a regression fails as a critical verdict does ("deploy only if passing").
    critical: documentCritical(document) || regression,
    writeFailed,
    exportFailed,
  });
}

/** `load-test --rps …`, or a profile with one phase; `driver`: `coordinate`'s shard processes. */
async function executeRun(command: ResolvedRun, driver?: RunHooks["driver"]): Promise<number> {
  const reporters = reportersFor(command);
  await openReporters(reporters);
  tuneHeapForLoad();
  const interrupts = interruptSignal();
  const slot: RunSlot = {
    kind: "run",
    title: command.title,
    index: 0,
    count: 1,
    documentWith: (live) => live,
  };
  const result = await runOnce(command.options, slot, reporters, interrupts, driver);
  return finishCommand(reporters, result);
}

/** `load-test run profile.yaml` with phases: every phase in order, each reported on its own. */
async function executePhases(command: ResolvedPhases): Promise<number> {
  const reporters = reportersFor(command);
  await openReporters(reporters);
  tuneHeapForLoad();
  const interrupts = interruptSignal();
  const done: Array<{ name: string; result: RunResult }> = [];
  const count = command.phases.length;
  for (const [index, phase] of command.phases.entries()) {
    const before = [...done];
    const slot: RunSlot = {
      kind: "phases",
      title: `phase ${index + 1}/${count} "${phase.name}"`,
      index,
      count,
      documentWith: (live) => phasesDocument([...before, { name: phase.name, result: live }], true),
    };
    const result = await runOnce(phase.options, slot, reporters, interrupts);
    done.push({ name: phase.name, result });
    if (result.interrupted) break;
    if (phase.pauseAfterMs > 0 && index < count - 1) {
      if (!command.outputs.quiet)
        process.stderr.write(`pause ${phase.pauseAfterMs / 1000}s after "${phase.name}"\n`);
      await new Promise((resolve) => setTimeout(resolve, phase.pauseAfterMs));
    }
  }
  // Quitting now from here on writes the phases with the last one marked interrupted (runOnce).
  const interrupted = done.some(({ result }) => result.interrupted);
  return finishCommand(reporters, phasesDocument(done, interrupted));
}

/** `load-test ladder` and `demo`: the methodology's "Start small" steps, then the Baseline Results table. */
/** `opened`: reporters already checked and opened (demo opens them before its gateway starts). */
async function executeLadder(command: ResolvedLadder, opened?: Reporters): Promise<number> {
  const reporters = opened ?? reportersFor(command);
  if (!opened) await openReporters(reporters);
  tuneHeapForLoad();
  const interrupts = interruptSignal();
  const { ratesPerSec, stepMs } = command;
  const done: RunResult[] = [];
  const documentOf = (results: readonly RunResult[], interrupted: boolean) => {
    const outcome = ladderOutcome(ratesPerSec, stepMs, results, interrupted);
    return ladderDocument(outcome, ladderTable(outcome.steps));
  };
  const outcome = await runLadder(
    { base: command.base, ratesPerSec, stepMs, pauseMs: command.pauseMs },
    {
      signal: interrupts.signal,
      runStep: async (options, index) => {
        const slot: RunSlot = {
          kind: "ladder",
          title: command.title,
          index,
          count: ratesPerSec.length,
          documentWith: (live) => documentOf([...done.slice(0, index), live], true),
        };
        const result = await runOnce(options, slot, reporters, interrupts);
        done[index] = result;
        return result;
      },
    },
  );
  const document = ladderDocument(outcome, ladderTable(outcome.steps));
  interrupts.onQuitNow(() => reporters.quitNow(document));
  return finishCommand(reporters, document);
}

function execute(command: ResolvedCommand): Promise<number> {
  if (command.kind === "run") return executeRun(command);
  if (command.kind === "phases") return executePhases(command);
  return executeLadder(command);
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

/**
 * `load-test demo`: the reference gateway in a child process, then the methodology's "Start
 * small" steps against it (shortened to finish in under a minute), ending with the Baseline table.
 */
async function demoCommand(flags: DemoFlags): Promise<number> {
  // Every flag is validated, and every output path checked, before the gateway starts.
  // The reporters depend on the outputs only, not on the target: opened once (a dashboard binds its port once).
  // The monitor is among them from the start (the live line reads it) but starts reading only
  // once the gateway's URL is known: the placeholder target is never scraped.
  const monitor = flags.monitor === false ? undefined : new MonitorReporter();
  const reporters = reportersFor(
    resolved(() => resolveDemo({ ...flags, monitor: false })),
    monitor,
  );
  await openReporters(reporters);
  const gateway = await startGatewayProcess(flags.llmLatency);
  try {
    const command = resolved(() => resolveDemo(flags, gateway.url));
    if (monitor && command.outputs.monitor) await monitor.begin(command.outputs.monitor);
    process.stderr.write(`demo: reference gateway (pid ${gateway.pid}) listening on ${gateway.url}\n`);
    return await executeLadder(command, reporters);
  } finally {
    await gateway.stop();
  }
}

/** Only the flags the user typed, so defaults and env fallbacks never override a profile (docs/PROFILES.md). */
function typedFlags(command: Command): ProfileCliFlags {
  const typed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(command.opts())) {
    if (command.getOptionValueSource(key) === "cli") typed[key] = value;
  }
  return typed as ProfileCliFlags;
}

/** The profile at `path`; a problem with it ends the command as one line (exit 2). */
async function profileOrFail(path: string): Promise<LoadedProfile> {
  try {
    return await loadProfile(path);
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
}

/** `load-test run profile.yaml`: the profile under the typed flags, then its run or phases. */
async function executeProfile(path: string, command: Command): Promise<number> {
  const loaded = await profileOrFail(path);
  return execute(
    resolved(() =>
      resolveProfile(loaded, typedFlags(command), withShardFromEnv(command.opts<CliRunFlags>())),
    ),
  );
}

async function serveCommand(flags: {
  port: string;
  host: string;
  listPolicies?: boolean;
  llmLatency: string;
  httpServer: string;
  llmConcurrency: string;
  log?: string;
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
    port: resolved(() => parsePort(flags.port)),
    llmLatencyMs: resolved(() => parseLatencyRange(flags.llmLatency)),
    httpServer: flags.httpServer as HttpServerKind,
    llmConcurrency: resolved(() => parseLlmConcurrency(flags.llmConcurrency)),
    ...(flags.log !== undefined ? { logFile: flags.log } : {}),
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

interface CoordinateFlags extends CliRunFlags {
  shards: string;
  listen: string;
  registerTimeout: string;
  lostAfter: string;
}

/** A line about the fleet on stderr, clear of the live progress line. */
function fleetLine(line: string): void {
  process.stderr.write(`${process.stderr.isTTY ? "\r\x1b[2K" : ""}load-test: ${line}\n`);
}

/**
 * `load-test coordinate [profile] --shards N --listen HOST:PORT` (docs/DISTRIBUTED.md "The
 * coordinator"): the run controller drives N shard processes (`--coordinator URL`) as it drives
 * threads; every output, the live line, aborts, Ctrl-C and the exit code are a run's.
 */
async function coordinateCommand(
  profilePath: string | undefined,
  flags: CoordinateFlags,
  command: Command,
): Promise<number> {
  for (const [key, flag] of [
    ["shard", "--shard"],
    ["threads", "--threads"],
  ] as const)
    if (command.getOptionValueSource(key) === "cli")
      fail(
        `${flag}: the coordinator gives each shard its stripe and runs one thread per shard; start more shards instead`,
        EXIT_CODES.invalidInput,
      );
  const shards = resolved(() => parseShardCount(flags.shards));
  const listen = resolved(() => parseListen(flags.listen));
  const registerTimeoutMs = resolved(() =>
    parseCoordinatorDuration("--register-timeout", flags.registerTimeout, 1000),
  );
  const lostAfterMs = resolved(() =>
    parseCoordinatorDuration("--lost-after", flags.lostAfter, MIN_LOST_AFTER_MS),
  );
  let resolvedCommand: ResolvedCommand;
  if (profilePath !== undefined) {
    const loaded = await profileOrFail(profilePath);
    resolvedCommand = resolved(() =>
      resolveProfile(loaded, typedFlags(command), { ...flags, coordinatedShards: shards }),
    );
  } else resolvedCommand = resolved(() => resolveRun({ ...flags, coordinatedShards: shards }));
  if (resolvedCommand.kind !== "run")
    fail(
      `coordinate runs one phase; this profile has ${resolvedCommand.kind === "phases" ? resolvedCommand.phases.length : "several"} phases: give each phase its own profile`,
      EXIT_CODES.invalidInput,
    );
  // One run id for the results and the Pushgateway's grouping key (the shards do not push).
  const options = { ...resolvedCommand.options, runId: resolvedCommand.options.runId ?? newRunId() };
  const fleet = await Fleet.listen({
    shards,
    ...listen,
    registerTimeoutMs,
    lostAfterMs,
    inputFor: (shard) => remoteInput(options, shard),
    onEvent: fleetLine,
  }).catch((error: unknown) => {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  });
  fleetLine(
    `coordinator listening on ${fleet.url} for ${shards} shard${shards > 1 ? "s" : ""} (run id ${options.runId}): start each with load-test run --coordinator ${fleet.url}`,
  );
  try {
    return await executeRun(
      { ...resolvedCommand, options },
      (runOptions, categories, signal) =>
        new RemoteDriver(runOptions, fleet, systemClock, categories, signal, fleetLine),
    );
  } catch (error) {
    if (error instanceof RegistrationError) {
      await fleet.close();
      fail(error.message, error.interrupted ? EXIT_CODES.interrupted : EXIT_CODES.invalidInput);
    }
    throw error;
  } finally {
    await fleet.close();
  }
}

/** The only run flags a shard of a coordinated run takes: the coordinator sends the rest. */
const REMOTE_SHARD_FLAGS = new Set(["coordinator", "shard", "registerTimeout", "quiet"]);

/** `load-test run --coordinator URL` (docs/DISTRIBUTED.md "The coordinator"). */
async function remoteShardCommand(
  profilePath: string | undefined,
  flags: CliRunFlags & { coordinator: string; registerTimeout?: string },
  command: Command,
): Promise<number> {
  if (profilePath !== undefined)
    fail(
      `--coordinator: a shard takes the run from its coordinator; give the profile to load-test coordinate`,
      EXIT_CODES.invalidInput,
    );
  for (const option of command.options) {
    const key = option.attributeName();
    if (command.getOptionValueSource(key) === "cli" && !REMOTE_SHARD_FLAGS.has(key))
      fail(
        `${option.long ?? key}: a shard takes the run from its coordinator (--coordinator); give ${option.long ?? key} to load-test coordinate`,
        EXIT_CODES.invalidInput,
      );
  }
  const url = resolved(() => parseCoordinatorUrl(flags.coordinator));
  const shard = flags.shard === undefined ? undefined : resolved(() => parseShard(flags.shard as string));
  const registerTimeoutMs = resolved(() =>
    parseCoordinatorDuration("--register-timeout", flags.registerTimeout ?? DEFAULT_REGISTER_TIMEOUT, 1000),
  );
  const interrupts = interruptSignal();
  const quiet = flags.quiet === true;
  const outcome = await runRemoteShard({
    url,
    ...(shard ? { shard } : {}),
    registerTimeoutMs,
    signal: interrupts.signal,
    onEvent: (line) => {
      if (!quiet) fleetLine(line);
    },
  });
  interrupts.release();
  switch (outcome.kind) {
    case "done":
      if (!quiet) fleetLine("the coordinator ended the run; its results are the coordinator's");
      return EXIT_CODES.ok;
    case "interrupted":
      return EXIT_CODES.interrupted;
    case "refused":
      fail(outcome.message, EXIT_CODES.invalidInput);
    // falls through: fail() does not return
    case "lost":
      fail(outcome.message, EXIT_CODES.internalError);
  }
}

/** `load-test fly`: one line suggesting the nearest command, exit 2 (cli/unknown-command.ts). */
function refuseUnknownCommand(program: Command, argument: string): void {
  const commands = program.commands.map((sub) => sub.name());
  if (commands.includes(argument)) return;
  const unknown = unknownCommandMessage(argument, commands, existsSync(argument));
  if (unknown) fail(unknown, EXIT_CODES.invalidInput);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
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
    flags: CliRunFlags & { coordinator?: string; registerTimeout?: string },
    command: Command,
  ): Promise<void> => {
    if (flags.coordinator !== undefined) {
      process.exitCode = await remoteShardCommand(
        profilePath,
        { ...withShardFromEnv(flags), coordinator: flags.coordinator },
        command,
      );
      return;
    }
    if (profilePath !== undefined) {
      refuseUnknownCommand(program, profilePath);
      process.exitCode = await executeProfile(profilePath, command);
      return;
    }
    process.exitCode = await execute(resolved(() => resolveRun(withShardFromEnv(flags))));
  };
  addShardOfCoordinatorOptions(
    addRunOptions(program.argument("[profile]", "a profile file (.yaml, .yml, .json): docs/PROFILES.md")),
  ).action(runAction);
  addShardOfCoordinatorOptions(
    addRunOptions(
      program
        .command("run")
        .description("run a load test (same as the flags on load-test itself)")
        .argument("[profile]", "a profile file (.yaml, .yml, .json): docs/PROFILES.md"),
    ),
  ).action(runAction);
  addRunOptions(
    program
      .command("ladder")
      .description(
        "run the methodology's 'Start small' steps back to back and print its Baseline Results table",
      ),
    { withRate: false },
  )
    .option("--rates <list>", "asked rates, one step each", "10,50,100,200,500")
    .option("--step <d>", "duration of each step", "60s")
    .option("--pause <d>", "quiet time between steps", "2s")
    .action(async (flags: LadderFlags) => {
      process.exitCode = await execute(resolved(() => resolveLadder(flags)));
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
    .option(
      "--llm-concurrency <n>",
      "completions the mock LLM provider answers at once (its pool; /metrics shows in use against it)",
      String(DEFAULT_LLM_CONCURRENCY),
    )
    .option("--log <file>", "append an access and error log (one line per request, ERROR for 5xx)")
    .option("--list-policies", "print the policy table and exit")
    .action(async (flags) => {
      await serveCommand(flags);
    });
  program
    .command("demo")
    .description(
      "start the reference gateway on a loopback port and run the methodology's 'Start small' steps against it (mixed category)",
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
    .option("--html <file>", "write a self-contained HTML report with charts (docs/REPORTS.md)")
    .option(
      "--dashboard [host:port]",
      "serve the report live during the demo (default 127.0.0.1:5665; the URL is printed at start)",
    )
    .option("--quiet", "no live progress, only the summary")
    .option("--no-monitor", "do not scrape the gateway's /metrics (the summary's Target block)")
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demoCommand(flags);
    });
  program
    .command("report")
    .description(
      "turn a results file (--out: a run, a profile's phases or a ladder) into a self-contained HTML report",
    )
    .argument("<results>", "a results file written by --out (docs/RESULTS.md)")
    .option("-o, --output <file>", "where to write the report (default: the results file's name with .html)")
    .action(async (resultsPath: string, flags: { output?: string }) => {
      process.exitCode = await reportCommand(resultsPath, flags.output);
    });
  program
    .command("merge")
    .description("merge the results files of the shards of one run exactly (docs/DISTRIBUTED.md)")
    .argument("<shards...>", "the shards' results files (--out of each --shard K/N run)")
    .option("--out <file>", "write the merged results as JSON (docs/RESULTS.md)")
    .option("--html <file>", "write the merged run as a self-contained HTML report")
    .option("--allow-partial", "merge even when shards are missing; the result is marked partial")
    .action(async (paths: string[], flags: { out?: string; html?: string; allowPartial?: boolean }) => {
      process.exitCode = await mergeCommand(paths, flags);
    });
  addRunOptions(
    program
      .command("coordinate")
      .description(
        "coordinate a live sharded run: shards started with --coordinator URL send one schedule, merged live (docs/DISTRIBUTED.md)",
      )
      .argument("[profile]", "a profile file (.yaml, .yml, .json): docs/PROFILES.md"),
  )
    .requiredOption(
      "--shards <n>",
      "how many shard processes take part (each registers with --coordinator URL)",
    )
    .requiredOption(
      "--listen <host:port>",
      "where the coordinator listens for its shards (e.g. 0.0.0.0:7070)",
    )
    .option("--register-timeout <d>", "how long the shards have to register", DEFAULT_REGISTER_TIMEOUT)
    .option(
      "--lost-after <d>",
      "a shard silent this long is lost (named; the result is partial)",
      DEFAULT_LOST_AFTER,
    )
    .action(async (profilePath: string | undefined, flags: CoordinateFlags, command: Command) => {
      process.exitCode = await coordinateCommand(profilePath, flags, command);
    });
  program
    .command("k8s")
    .description("print Kubernetes manifests for a sharded run of a profile (docs/DISTRIBUTED.md)")
    .argument("<profile>", "the profile every shard runs (.yaml, .yml, .json): docs/PROFILES.md")
    .requiredOption("--shards <n>", "shard pods (an Indexed Job, one pod per shard)")
    .option("--image <image>", "the load-test image (Dockerfile)", "load-test:latest")
    .option("--namespace <ns>", "namespace of the ConfigMap and the Job", "default")
    .option("--run-id <id>", "the run id shared by every shard (default: a new one)")
    .option("--start-in <d>", "the shared start: this long after now (pods must be running by then)", "3m")
    .option("--cpu <quantity>", "CPU request and limit per shard pod", "1")
    .option("--memory <quantity>", "memory request and limit per shard pod", "512Mi")
    .option(
      "--pushgateway <url>",
      "push to this Pushgateway: the coordinator (grouping key job, run_id), or without it every shard (and instance)",
    )
    .option(
      "--no-coordinator",
      "shards run on their own from one --start-at; merge their results files afterwards (load-test merge)",
    )
    .option(
      "--register-timeout <d>",
      "with the coordinator: how long the shard pods have to register",
      DEFAULT_REGISTER_TIMEOUT,
    )
    .action(async (profilePath: string, flags: K8sFlags) => {
      process.exitCode = await k8sCommand(profilePath, flags);
    });
  program
    .command("compare")
    .description(
      "compare a candidate results file with one or more baselines: exit 0 same or better, 3 regression, 2 cannot compare",
    )
    .argument("<files...>", "BASE.json… CANDIDATE.json (the last file is the candidate)")
    .option("--max-regression <pct>", "tolerated change before a latency or throughput row is judged", "10%")
    .option(
      "--min-change <d>",
      "smallest latency change ever judged (the noise floor's least value)",
      "0.5ms",
    )
    .option(
      "--html <file>",
      "also write the comparison as a self-contained HTML page (spectra and time series overlaid)",
    )
    .action(async (files: string[], flags: CompareFlags) => {
      process.exitCode = await compareCommand(files, flags);
    });
  program
    .command("history")
    .description("the runs an --archive DIR holds, newest first, and trends across runs of the same test")
    .argument("<dir>", "the archive directory")
    .option("--label <k=v>", "only runs with this label (repeatable: all must match)", collect)
    .option("--last <n>", "runs of each test read for trends", "5")
    .option(
      "--html <file>",
      "also write the history as a self-contained HTML page with a trend chart per test",
    )
    .action(async (dir: string, flags: HistoryFlags) => {
      process.exitCode = await historyCommand(dir, flags);
    });
  return program;
}

/** A shard of a coordinated run: `load-test run --coordinator URL` (docs/DISTRIBUTED.md). */
function addShardOfCoordinatorOptions(command: Command): Command {
  return command
    .option(
      "--coordinator <url>",
      "be a shard of `load-test coordinate` at this URL: register, take its run and stream results to it",
    )
    .option(
      "--register-timeout <d>",
      `with --coordinator: how long to keep trying to reach the coordinator (default ${DEFAULT_REGISTER_TIMEOUT})`,
    );
}

interface K8sFlags {
  shards: string;
  image: string;
  namespace: string;
  runId?: string;
  startIn: string;
  cpu: string;
  memory: string;
  pushgateway?: string;
  coordinator: boolean;
  registerTimeout: string;
}

/** `load-test k8s PROFILE --shards N`: the manifests as YAML documents on stdout. */
async function k8sCommand(profilePath: string, flags: K8sFlags): Promise<number> {
  let manifests;
  try {
    const shards = parseWholeNumber(flags.shards);
    if (shards === undefined || shards < 1)
      throw new InputError("--shards", `expected a whole number >= 1, got "${flags.shards}"`);
    const startInMs = parseDurationFlag("--start-in", flags.startIn, false);
    parseCoordinatorDuration("--register-timeout", flags.registerTimeout, 1000);
    const runId = parseRunId(flags.runId ?? newRunId().toLowerCase());
    await loadProfile(profilePath);
    manifests = k8sManifests({
      shards,
      profile: { name: basename(profilePath), text: readFileSync(profilePath, "utf8") },
      image: flags.image,
      namespace: flags.namespace,
      runId,
      startAt: new Date(Date.now() + startInMs).toISOString(),
      cpu: flags.cpu,
      memory: flags.memory,
      ...(flags.pushgateway ? { pushgateway: flags.pushgateway } : {}),
      coordinator: flags.coordinator,
      registerTimeout: flags.registerTimeout,
    });
  } catch (error) {
    if (error instanceof InputError) fail(error.message, EXIT_CODES.invalidInput);
    throw error;
  }
  process.stdout.write(manifests.map((manifest) => stringifyYaml(manifest)).join("---\n"));
  return EXIT_CODES.ok;
}

/** `load-test merge SHARD.json… [--out FILE] [--html FILE] [--allow-partial]`. */
async function mergeCommand(
  paths: string[],
  flags: { out?: string; html?: string; allowPartial?: boolean },
): Promise<number> {
  const out = output("--out", flags.out);
  const html = output("--html", flags.html);
  let merged: RunResult;
  try {
    await checkOutputPaths([out, html].filter((item) => item !== undefined));
    merged = await mergeFiles(paths, flags.allowPartial === true);
  } catch (error) {
    if (
      error instanceof InputError ||
      error instanceof MergeError ||
      error instanceof ResultsFileError ||
      error instanceof InvalidHistogramError ||
      error instanceof MissingHistogramsError
    )
      fail((error as Error).message, EXIT_CODES.invalidInput);
    throw error;
  }
  process.stdout.write(`${formatSummary(merged)}\n`);
  let writeFailed = false;
  try {
    if (out) {
      await writeJsonFile(out, merged);
      process.stderr.write(`results written to ${out.path}\n`);
    }
    if (html) {
      await writeFileAtomic(html, htmlReport(loadedRun(merged, out?.path ?? "merged")));
      process.stderr.write(`HTML report written to ${html.path}\n`);
    }
  } catch (error) {
    if (!(error instanceof OutputWriteError)) throw error;
    process.stderr.write(`${error.message}\n`);
    writeFailed = true;
  }
  return exitCodeOf({
    interrupted: false,
    writeFailed,
    critical: merged.verdict.level === "critical",
    exportFailed: false,
  });
}

/** `load-test report RESULTS.json [-o report.html]` (docs/REPORTS.md). */
async function reportCommand(resultsPath: string, outputPath: string | undefined): Promise<number> {
  const target = { flag: "--output", path: outputPath ?? defaultReportPath(resultsPath) };
  try {
    await checkOutputPaths([target]);
    await writeReportFile(resultsPath, target);
  } catch (error) {
    if (
      error instanceof InputError ||
      error instanceof ResultsFileError ||
      error instanceof InvalidHistogramError
    )
      fail(error.message, EXIT_CODES.invalidInput);
    if (error instanceof OutputWriteError) fail(error.message, EXIT_CODES.writeFailed);
    throw error;
  }
  process.stderr.write(`HTML report written to ${target.path}\n`);
  return EXIT_CODES.ok;
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
