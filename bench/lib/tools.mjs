// The load generators under comparison: ours (driven through its CLI, read back from --out JSON)
// and the peers installed here. A missing peer is skipped with a note, never an error.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { which } from "./proc.mjs";

const require = createRequire(import.meta.url);

/**
 * Every peer POSTs the same kind of request our generator sends for `--category normal`
 * (a small JSON prompt), so that request and response sizes match across tools.
 */
export const REQUEST_BODY = JSON.stringify({ prompt: "What is the capital of France?", mode: "chat" });
export const REQUEST_PATH = "/v1/execute";

function debianVersion(name) {
  const result = spawnSync("dpkg-query", ["-W", "-f=${Version}", name], { encoding: "utf8", timeout: 5000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** Our CLI: `node dist/cli/main.js`, its results read from the --out file. */
export function ourGenerator(root) {
  const cli = join(root, "dist", "cli", "main.js");
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  return {
    key: "ours",
    label: `load-test ${version}`,
    cli,
    /** argv for one run; `extra` holds the run's own flags (--rps, --workers, --category, …). */
    args(url, { durationSec, outFile, extra = [], nodeFlags = [] }) {
      return [
        // What the load-test executable starts node with (src/cli/node-flags.ts), given here
        // so the measured PID is the generator itself, not the executable's launcher.
        "--no-memory-reducer",
        ...nodeFlags,
        cli,
        "--target",
        url,
        "--duration",
        `${durationSec}s`,
        "--quiet",
        "--out",
        outFile,
        // One thread: every part compares one generator process pinned to one core (the
        // target has the other); docs/BENCHMARKS.md "Threads" measures more.
        "--threads",
        "1",
        ...extra,
      ];
    },
  };
}

function autocannon() {
  let entry;
  let version;
  try {
    const packageJson = require.resolve("autocannon/package.json");
    version = JSON.parse(readFileSync(packageJson, "utf8")).version;
    entry = join(dirname(packageJson), "autocannon.js");
  } catch {
    return { key: "autocannon", available: false, note: "autocannon not installed (npm ci installs it)" };
  }
  const base = (url, { connections, durationSec }) => [
    "-c",
    String(connections),
    "-d",
    String(durationSec),
    "-m",
    "POST",
    "-H",
    "content-type=application/json",
    "-b",
    REQUEST_BODY,
    "-j",
    url + REQUEST_PATH,
  ];
  return {
    key: "autocannon",
    label: `autocannon ${version}`,
    available: true,
    // Run with our Node.js directly (not npx): the measured PID is autocannon itself.
    maxRate: (url, options) => [process.execPath, [entry, ...base(url, options)]],
    // -R paces all connections together; autocannon then corrects latencies for coordinated omission.
    atRate: (url, options) => [process.execPath, [entry, "-R", String(options.rate), ...base(url, options)]],
    parse(stdout) {
      const json = JSON.parse(stdout.slice(stdout.indexOf("{")));
      return {
        requests: json.requests.total,
        durationSec: json.duration,
        latencyMs: { p50: json.latency.p50, p99: json.latency.p99, max: json.latency.max },
        errors: json.errors + json.timeouts + json.non2xx,
      };
    },
  };
}

function wrk(benchDir) {
  const path = which("wrk");
  if (!path) return { key: "wrk", available: false, note: "wrk not installed (apt-get install wrk)" };
  const script = join(benchDir, "wrk-post.lua");
  // One thread: wrk is pinned to one core like every other generator here.
  const base = (url, { connections, durationSec }) => [
    "-t1",
    `-c${connections}`,
    `-d${durationSec}s`,
    "-s",
    script,
    url + REQUEST_PATH,
  ];
  return {
    key: "wrk",
    label: `wrk ${debianVersion("wrk") ?? ""}`.trim(),
    available: true,
    env: { BENCH_BODY: REQUEST_BODY },
    maxRate: (url, options) => [path, base(url, options)],
    atRateNote: "no rate mode (wrk2 is not packaged)",
    parse(stdout) {
      const line = /^BENCH_JSON (.*)$/m.exec(stdout);
      if (!line) throw new Error(`no BENCH_JSON line in wrk output: ${stdout.slice(-300)}`);
      const json = JSON.parse(line[1]);
      return {
        requests: json.requests,
        durationSec: json.durationUs / 1e6,
        latencyMs: { p50: json.p50Us / 1000, p99: json.p99Us / 1000, max: json.maxUs / 1000 },
        errors: json.errors + json.non2xx,
      };
    },
  };
}

function hey() {
  const path = which("hey");
  if (!path) return { key: "hey", available: false, note: "hey not installed (apt-get install hey)" };
  const base = (url, { connections, durationSec }) => [
    "-z",
    `${durationSec}s`,
    "-c",
    String(connections),
    "-m",
    "POST",
    "-T",
    "application/json",
    "-d",
    REQUEST_BODY,
    url + REQUEST_PATH,
  ];
  const seconds = (text, pattern) => Number(pattern.exec(text)?.[1] ?? NaN);
  return {
    key: "hey",
    label: `hey ${debianVersion("hey") ?? ""}`.trim(),
    available: true,
    maxRate: (url, options) => [path, base(url, options)],
    // -q is per worker: the asked rate is split evenly over the connections.
    atRate: (url, options) => [
      path,
      ["-q", String(options.rate / options.connections), ...base(url, options)],
    ],
    parse(stdout) {
      let ok = 0;
      let other = 0;
      for (const [, status, count] of stdout.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) {
        if (status.startsWith("2")) ok += Number(count);
        else other += Number(count);
      }
      let errors = 0;
      const errorPart = stdout.split("Error distribution:")[1] ?? "";
      for (const [, count] of errorPart.matchAll(/^\s*\[(\d+)\]/gm)) errors += Number(count);
      return {
        requests: ok + other,
        durationSec: seconds(stdout, /Total:\s+([\d.]+) secs/),
        latencyMs: {
          p50: seconds(stdout, /50% in ([\d.]+) secs/) * 1000,
          p99: seconds(stdout, /99% in ([\d.]+) secs/) * 1000,
          max: seconds(stdout, /Slowest:\s+([\d.]+) secs/) * 1000,
        },
        errors: errors + other,
      };
    },
  };
}

/**
 * codesenberg/bombardier, when its binary is on PATH. Debian's package named "bombardier" is a
 * different program (a curses game in /usr/games): recognise the real one by the Go module path
 * compiled into its binary instead of running whatever has that name.
 */
function bombardier() {
  const path = which("bombardier");
  const game = debianVersion("bombardier")
    ? "Debian's `bombardier` package is a game (The GNU Bombing utility), not the HTTP benchmarker"
    : null;
  const real = path !== null && binaryMentions(path, "codesenberg/bombardier");
  if (!real) {
    const why = game ?? "bombardier (codesenberg/bombardier) not installed";
    return { key: "bombardier", available: false, note: `${why}: skipped` };
  }
  const base = (url, { connections, durationSec }) => [
    "-c",
    String(connections),
    "-d",
    `${durationSec}s`,
    "-m",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-b",
    REQUEST_BODY,
    "-l",
    "-p",
    "r",
    "-o",
    "j",
    url + REQUEST_PATH,
  ];
  return {
    key: "bombardier",
    label: "bombardier",
    available: true,
    maxRate: (url, options) => [path, base(url, options)],
    atRate: (url, options) => [path, ["--rate", String(options.rate), ...base(url, options)]],
    parse(stdout) {
      const { result } = JSON.parse(stdout.slice(stdout.indexOf("{")));
      const byClass = ["req1xx", "req2xx", "req3xx", "req4xx", "req5xx", "others"].map((k) => result[k] ?? 0);
      const percentile = (p) => (result.latency?.percentiles?.[p] ?? NaN) / 1000; // µs -> ms
      return {
        requests: byClass.reduce((sum, count) => sum + count, 0),
        durationSec: result.timeTakenSeconds,
        latencyMs: { p50: percentile("50"), p99: percentile("99"), max: (result.latency?.max ?? NaN) / 1000 },
        errors: byClass.reduce((sum, count) => sum + count, 0) - (result.req2xx ?? 0),
      };
    },
  };
}

function binaryMentions(path, text) {
  try {
    return readFileSync(path).includes(text);
  } catch {
    return false;
  }
}

/**
 * h2load (nghttp2's HTTP/2 benchmarker, C): the HTTP/2 peer of part 6. One connection with
 * `connections` streams in flight (`-c 1 -m N`), the request body from a file. It reports no
 * latency percentiles, only the mean.
 */
export function h2load(bodyFile) {
  const path = which("h2load");
  if (!path) {
    return { key: "h2load", available: false, note: "h2load not installed (apt-get install nghttp2-client)" };
  }
  return {
    key: "h2load",
    label: `h2load ${debianVersion("nghttp2-client") ?? ""}`.trim(),
    available: true,
    maxRate: (url, { connections, durationSec }) => [
      path,
      [
        "-c",
        "1",
        "-m",
        String(connections),
        "-D",
        String(durationSec),
        "-d",
        bodyFile,
        "-H",
        "content-type: application/json",
        url + REQUEST_PATH,
      ],
    ],
    parse(stdout) {
      const finished = /finished in ([\d.]+)s/.exec(stdout);
      const requests =
        /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
          stdout,
        );
      const status = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
      const timing = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(stdout);
      if (!finished || !requests) throw new Error(`unexpected h2load output: ${stdout.slice(-300)}`);
      const done = Number(requests[2]);
      return {
        requests: done,
        durationSec: Number(finished[1]),
        latencyMs: timing ? { mean: toMs(timing[3]), max: toMs(timing[2]) } : undefined,
        errors:
          Number(requests[4]) + Number(requests[5]) + (status ? Number(status[1]) + Number(status[2]) : 0),
      };
    },
  };
}

/** h2load's durations: "258us", "12.34ms", "1.2s". */
function toMs(text) {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
}

/** The peers in a fixed order; each is { key, available, note } plus, if available, commands. */
export function findPeers(benchDir) {
  return [autocannon(), wrk(benchDir), bombardier(), hey()];
}
