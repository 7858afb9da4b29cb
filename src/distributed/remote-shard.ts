import { Agent, request as httpRequest, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { systemClock } from "../engine/clock.js";
import { Shard } from "../engine/shard.js";
import { fromWorkerOptions, type ShardReport } from "../engine/thread-protocol.js";
import type { ShardSpec } from "./flags.js";
import {
  PROTOCOL_VERSION,
  TICK_MS,
  TOKEN_HEADER,
  type Command,
  type ShardMessage,
} from "./remote-protocol.js";

/** The coordinator said nothing (not even its ping each second) for this long: it is gone. */
const COORDINATOR_SILENT_MS = 10_000;
/** Between two tries to reach a coordinator that is not listening yet (its pod still starting). */
const RETRY_MS = 1000;
/** One message to the coordinator may take this long before it is given up. */
const POST_TIMEOUT_MS = 5000;

export interface RemoteShardOptions {
  /** The coordinator's URL (`--coordinator http://host:port`). */
  url: URL;
  /** The stripe asked for (`--shard K/N`, an Indexed Job's index); absent: any free one. */
  shard?: ShardSpec;
  /** How long to keep trying to reach the coordinator (`--register-timeout`). */
  registerTimeoutMs: number;
  /** Ctrl-C: stop sending, hand the coordinator the last report, leave. */
  signal?: AbortSignal;
  /** Progress lines for the operator (the CLI prints them on stderr). */
  onEvent?(line: string): void;
}

/** How a shard process ended (the CLI turns it into an exit code: README "Exit codes"). */
export type RemoteShardOutcome =
  | { kind: "done" }
  | { kind: "interrupted" }
  /** The coordinator refused the registration (a stripe taken twice, not of this run): exit 2. */
  | { kind: "refused"; message: string }
  /** The coordinator could not be reached, went away or dropped this shard: exit 1. */
  | { kind: "lost"; message: string };

/**
 * `load-test run --coordinator URL`: what a worker thread does (engine/thread-worker.ts), in its
 * own process: register, build its stripe's shard from the run definition the coordinator sends,
 * follow its commands and post what its recorder measured each second (docs/DISTRIBUTED.md "The
 * coordinator"). Times arrive as wall-clock instants and are read against this process's clock.
 */
export async function runRemoteShard(options: RemoteShardOptions): Promise<RemoteShardOutcome> {
  const registered = await register(options);
  if ("kind" in registered) return registered;
  return new ShardSession(options, registered.stream).run();
}

/** POST /v1/register until the coordinator answers (or the registration time is over). */
async function register(
  options: RemoteShardOptions,
): Promise<
  { stream: IncomingMessage } | Extract<RemoteShardOutcome, { kind: "refused" | "lost" | "interrupted" }>
> {
  const deadlineMs = Date.now() + options.registerTimeoutMs;
  const body = JSON.stringify({
    version: PROTOCOL_VERSION,
    ...(options.shard ? { shard: options.shard } : {}),
  });
  let lastError: string;
  for (;;) {
    if (options.signal?.aborted) return { kind: "interrupted" };
    try {
      const response = await send(new URL("/v1/register", options.url), body, {}, undefined);
      if (response.statusCode === 200) return { stream: response };
      const text = await readText(response);
      return {
        kind: "refused",
        message: `coordinator ${options.url.origin} refused this shard: ${errorOf(text)}`,
      };
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() + RETRY_MS > deadlineMs)
      return {
        kind: "lost",
        message: `coordinator ${options.url.origin} not reachable within --register-timeout (${lastError})`,
      };
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

class ShardSession {
  private shard: Shard | undefined;
  private token = "";
  private spec: ShardSpec | undefined;
  private started = false;
  /** The coordinator said "close": from then on its stream ending is the run's end, not a loss. */
  private closing = false;
  private readonly warmUpAbort = new AbortController();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private ticker: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private finished: ((outcome: RemoteShardOutcome) => void) | undefined;
  private outcome: RemoteShardOutcome | undefined;

  constructor(
    private readonly options: RemoteShardOptions,
    private readonly stream: IncomingMessage,
  ) {}

  run(): Promise<RemoteShardOutcome> {
    const done = new Promise<RemoteShardOutcome>((resolve) => (this.finished = resolve));
    this.heard();
    const lines = createInterface({ input: this.stream, crlfDelay: Infinity });
    lines.on("line", (line) => {
      this.heard();
      let command: Command;
      try {
        command = JSON.parse(line) as Command;
      } catch {
        return;
      }
      this.handle(command).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.post({ type: "failed", message });
        // Past "close" nothing else will end the session: it ends here.
        if (this.closing)
          void this.sending.then(() => this.finish({ kind: "lost", message: `closing failed: ${message}` }));
      });
    });
    this.stream.on("close", () => {
      if (!this.closing) void this.leave({ kind: "lost", message: "the coordinator closed the connection" });
    });
    this.stream.on("error", () => undefined);
    const onAbort = (): void => void this.leave({ kind: "interrupted" });
    if (this.options.signal?.aborted) onAbort();
    this.options.signal?.addEventListener("abort", onAbort, { once: true });
    return done.finally(() => {
      this.options.signal?.removeEventListener("abort", onAbort);
      this.agent.destroy();
    });
  }

  private name(): string {
    return this.spec ? `shard ${this.spec.index}/${this.spec.count}` : "shard";
  }

  private heard(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(
      () =>
        void this.leave({
          kind: "lost",
          message: `the coordinator said nothing for ${COORDINATOR_SILENT_MS / 1000}s`,
        }),
      COORDINATOR_SILENT_MS,
    );
  }

  private report(): ShardReport {
    const shard = this.shard as Shard;
    return {
      delta: shard.recorder.drain(),
      stats: shard.stats(),
      loopDelay: shard.eventLoopDelayMs(),
      transport: shard.transportResult(),
      connections: shard.connectionState(),
    };
  }

  /** Clock ms of a wall-clock instant the coordinator gave. */
  private clockMsOf(epochMs: number): number {
    return systemClock.nowMs() + (epochMs - Date.now());
  }

  private async handle(command: Command): Promise<void> {
    if (this.outcome) return;
    if (command.type === "assign") {
      this.token = command.token;
      this.spec = command.shard;
      this.options.onEvent?.(`${this.name()} registered with the coordinator at ${this.options.url.origin}`);
      this.shard = new Shard(
        fromWorkerOptions(command.input.options),
        command.input.stripe,
        systemClock,
        "shard",
      );
      this.ticker = setInterval(
        () => this.post(this.started ? { type: "report", report: this.report() } : { type: "heartbeat" }),
        TICK_MS,
      );
      this.post({ type: "ready" });
      return;
    }
    const shard = this.shard;
    if (!shard) return;
    switch (command.type) {
      case "probe":
        this.post({ type: "probed", result: await shard.probe() });
        return;
      case "warmup":
        await shard.warmUp(this.warmUpAbort.signal, this.clockMsOf(command.atEpochMs));
        this.post({ type: "warmed" });
        return;
      case "start": {
        // A start that arrives late is kept from now (as a late --start-at is), not burst out.
        const t0Ms = this.clockMsOf(command.t0EpochMs);
        const lateMs = Math.round(systemClock.nowMs() - t0Ms);
        shard.start(lateMs > 0 ? systemClock.nowMs() : t0Ms);
        this.started = true;
        this.post({ type: "started", lateMs: Math.max(0, lateMs) });
        this.options.onEvent?.(`${this.name()} started${lateMs > 0 ? ` ${lateMs} ms late` : ""}`);
        void shard.whenIdle().then(() => this.post({ type: "idle" }));
        return;
      }
      case "stop":
        this.warmUpAbort.abort();
        shard.stop();
        return;
      case "close": {
        this.closing = true;
        if (this.ticker) clearInterval(this.ticker);
        const end = await shard.close();
        this.post({ type: "closed", report: this.report(), end });
        await this.sending;
        this.finish({ kind: "done" });
        return;
      }
      case "ping":
        return;
    }
  }

  /** Ends the session without the coordinator's "close": stop sending, say why if it can still hear. */
  private async leave(outcome: RemoteShardOutcome): Promise<void> {
    if (this.outcome) return;
    this.outcome = outcome;
    if (this.ticker) clearInterval(this.ticker);
    this.warmUpAbort.abort();
    const shard = this.shard;
    let end;
    if (shard) {
      shard.stop();
      end = await shard.close();
    }
    if (outcome.kind === "interrupted" && shard) {
      this.send({ type: "left", reason: "interrupted", report: this.report(), ...(end ? { end } : {}) });
      await this.sending;
    }
    this.stream.destroy();
    this.finish(outcome);
  }

  private finish(outcome: RemoteShardOutcome): void {
    this.outcome ??= outcome;
    if (this.ticker) clearInterval(this.ticker);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.stream.destroy();
    this.finished?.(this.outcome);
  }

  private post(message: ShardMessage): void {
    if (this.outcome) return;
    this.send(message);
  }

  /**
   * One message at a time, in order: a report posted before "closed" must not arrive after it.
   * A 403/410 means the coordinator dropped this shard (lost): it stops.
   */
  private send(message: ShardMessage): void {
    const url = new URL(`/v1/shards/${this.spec?.index ?? 0}/messages`, this.options.url);
    const body = JSON.stringify(message);
    this.sending = this.sending.then(async () => {
      try {
        const response = await send(url, body, { [TOKEN_HEADER]: this.token }, this.agent);
        const text = await readText(response);
        if (response.statusCode === 403 || response.statusCode === 410)
          void this.leave({
            kind: "lost",
            message: `the coordinator dropped this ${this.name()}: ${errorOf(text)}`,
          });
      } catch {
        // The coordinator unreachable for a moment: its stream's silence decides (COORDINATOR_SILENT_MS).
      }
    });
  }
}

function send(
  url: URL,
  body: string,
  headers: Record<string, string>,
  agent: Agent | undefined,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: "POST",
        agent: agent ?? false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...headers,
        },
      },
      resolve,
    );
    // Only until the answer's head: the registration's answer then stays open for the run.
    const timer = setTimeout(
      () => request.destroy(new Error(`no answer within ${POST_TIMEOUT_MS} ms`)),
      POST_TIMEOUT_MS,
    );
    request.on("response", () => clearTimeout(timer));
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(body);
  });
}

async function readText(response: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of response) text += (chunk as Buffer).toString("utf8");
  return text;
}

function errorOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 200) || "no reason given";
}
