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

/** Where a function lives, coarsely: our code, a dependency, Node.js itself, or native/V8 time. */
function areaOf(name, where) {
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "garbage collector";
  if (where.startsWith("dist/") || where.startsWith("src/")) return "our code (dist/)";
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (dependency) return dependency[1];
  if (where.startsWith("wasm://")) return "WebAssembly (undici's llhttp parser)";
  if (where.startsWith("node:")) return "Node.js internals (JS)";
  return "native (syscalls such as writev, V8 runtime, (program))";
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
  const areaUs = new Map();
  for (const [key, selfUs] of selfUsByKey) {
    const [name, where] = key.split("\u0000");
    const area = areaOf(name, where);
    areaUs.set(area, (areaUs.get(area) ?? 0) + selfUs);
  }
  return {
    totalMs: totalUs / 1000,
    byArea: [...areaUs.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, selfUs]) => ({
        area,
        selfMs: selfUs / 1000,
        selfPct: totalUs > 0 ? (100 * selfUs) / totalUs : 0,
      })),
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
