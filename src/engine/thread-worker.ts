import { parentPort, workerData } from "node:worker_threads";
import { systemClock } from "./clock.js";
import { Shard } from "./shard.js";
import {
  fromWorkerOptions,
  type FromWorker,
  type ShardReport,
  type ToWorker,
  type WorkerInput,
} from "./thread-protocol.js";

/**
 * A worker thread of a `--threads N` run: one shard (its stripe of the schedule, its share of
 * the connections), driven by the coordinator's messages; once a second it ships what its
 * recorder measured (HDR-encoded) to the coordinator, which merges every thread's exactly.
 */
const REPORT_INTERVAL_MS = 1000;

if (!parentPort) throw new Error("thread-worker.js runs only as a worker thread");
const port = parentPort;
const input = workerData as WorkerInput;
const post = (message: FromWorker): void => port.postMessage(message);

let shard: Shard | undefined;
const warmUpAbort = new AbortController();
let reportTimer: NodeJS.Timeout | undefined;

const report = (): ShardReport => {
  const current = shard as Shard;
  return {
    delta: current.recorder.drain(),
    stats: current.stats(),
    loopDelay: current.eventLoopDelayMs(),
    transport: current.transportResult(),
    connections: current.connectionState(),
  };
};

async function handle(message: ToWorker): Promise<void> {
  if (!shard) return;
  switch (message.type) {
    case "probe":
      post({ type: "probed", result: await shard.probe() });
      return;
    case "warmup":
      await shard.warmUp(warmUpAbort.signal, message.atMs);
      post({ type: "warmed" });
      return;
    case "start":
      shard.start(message.t0Ms);
      post({ type: "started" });
      reportTimer = setInterval(() => post({ type: "report", report: report() }), REPORT_INTERVAL_MS);
      void shard.whenIdle().then(() => post({ type: "idle" }));
      return;
    case "stop":
      warmUpAbort.abort();
      shard.stop();
      return;
    case "close": {
      if (reportTimer) clearInterval(reportTimer);
      const end = await shard.close();
      post({ type: "closed", report: report(), end });
      port.close();
      return;
    }
  }
}

try {
  shard = new Shard(fromWorkerOptions(input.options), input.stripe, systemClock, "shard");
  post({ type: "ready" });
} catch (error) {
  post({ type: "failed", message: error instanceof Error ? error.message : String(error) });
}

port.on("message", (message: ToWorker) => {
  handle(message).catch((error: unknown) =>
    post({ type: "failed", message: error instanceof Error ? error.message : String(error) }),
  );
});
