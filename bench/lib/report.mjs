// Turns the results document into Markdown: one table of ratios (ours ÷ peer) first, then the
// absolute figures of each part, then the notes that say how to read them.
import { machineLine } from "./machine.mjs";

const num = (value, digits = 0) =>
  value === null || value === undefined || !Number.isFinite(value)
    ? "–"
    : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value) => num(value, value >= 100 ? 0 : value >= 10 ? 1 : 2);
const pct = (value) => (Number.isFinite(value) ? `${num(100 * value, 1)}%` : "–");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : null);
const row = (cells) => `| ${cells.join(" | ")} |`;
const table = (header, rows) => [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n");

function ok(item) {
  return item && !item.error;
}

/** ours ÷ each peer, for every figure that both sides measured. */
/** Median over the rounds both tools completed of ours ÷ peer; null without such a round. */
export function medianRoundRatio(ours, peer) {
  if (!ours || !peer) return null;
  const ratios = ours
    .map((value, round) => (value && peer[round] ? value / peer[round] : null))
    .filter((value) => value !== null)
    .sort((a, b) => a - b);
  if (ratios.length === 0) return null;
  const middle = Math.floor(ratios.length / 2);
  return ratios.length % 2 === 1 ? ratios[middle] : (ratios[middle - 1] + ratios[middle]) / 2;
}

export function computeRatios(results) {
  const peers = results.peers.filter((peer) => peer.available).map((peer) => peer.key);
  const rows = [];
  const throughputItems = results.throughput?.items ?? [];
  const oursMax = throughputItems.find((item) => item.tool === "ours");
  const add = (metric, better, valueOf) => {
    const cells = {};
    for (const peer of peers) cells[peer] = valueOf(peer);
    rows.push({ metric, better, ratios: cells });
  };
  if (ok(oursMax)) {
    const peerMax = (peer) => throughputItems.find((item) => item.tool === peer && ok(item));
    add("max throughput, req/s", "higher", (peer) => ratio(oursMax.reqPerSec, peerMax(peer)?.reqPerSec));
    // Best of N against best of N rewards whichever tool met the host's fastest spell; a ratio per
    // round compares runs made a minute apart at most, and its median ignores one lucky round.
    if ((oursMax.roundReqPerSec?.length ?? 0) > 1) {
      add("max throughput, median of the per-round ratios", "higher", (peer) =>
        medianRoundRatio(oursMax.roundReqPerSec, peerMax(peer)?.roundReqPerSec),
      );
    }
    add("CPU s per 10k requests", "lower", (peer) =>
      ratio(oursMax.cpuSecPer10k, peerMax(peer)?.cpuSecPer10k),
    );
  }
  const precisionItems = results.precision?.items ?? [];
  const rates = [...new Set(precisionItems.map((item) => item.rate))];
  const at = (rate, tool) =>
    precisionItems.find((item) => item.rate === rate && item.tool === tool && ok(item));
  for (const rate of rates) {
    // A ratio of two ratios: 1.00 means both kept the asked rate equally well; part 2 says which.
    add(`achieved ÷ asked at ${num(rate)} req/s`, "see part 2", (peer) =>
      ratio(at(rate, "ours")?.ratio, at(rate, peer)?.ratio),
    );
  }
  for (const rate of rates) {
    add(`latency p99 at ${num(rate)} req/s`, "lower", (peer) =>
      ratio(at(rate, "ours")?.latencyMs?.p99, at(rate, peer)?.latencyMs?.p99),
    );
  }
  for (const rate of rates) {
    add(`generator CPU at ${num(rate)} req/s`, "lower", (peer) =>
      ratio(at(rate, "ours")?.cpuCores, at(rate, peer)?.cpuCores),
    );
  }
  return { peers, rows };
}

function header(results) {
  const { machine } = results;
  const otherCores = results.noise.otherCores;
  const lines = [
    `# load-test benchmark: ${results.startedAt.slice(0, 19).replace("T", " ")} UTC (${results.mode})`,
    "",
    `Machine: ${machineLine(machine)}.`,
    "",
    `Load average (1/5/15 min): before ${machine.loadBefore.join(" / ")}, after ${results.loadAfter.join(" / ")}. ` +
      `CPU used by other processes while items ran: mean ${num(otherCores.mean, 2)} cores, max ${num(otherCores.max, 2)}` +
      ` (of ${machine.cores}).`,
  ];
  if (results.settings.waitQuietMin > 0) {
    lines.push(
      "",
      `Waited ${num(results.noise.waitedForQuietSec)} s in all for an idle machine before items (\`--wait-quiet ${results.settings.waitQuietMin}\`); ` +
        `${results.noise.itemsStartedBusy} item(s) started while it was still busy.`,
    );
  }
  if (results.noise.busy) {
    lines.push(
      "",
      "**The machine was busy (other processes used a large share of CPU): treat these figures with care and rerun when it is quiet.**",
    );
  }
  lines.push(
    "",
    `Target (bench/fast-server.mjs, or the reference gateway in part 4) on core 0, every generator on core 1. Peers: ` +
      results.peers
        .map((peer) => (peer.available ? peer.label : `~~${peer.key}~~ (${peer.note})`))
        .join(", ") +
      ".",
  );
  return lines.join("\n");
}

function ratiosSection(results) {
  const { peers, rows } = results.ratios;
  if (peers.length === 0 || rows.length === 0) return "## Ratios (ours ÷ peer)\n\nNo peer was measured.";
  return [
    "## Ratios (ours ÷ peer)",
    "",
    "Like for like: 50 connections each (ours: `--workers 50`), one core each, same target, same request body. " +
      "Latency p99: ours counts from the intended send time, so it includes its own send lag.",
    "",
    table(
      ["metric", "better", ...peers],
      rows.map((r) => [r.metric, r.better, ...peers.map((peer) => num(r.ratios[peer], 2))]),
    ),
  ].join("\n");
}

/** Rows of a closed-loop part (1 and 6): one per tool, its best run and every run's req/s. */
function closedLoopTable(items) {
  const rows = items.map((item) =>
    ok(item)
      ? [
          item.label,
          num(item.reqPerSec),
          num(item.cpuSecPer10k, 3),
          num(item.cpuCores, 2),
          ms(item.latencyMs?.p50),
          ms(item.latencyMs?.p99),
          num(item.errors),
          num(item.targetCores, 2),
          num(item.otherCores, 2),
          item.allReqPerSec.map((value) => num(value)).join(", "),
        ]
      : [item.label, `failed: ${item.error}`, "", "", "", "", "", "", "", ""],
  );
  return table(
    [
      "tool",
      "req/s",
      "CPU s / 10k req",
      "CPU (cores)",
      "p50 ms",
      "p99 ms",
      "errors",
      "target CPU (cores)",
      "other load (cores)",
      "runs (req/s)",
    ],
    rows,
  );
}

function throughputSection(section) {
  if (!section) return null;
  return [
    `## 1. Maximum throughput (closed-loop equivalent, ${section.connections} connections, ${section.durationSec} s)`,
    "",
    section.askedRateOurs === "max"
      ? `Ours: \`--rps max --workers ${section.connections}\` (a closed loop, as the peers run). Latency is service time for ours (from the actual send).`
      : `Ours: \`--rps ${num(section.askedRateOurs)} --workers ${section.connections}\` (requests behind the cap count as ` +
        "dropped; this is completed req/s). Latency is service time for ours (from the actual send).",
    "",
    closedLoopTable(section.items),
  ].join("\n");
}

function http2Section(section) {
  if (!section) return null;
  const ours = section.items.find((item) => item.tool === "ours");
  const peer = section.items.find((item) => item.tool === section.peer.key);
  const lines = [
    `## 6. HTTP/2 (h2c, prior knowledge), closed loop, ${section.streams} streams on one connection, ${section.durationSec} s`,
    "",
    `Target: ${section.target}, on the target core. Ours: \`--h2c --rps max --workers ${section.streams}\`; ` +
      `h2load: \`-c 1 -m ${section.streams}\` (it reports a mean, no percentiles).`,
    "",
    closedLoopTable(section.items),
  ];
  if (!section.peer.available) lines.push("", `${section.peer.key}: ${section.peer.note}.`);
  else if (ok(ours) && ok(peer)) {
    const median = medianRoundRatio(ours.roundReqPerSec, peer.roundReqPerSec);
    lines.push(
      "",
      `Ours ÷ ${section.peer.key}: req/s ${num(ratio(ours.reqPerSec, peer.reqPerSec), 2)} (best of each)` +
        (ours.roundReqPerSec.length > 1 ? `, ${num(median, 2)} (median of the per-round ratios)` : "") +
        `; CPU s per 10k requests ${num(ratio(ours.cpuSecPer10k, peer.cpuSecPer10k), 2)}.`,
    );
  }
  return lines.join("\n");
}

function precisionSection(section) {
  if (!section) return null;
  const rows = section.items.map((item) => {
    if (!ok(item)) return [num(item.rate), item.label, `failed: ${item.error}`, "", "", "", "", "", "", ""];
    const lag = item.sendLagMs;
    const loop = item.eventLoopDelayMs;
    return [
      num(item.rate),
      item.label,
      num(item.ratio, 3),
      lag ? `${ms(lag.p50)} / ${ms(lag.p99)} / ${ms(lag.max)}` : "n/a",
      loop ? `${ms(loop.p50)} / ${ms(loop.p99)} / ${ms(loop.max)}` : "n/a",
      `${ms(item.latencyMs?.p50)} / ${ms(item.latencyMs?.p99)}`,
      num(item.cpuCores, 2),
      item.connections === undefined
        ? ""
        : `${num(item.workers)} / ${num(item.connections)} / ${num(item.maxInFlight)}`,
      item.trustworthy === undefined ? "" : item.trustworthy ? "yes" : "**no**",
      num(item.otherCores, 2),
    ];
  });
  return [
    `## 2. Open-loop precision (${section.durationSec} s each; ours with \`--warmup ${section.warmupSec}s\`, peers with ${section.peerConnections} connections)`,
    "",
    `Ours runs twice per rate: with \`--workers ${section.peerConnections}\` like the peers' connections (used in the ratios) and with the default \`--workers\` (what a user gets; the cap it chose is in the table). ` +
      "Send lag and event-loop delay exist only for ours. Latency: ours from the intended send time; " +
      "autocannon `-R` corrects for coordinated omission too; hey measures from the actual send.",
    "",
    table(
      [
        "asked req/s",
        "tool",
        "achieved ÷ asked",
        "send lag p50 / p99 / max ms",
        "event-loop delay p50 / p99 / max ms",
        "latency p50 / p99 ms",
        "CPU (cores)",
        "workers / connections / peak in flight",
        "trustworthy",
        "other load (cores)",
      ],
      rows,
    ),
  ].join("\n");
}

function memorySection(item) {
  if (!item) return null;
  if (!ok(item)) return `## 3. Memory\n\nfailed: ${item.error}`;
  return [
    `## 3. Memory (ours at ${num(item.rate)} req/s for ${item.durationSec} s, VmRSS of the generator)`,
    "",
    table(
      ["time since start", "RSS MiB"],
      item.checkpoints.map((checkpoint) => [`${checkpoint.atSec} s`, num(checkpoint.rssMiB, 1)]),
    ),
    "",
    `Peak RSS (VmHWM) ${num(item.peakRssMiB, 1)} MiB; last ÷ first checkpoint ${num(item.growthLastOverFirst, 3)}; ` +
      `trend over the second half ${num(item.secondHalfSlopeMiBPerMin, 2)} MiB/min; ` +
      `${num(item.requests)} requests, achieved ÷ asked ${num(item.achievedRatio, 3)}, send lag p99 ${ms(item.sendLagP99Ms)} ms.`,
  ].join("\n");
}

function gatewaySection(section) {
  if (!section) return null;
  const rows = section.items.map((item) =>
    ok(item)
      ? [
          num(item.rate),
          item.httpServer ?? "node",
          item.workers,
          num(item.ratio, 3),
          ms(item.latencyMs.p50),
          ms(item.latencyMs.p95),
          ms(item.latencyMs.p99),
          num(item.errors),
          pct(item.correctness),
          num(item.gatewayCpuCores, 2),
          num(item.gatewayCpuMsPer1k, 1),
          `${num(item.workersCap)} / ${num(item.connections)}`,
          item.generatorTrustworthy ? "yes" : `**no** (send lag p99 ${ms(item.generatorSendLagP99Ms)} ms)`,
          item.verdict ?? "",
          num(item.otherCores, 2),
        ]
      : [
          num(item.rate),
          item.httpServer ?? "node",
          item.workers,
          `failed: ${item.error}`,
          "",
          "",
          "",
          "",
          "",
          "",
          "",
          "",
          "",
          "",
          "",
        ],
  );
  return [
    `## 4. Reference gateway (\`serve --llm-latency 1ms..2ms\`, \`--category ${section.category}\`, ${section.durationSec} s after \`--warmup ${section.warmupSec}s\`)`,
    "",
    table(
      [
        "asked req/s",
        "gateway HTTP server",
        "generator",
        "achieved ÷ asked",
        "P50 ms",
        "P95 ms",
        "P99 ms",
        "errors",
        "correctness",
        "gateway CPU (cores)",
        "gateway CPU ms / 1k req",
        "workers / connections",
        "generator trustworthy",
        "verdict",
        "other load (cores)",
      ],
      rows,
    ),
  ].join("\n");
}

function profileSection(item) {
  if (!item) return null;
  if (!ok(item)) return `## 5. CPU profile of our generator\n\nfailed: ${item.error}`;
  return [
    `## 5. CPU profile of our generator (\`--cpu-prof\`, at saturation as in part 1: \`--workers ${item.workers}\`, ${item.durationSec} s, top 15 by self time)`,
    "",
    `Profile total ${num(item.totalMs / 1000, 1)} s, start-up included; ${num(item.completedPerSec)} req/s completed (profiling adds overhead).`,
    "",
    table(
      ["area", "self ms", "self %"],
      item.byArea.map((entry) => [entry.area, num(entry.selfMs), num(entry.selfPct, 1)]),
    ),
    "",
    table(
      ["#", "self ms", "self %", "function", "where"],
      item.top.map((entry, index) => [
        String(index + 1),
        num(entry.selfMs),
        num(entry.selfPct, 1),
        `\`${entry.name}\``,
        entry.location ? `\`${entry.location}\`` : "",
      ]),
    ),
  ].join("\n");
}

/** A generator that saturated the target measured the target: its req/s is only a floor. */
function saturatedTargetNotes(results) {
  const parts = [
    ["part 1", results.throughput?.items ?? []],
    ["part 6", results.http2?.items ?? []],
  ];
  return parts.flatMap(([part, items]) =>
    items
      .filter((item) => ok(item) && item.targetCores >= 0.95)
      .map(
        (item) =>
          `${item.label} saturated the target in ${part} (target CPU ${num(item.targetCores, 2)} cores): ` +
          "its req/s is a floor, the generator could do more.",
      ),
  );
}

function notesSection(results) {
  const notes = [
    "CPU s / 10k req: user + system CPU of the whole generator process (start-up included), " +
      "from the kernel's accounting of the reaped child (cutime + cstime of the bench process).",
    "CPU (cores) in part 2 and the gateway's CPU: /proc/<pid>/stat sampled every 250 ms over the measured window of our results JSON (warm-up excluded); for peers, the whole process ÷ its wall time.",
    "Other load: CPU used by every other process on the machine during the item (from /proc/stat), in cores.",
    ...saturatedTargetNotes(results),
    ...results.notes,
  ];
  return ["## Notes", "", ...notes.map((note) => `- ${note}`)].join("\n");
}

/** The whole Markdown report. */
export function toMarkdown(results) {
  return [
    header(results),
    ratiosSection(results),
    throughputSection(results.throughput),
    precisionSection(results.precision),
    memorySection(results.memory),
    gatewaySection(results.gateway),
    profileSection(results.profile),
    http2Section(results.http2),
    notesSection(results),
  ]
    .filter(Boolean)
    .join("\n\n")
    .concat("\n");
}
