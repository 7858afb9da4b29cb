import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT_CODES, exitCodeOf } from "../../src/evaluate/exit-codes.js";
import { ladderDocument, phasesDocument } from "../../src/metrics/documents.js";
import { Reporters, type Reporter, type Streams } from "../../src/report/reporter.js";
import { JsonReporter } from "../../src/report/reporters/json.js";
import { MarkdownReporter } from "../../src/report/reporters/markdown.js";
import { ladderCapacity } from "../../src/evaluate/capacity.js";

function bufferStreams(): Streams & { text: () => { out: string; err: string } } {
  let out = "";
  let err = "";
  return {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    outNow: (text) => void (out += text),
    errNow: (text) => void (err += text),
    isTTY: false,
    text: () => ({ out, err }),
  };
}

describe("exitCodeOf: README 'Exit codes' (130 > 5 > 3 > 4 > 0)", () => {
  const none = { interrupted: false, writeFailed: false, critical: false, exportFailed: false };
  it("takes the first that applies in that order", () => {
    expect(exitCodeOf(none)).toBe(EXIT_CODES.ok);
    expect(exitCodeOf({ ...none, exportFailed: true })).toBe(EXIT_CODES.exportFailed);
    expect(exitCodeOf({ ...none, exportFailed: true, critical: true })).toBe(EXIT_CODES.critical);
    expect(exitCodeOf({ ...none, critical: true, writeFailed: true })).toBe(EXIT_CODES.writeFailed);
    expect(exitCodeOf({ ...none, writeFailed: true, interrupted: true })).toBe(EXIT_CODES.interrupted);
  });
});

describe("Reporters", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("reports each problem once, keeps calling the others, and collects the exit-code facts", async () => {
    const streams = bufferStreams();
    const calls: string[] = [];
    const failing: Reporter = {
      finish: () => {
        calls.push("failing");
        return { errors: ["--out x: could not write the file"], writeFailed: true };
      },
    };
    const exporting: Reporter = {
      finish: () => {
        calls.push("exporting");
        return { exportFailed: true };
      },
    };
    const reporters = new Reporters([failing, exporting], streams);
    await reporters.finish(phasesDocument([], false));
    expect(calls).toEqual(["failing", "exporting"]);
    expect(streams.text().err).toBe("load-test: error: --out x: could not write the file\n");
    expect(reporters.failures).toEqual({ writeFailed: true, exportFailed: true, regression: false });
  });

  it("--out and --markdown write any document, and the same again synchronously on a forced quit", async () => {
    dir = await mkdtemp(join(tmpdir(), "load-test-reporter-"));
    const streams = bufferStreams();
    const out = { flag: "--out", path: join(dir, "r.json") };
    const markdown = { flag: "--markdown", path: join(dir, "r.md") };
    const reporters = new Reporters(
      [new JsonReporter(out, streams), new MarkdownReporter(markdown)],
      streams,
    );
    await reporters.checkOutputs();
    const ladder = ladderDocument(
      { steps: [], saturatedAtPerSec: null, capacity: ladderCapacity([]), interrupted: false },
      "| RPS |",
    );
    await reporters.finish(ladder);
    expect(JSON.parse(await readFile(out.path, "utf8"))).toMatchObject({ kind: "ladder", steps: [] });
    expect(await readFile(markdown.path, "utf8")).toBe("| RPS |\n");
    reporters.quitNow({ ...ladder, interrupted: true, table: "| quit |" });
    expect(JSON.parse(await readFile(out.path, "utf8"))).toMatchObject({ kind: "ladder", interrupted: true });
    expect(await readFile(markdown.path, "utf8")).toBe("| quit |\n");
    expect(streams.text().err).toContain(`results written to ${out.path}`);
  });
});
