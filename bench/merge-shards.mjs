// One-off measurement (docs/BENCHMARKS.md "Merging shards"): `load-test merge` of 100 shards'
// results files, each with one hour of per-second timeline and histograms of 36,000 latencies.
// Loopback only: one 1 s run against a local server gives the template file. Not a test.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";

const SHARDS = Number(process.argv[2] ?? 100);
const SECONDS = Number(process.argv[3] ?? 3600);
const BIN = fileURLToPath(import.meta.resolve("../dist/cli/bin.js"));
const dir = mkdtempSync(join(tmpdir(), "merge-bench-"));

const server = createServer((_req, res) => res.end('{"ok":true}'));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const target = `http://127.0.0.1:${server.address().port}`;
const templatePath = join(dir, "template.json");
const templateRun = spawnSync(
  process.execPath,
  [
    BIN,
    "--target",
    target,
    "--rps",
    "50",
    "--duration",
    "1s",
    "--quiet",
    "--shard",
    "0/2",
    "--out",
    templatePath,
  ],
  { encoding: "utf8" },
);
server.close();
if (!readFileSync(templatePath, "utf8")) throw new Error(templateRun.stderr);
const template = JSON.parse(readFileSync(templatePath, "utf8"));

const histogramOf = (count, scaleUs) => {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 64,
  });
  for (let i = 0; i < count; i++) h.recordValue(Math.round(scaleUs * (1 + -Math.log(1 - Math.random()))));
  return hdr.encodeIntoCompressedBase64(h);
};
const files = [];
const start = Date.parse("2026-12-04T17:00:00Z");
for (let k = 0; k < SHARDS; k++) {
  const shard = JSON.parse(JSON.stringify(template));
  shard.shard = { index: k, count: SHARDS };
  shard.runId = "bench";
  shard.startedAt = new Date(start).toISOString();
  shard.endedAt = new Date(start + SECONDS * 1000).toISOString();
  shard.durationSec = SECONDS;
  shard.timeline = Array.from({ length: SECONDS }, (_, t) => ({
    t,
    sent: 10,
    completed: 10,
    success: 10,
    blocked: 0,
    error: 0,
    latencyMs: { p50: 1, p95: 2, p99: 3 },
  }));
  const latency = histogramOf(10 * SECONDS, 800 + k);
  shard.histograms = {
    ...shard.histograms,
    latency,
    serviceTime: latency,
    sendLag: histogramOf(1000, 20),
    ownSendLag: histogramOf(1000, 20),
  };
  const path = join(dir, `shard-${k}.json`);
  writeFileSync(path, JSON.stringify(shard, null, 2));
  files.push(path);
}
const bytes = files.reduce((sum, f) => sum + readFileSync(f).length, 0);
const began = process.hrtime.bigint();
const merged = spawnSync(
  "/usr/bin/time",
  ["-f", "%M", process.execPath, BIN, "merge", ...files, "--out", join(dir, "merged.json")],
  { encoding: "utf8" },
);
const wallMs = Number(process.hrtime.bigint() - began) / 1e6;
const maxRssKb = Number(merged.stderr.trim().split("\n").at(-1));
const result = JSON.parse(readFileSync(join(dir, "merged.json"), "utf8"));
console.log(
  JSON.stringify({
    shards: SHARDS,
    secondsPerShard: SECONDS,
    inputMiB: +(bytes / 2 ** 20).toFixed(1),
    mergeWallMs: Math.round(wallMs),
    maxRssMiB: +(maxRssKb / 1024).toFixed(1),
    exit: merged.status,
    mergedCompleted: result.requests.total,
    timelineSeconds: result.timeline.length,
  }),
);
rmSync(dir, { recursive: true, force: true });
