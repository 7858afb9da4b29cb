import type { RunOptions } from "../config/options.js";
import type { Clock } from "../engine/clock.js";
import type { FleetState, LoadDriver } from "../engine/driver.js";
import { MergingDriver } from "../engine/merging-driver.js";
import type { ShardEnd } from "../engine/shard.js";
import { toWorkerOptions, type WorkerInput, type WorkerOptions } from "../engine/thread-protocol.js";
import type { ProbeResult } from "../transport/http.js";
import { formatSeconds, type Fleet, type RemoteShard } from "./fleet.js";
import type { ShardSpec } from "./flags.js";
import type { ShardMessage } from "./remote-protocol.js";

/**
 * How far ahead of "now" the coordinator sets a shared start: the command crosses the network
 * (one streamed line, milliseconds inside a cluster) before the first request is due.
 */
const START_AHEAD_MS = 500;
/** A shared start given (`--start-at`, asked for START_AHEAD_MS early) is kept if at least this far ahead. */
const MIN_AHEAD_MS = 20;

/** How long the coordinator waits for each shard's last report after "close" before it is lost. */
const CLOSE_WAIT_MS = 15_000;

/**
 * The run definition a shard receives: the run's options without what stays with the
 * coordinator (thresholds, `--start-at`: the coordinator sends its own start instant).
 */
export function remoteInput(options: RunOptions, shard: ShardSpec): WorkerInput {
  const { startAtEpochMs: _startAt, ...rest }: WorkerOptions = toWorkerOptions(options);
  return { options: { ...rest, threads: 1 }, stripe: shard };
}

/**
 * `load-test coordinate`: the run controller (engine/run.ts) drives N shard processes as it
 * drives worker threads (engine/threads.ts): the same commands, the same HDR-encoded
 * per-second deltas absorbed into one Recorder, bucket-exact, over HTTP (fleet.ts). A shard
 * that is lost is named with the second of the run it was lost at, and the run goes on with the
 * others; the result is then partial (`fleet()`).
 */
export class RemoteDriver extends MergingDriver implements LoadDriver {
  readonly startLeadMs = START_AHEAD_MS;
  private t0EpochMs: number | undefined;
  private ready: Promise<void> | undefined;
  private idle: Promise<void> | undefined;
  private readonly lateMs = new Map<number, number>();

  constructor(
    options: RunOptions,
    private readonly fleet: Fleet,
    clock: Clock,
    categories: readonly string[],
    private readonly signal?: AbortSignal,
    private readonly onEvent?: (line: string) => void,
  ) {
    super(options, clock, fleet.count, categories);
    fleet.onReport((shard, report) => {
      if (!this.started) return;
      try {
        this.merged.absorb(report.delta);
      } catch (error) {
        fleet.loseShard(shard, `sent a report that cannot be merged (${(error as Error).message})`);
        return;
      }
      this.shardSeconds[shard.spec.index] = report.delta.currentSecond;
      this.closeSeconds();
    });
    fleet.onLoss((shard) => {
      this.closeSeconds();
      const second = this.secondOf(shard.lost?.atEpochMs ?? Date.now());
      this.onEvent?.(
        `shard ${shard.spec.index}/${fleet.count} lost ${second === undefined ? "before the measured run" : `at second ${second}`} (${shard.lost?.reason ?? "?"}); the others go on, the result will be partial`,
      );
    });
  }

  protected senders(): readonly RemoteShard[] {
    return this.fleet.shards;
  }

  /** Which shards took part, which were lost and when: the result's `merged` and warnings. */
  fleetState(): FleetState {
    const shards = this.fleet.shards;
    return {
      count: this.fleet.count,
      live: shards.filter((shard) => shard.live).length,
      shards: shards.filter((shard) => shard.live).map((shard) => shard.spec.index),
      lost: shards.flatMap((shard) =>
        shard.lost
          ? [
              {
                index: shard.spec.index,
                second: this.secondOf(shard.lost.atEpochMs) ?? null,
                reason: shard.lost.reason,
              },
            ]
          : [],
      ),
      late: [...this.lateMs].map(([index, lateMs]) => ({ index, lateMs })),
    };
  }

