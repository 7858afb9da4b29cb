import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { loadProfile } from "../../src/config/profile.js";

const run = promisify(execFile);
const EXAMPLES = ["spec-stages", "k6-ramp", "policy-mixed", "rest-api"];

describe("run outputs stay out of the repository", () => {
  it.each(EXAMPLES)("examples/%s.yaml writes only into out/", async (name) => {
    const { profile } = await loadProfile(`examples/${name}.yaml`, {});
    for (const file of [profile.outputs.out, profile.outputs.prometheusFile, profile.outputs.markdown])
      if (file !== undefined) expect(file).toMatch(/^out\//);
  });

  it(".gitignore ignores out/, and no run output is committed", async () => {
    const ignore = (await readFile(".gitignore", "utf8")).split("\n");
    expect(ignore).toContain("/out/");
    const { stdout } = await run("git", ["ls-files"]);
    const outputs = stdout.split("\n").filter((file) => /\.prom$|(^|\/)([^/]*-)?results\.json$/.test(file));
    expect(outputs).toEqual([]);
  });
});
