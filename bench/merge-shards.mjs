// One-off measurement (docs/BENCHMARKS.md "Merging shards"): `load-test merge` of SHARDS results
// files, each holding SECONDS seconds of per-second timeline. Not a test; prints figures.
//
//   node bench/merge-shards.mjs [SHARDS] [SECONDS] [RATE]   (RATE: req/s of each shard, default 100)
//
// How the files are made: one real 3 s shard run (`--rps 2×RATE --shard 0/2`, so RATE req/s, on loopback, against
// a local server that answers in 0.2..2 ms) gives the template: every field a shard's file has,
// its histograms among them. Each synthetic shard K is that file with `shard` K/SHARDS, one run
// id and start, SECONDS timeline entries (the template's entries, cycled, with its own counts
// and percentiles), and histograms scaled to SECONDS × RATE requests: latency, service and queue
// time re-recorded from the template's own distributions with the counts multiplied, so they
// have the real run's spread. Connect and TLS histograms stay the template's. Then it times
// `load-test merge` of all of them (wall time including node's start-up) and reads its peak RSS
// (`/usr/bin/time -f %M`).
//
// It also measures what per-second histograms would cost if a file kept them: one shard's
// SECONDS per-second latency histograms at RATE req/s, encoded (bytes) and decoded and added
// (the work a merge would do per shard).
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout } from "node:timers";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";

const SHARDS = Number(process.argv[2] ?? 100);
const SECONDS = Number(process.argv[3] ?? 3600);
const RATE = Number(process.argv[4] ?? 100);
const BIN = fileURLToPath(import.meta.resolve("../dist/cli/bin.js"));
const dir = mkdtempSync(join(tmpdir(), "merge-bench-"));

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => setTimeout(() => res.end('{"success":true}'), 0.2 + Math.random() * 1.8));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const target = `http://127.0.0.1:${server.address().port}`;
const templatePath = join(dir, "template.json");
// Asynchronously: the server above answers in this process.
const templateRun = await new Promise((resolve) =>
  execFile(
    process.execPath,
    [
      ...[BIN, "--target", target, "--rps", String(2 * RATE), "--duration", "3s", "--quiet"],
      ...["--threads", "1", "--shard", "0/2", "--out", templatePath],
    ],
    (error, stdout, stderr) => resolve({ error, stderr }),
  ),
);
server.close();
let template;
try {
  template = JSON.parse(readFileSync(templatePath, "utf8"));
} catch {
  throw new Error(`template run failed: ${templateRun.stderr}`);
}

const build = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
  });
/** The template's histogram with every bucket's count multiplied by `factor`: its shape, more requests. */
function scaled(encoded, factor) {
  const source = hdr.decodeFromCompressedBase64(encoded, 32);
  const out = build();
  for (let index = 0; index < source.countsArrayLength; index++) {
    const count = source.getCountAtIndex(index);
    if (count > 0) out.recordValueWithCount(source.valueFromIndex(index), count * factor);
  }
  return hdr.encodeIntoCompressedBase64(out);
}

const factor = Math.max(1, Math.round((SECONDS * RATE) / Math.max(1, template.requests.total)));
const histograms = {
  ...template.histograms,
  latency: scaled(template.histograms.latency, factor),
  serviceTime: scaled(template.histograms.serviceTime, factor),
  sendLag: scaled(template.histograms.sendLag, factor),
  ownSendLag: scaled(template.histograms.ownSendLag, factor),
  queueTime: scaled(template.histograms.queueTime, factor),
  latencyByCategory: Object.fromEntries(
    Object.entries(template.histograms.latencyByCategory).map(([name, encoded]) => [
      name,
      scaled(encoded, factor),
    ]),
  ),
};
const entries = template.timeline.filter((entry) => entry.completed > 0);
const files = [];
const start = Date.parse("2026-12-04T17:00:00Z");
for (let k = 0; k < SHARDS; k++) {
  const shard = { ...template, histograms };
  shard.shard = { index: k, count: SHARDS };
  shard.runId = "bench";
  shard.startedAt = new Date(start).toISOString();
  shard.endedAt = new Date(start + SECONDS * 1000).toISOString();
  shard.durationSec = SECONDS;
  shard.timeline = Array.from({ length: SECONDS }, (_, t) => ({ ...entries[t % entries.length], t }));
  const path = join(dir, `shard-${k}.json`);
  writeFileSync(path, JSON.stringify(shard, null, 2));
  files.push(path);
}
const fileBytes = statSync(files[0]).size;
const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
const loadBefore = loadavg().map((x) => +x.toFixed(2));
const began = process.hrtime.bigint();
const merged = spawnSync(
  "/usr/bin/time",
  ["-f", "%M", process.execPath, BIN, "merge", ...files, "--out", join(dir, "merged.json")],
  { encoding: "utf8", maxBuffer: 64 * 2 ** 20 },
);
const wallMs = Number(process.hrtime.bigint() - began) / 1e6;
const maxRssKb = Number(merged.stderr.trim().split("\n").at(-1));
const result = JSON.parse(readFileSync(join(dir, "merged.json"), "utf8"));

// Per-second histograms, were a file to keep them: RATE latencies a second from the template's distribution.
const source = hdr.decodeFromCompressedBase64(template.histograms.latency, 32);
const values = [];
for (let index = 0; index < source.countsArrayLength; index++) {
  const count = source.getCountAtIndex(index);
  for (let c = 0; c < count; c++) values.push(source.valueFromIndex(index));
}
const perSecond = Array.from({ length: SECONDS }, () => {
  const h = build();
  for (let i = 0; i < RATE; i++) h.recordValue(values[Math.floor(Math.random() * values.length)]);
  return hdr.encodeIntoCompressedBase64(h);
});
const perSecondBytes = perSecond.reduce((sum, s) => sum + s.length + 3, 0);
const sum = build();
const decodeBegan = process.hrtime.bigint();
for (const encoded of perSecond) sum.add(hdr.decodeFromCompressedBase64(encoded, 32));
const decodeMs = Number(process.hrtime.bigint() - decodeBegan) / 1e6;

console.log(
  JSON.stringify({
    shards: SHARDS,
    secondsPerShard: SECONDS,
    ratePerShard: RATE,
    fileKiB: Math.round(fileBytes / 1024),
    timelineKiB: Math.round((JSON.stringify(template.timeline[1]).length * SECONDS) / 1024),
    inputMiB: +(bytes / 2 ** 20).toFixed(1),
    mergeWallMs: Math.round(wallMs),
    maxRssMiB: +(maxRssKb / 1024).toFixed(1),
    exit: merged.status,
    mergedCompleted: result.requests.total,
    timelineSeconds: result.timeline.length,
    queueTimeExact: result.histograms.queueTime !== undefined,
    loadAverage: loadBefore,
    perSecondHistograms: {
      bytesPerShardFile: perSecondBytes,
      meanBytesEach: Math.round(perSecondBytes / SECONDS),
      decodeAndAddMsPerShard: Math.round(decodeMs),
      projectedDecodeMsAllShards: Math.round(decodeMs * SHARDS),
    },
  }),
);
rmSync(dir, { recursive: true, force: true });