  private secondOf(epochMs: number): number | undefined {
    if (this.t0EpochMs === undefined || epochMs < this.t0EpochMs) return undefined;
    return Math.floor((epochMs - this.t0EpochMs) / 1000);
  }

  /** A timeline second closes once every shard still reporting has moved past it. */
  private closeSeconds(): void {
    if (!this.started) return;
    const reporting = this.fleet.shards.filter((shard) => shard.live && !shard.done);
    const before =
      reporting.length === 0
        ? Infinity
        : Math.min(...reporting.map((shard) => this.shardSeconds[shard.spec.index] ?? 0));
    this.merged.closeSecondsBefore(before);
  }

  private live(): RemoteShard[] {
    return this.fleet.shards.filter((shard) => shard.live);
  }

  /** Every shard registered (RegistrationError otherwise) and has built its shard. */
  private whenReady(): Promise<void> {
    this.ready ??= this.fleet.whenRegistered(this.signal).then(async () => {
      await Promise.all(this.live().map((shard) => shard.next("ready")));
    });
    return this.ready;
  }

  /** The probe runs on the first shard still here, whose transport keeps its connection for the run. */
  async probe(): Promise<ProbeResult> {
    await this.whenReady();
    for (const shard of this.live()) {
      const reply = shard.next("probed");
      shard.send({ type: "probe" });
      const probed = await reply;
      if (probed) return probed.result;
    }
    return {
      ok: false,
      flag: "--target",
      message: "coordinate: every shard was lost before the preflight",
    } as ProbeResult;
  }

  warmUp(signal?: AbortSignal): Promise<void> {
    return this.warmUpWith(signal, async () => {
      await this.whenReady();
      return this.all({ type: "warmup", atEpochMs: Date.now() + START_AHEAD_MS }, "warmed");
    });
  }

  async start(at?: number): Promise<number> {
    await this.whenReady();
    const nowMs = this.clock.nowMs();
    const t0Ms = at === undefined ? nowMs + START_AHEAD_MS : Math.max(at, nowMs + MIN_AHEAD_MS);
    this.t0EpochMs = Date.now() + (t0Ms - this.clock.nowMs());
    this.startMerge(t0Ms);
    const shards = this.live();
    const replies = await this.all({ type: "start", t0EpochMs: this.t0EpochMs }, "started", shards);
    replies.forEach((reply, k) => {
      const shard = shards[k];
      if (reply && shard && reply.lateMs > 0) this.lateMs.set(shard.spec.index, reply.lateMs);
    });
    return t0Ms;
  }

  whenIdle(): Promise<void> {
    this.idle ??= Promise.all(this.live().map((shard) => shard.next("idle"))).then(() => undefined);
    return this.idle;
  }

  stop(): void {
    for (const shard of this.live()) shard.send({ type: "stop" });
  }

  /** Every shard's last report, then the command streams end and the coordinator stops listening. */
  async close(): Promise<ShardEnd> {
    const end: ShardEnd = { abandoned: 0, dueUnsent: 0 };
    try {
      const shards = this.live();
      const replies = shards.map((shard) => shard.next("closed"));
      for (const shard of shards) shard.send({ type: "close" });
      const timer = setTimeout(() => {
        for (const shard of shards)
          if (!shard.done)
            this.fleet.loseShard(shard, `no last report within ${formatSeconds(CLOSE_WAIT_MS)} of the end`);
      }, CLOSE_WAIT_MS);
      const closed = await Promise.all(replies);
      clearTimeout(timer);
      for (const message of closed) {
        if (!message) continue;
        end.abandoned += message.end.abandoned;
        end.dueUnsent += message.end.dueUnsent;
      }
    } finally {
      this.merged.closeSecondsBefore(Infinity);
      await this.fleet.close();
    }
    return end;
  }

  private async all<T extends ShardMessage["type"]>(
    command: Parameters<RemoteShard["send"]>[0],
    reply: T,
    shards: RemoteShard[] = this.live(),
  ): Promise<Array<Extract<ShardMessage, { type: T }> | undefined>> {
    const replies = shards.map((shard) => shard.next(reply));
    for (const shard of shards) shard.send(command);
    return Promise.all(replies);
  }
}
