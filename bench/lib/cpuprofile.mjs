// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

function location(callFrame, root) {
  const { url, lineNumber } = callFrame;
  if (!url) return "";
  const path = url.startsWith("file://") ? relative(root, fileURLToPath(url)) : url;
  return `${path}:${lineNumber + 1}`;
}

/**
 * Top `count` functions by self time. Each sample is charged the time delta that precedes it
 * (V8's convention is close enough for a ranking). Entries: { name, location, selfMs, selfPct }.
 */
export function topSelfTime(file, root, count = 15) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUsByKey = new Map();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const deltaUs = Math.max(0, profile.timeDeltas[index] ?? 0);
    const { callFrame } = nodeById.get(id);
    const key = `${callFrame.functionName}\u0000${location(callFrame, root)}`;
    selfUsByKey.set(key, (selfUsByKey.get(key) ?? 0) + deltaUs);
    totalUs += deltaUs;
  });
  return {
    totalMs: totalUs / 1000,
    top: [...selfUsByKey.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, selfUs]) => {
        const [name, where] = key.split("\u0000");
        return {
          name: name || "(anonymous)",
          location: where,
          selfMs: selfUs / 1000,
          selfPct: totalUs > 0 ? (100 * selfUs) / totalUs : 0,
        };
      }),
  };
}
