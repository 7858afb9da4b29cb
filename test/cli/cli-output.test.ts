import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { afterStderr, runCli } from "../helpers/cli.js";
import { allowEverything, startLocalServer, type LocalServer } from "../helpers/servers.js";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(): Promise<LocalServer> {
  const started = await startLocalServer(allowEverything);
  servers.push(started);
  return started;
}

const run = (url: string, ...extra: string[]): string[] => [
  "--target",
  url,
  "--rps",
  "10",
  "--duration",
  "1s",
  "--quiet",
  ...extra,
];

describe("output paths are checked before anything is sent", () => {
  it.each([
    ["--out", "/proc/no-such-dir/r.json", /cannot create directory \/proc\/no-such-dir/],
    ["--out", "/proc/r.json", /cannot write \/proc\/r\.json/],
    ["--markdown", "/proc/r.md", /cannot write \/proc\/r\.md/],
    ["--prometheus-file", "/proc/r.prom", /cannot write \/proc\/r\.prom/],
  ])("%s %s: exit 2, one line naming the flag, no request sent", async (flag, path, reason) => {
    const target = await server();
    const cli = await runCli(run(target.url, flag, path), { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split("\n")).toHaveLength(1);
    expect(cli.stderr).toMatch(new RegExp(`^load-test: error: ${flag}: `));
    expect(cli.stderr).toMatch(reason);
    expect(cli.stdout).toBe("");
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("--out naming a special file (a FIFO): exit 2, and the FIFO is left as it was", async () => {
    // A FIFO of our own, not /dev/null: without the check the results were renamed over the target.
    const target = await server();
    const fifo = join(await mkdtemp(join(tmpdir(), "load-test-out-")), "fifo");
    execFileSync("mkfifo", [fifo]);
    const cli = await runCli(run(target.url, "--out", fifo), { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^load-test: error: --out: cannot write .*fifo: is not a regular file/);
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("--out naming a directory: exit 2, and no temporary file is left beside it", async () => {
    const target = await server();
    const parent = await mkdtemp(join(tmpdir(), "load-test-out-"));
    const directory = join(parent, "results");
    await mkdir(directory);
    const cli = await runCli(run(target.url, "--out", directory), { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/--out: cannot write .*results: is a directory/);
    expect(target.arrivalsMs).toHaveLength(0);
    expect(await readdir(parent)).toEqual(["results"]);
    expect(await readdir(directory)).toEqual([]);
  });

  it("two outputs on one file: exit 2 naming the second flag", async () => {
    const target = await server();
    const file = join(await mkdtemp(join(tmpdir(), "load-test-out-")), "r.json");
    const cli = await runCli(run(target.url, "--out", file, "--markdown", file), { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^load-test: error: --markdown: .*r\.json is also the file of --out/);
    expect(target.arrivalsMs).toHaveLength(0);
  });

  it("ladder and demo check --out and --markdown before the first step", async () => {
    const target = await server();
    const ladder = await runCli(
      [
        "ladder",
        "--target",
        target.url,
        "--rates",
        "5",
        "--step",
        "1s",
        "--quiet",
        "--markdown",
        "/proc/x/t.md",
      ],
      { timeoutMs: 15_000 },
    );
    expect(ladder.code).toBe(2);
    expect(ladder.stderr).toMatch(/^load-test: error: --markdown: /);
    // Prometheus exports are not written by a ladder: refused rather than silently lost.
    const prom = await runCli(
      [
        "ladder",
        "--target",
        target.url,
        "--rates",
        "5",
        "--step",
        "1s",
        "--quiet",
        "--prometheus-file",
        "l.prom",
      ],
      { timeoutMs: 15_000 },
    );
    expect(prom.code).toBe(2);
    expect(prom.stderr).toMatch(/^load-test: error: --prometheus-file: not supported by ladder/);
    expect(target.arrivalsMs).toHaveLength(0);
    const demo = await runCli(["demo", "--out", "/proc/x/d.json", "--quiet"], { timeoutMs: 15_000 });
    expect(demo.code).toBe(2);
    expect(demo.stderr).toMatch(/^load-test: error: --out: /);
    expect(demo.stderr).not.toContain("reference gateway");
  });

  it("a profile's outputs are named by their field, a typed flag by the flag", async () => {
    const target = await server();
    const dir = await mkdtemp(join(tmpdir(), "load-test-out-"));
    const profile = join(dir, "p.yaml");
    await writeFile(
      profile,
      [`target: ${target.url}`, "rps: 5", "duration: 1s", "outputs: { prometheusFile: /proc/p.prom }"].join(
        "\n",
      ),
    );
    const fromFile = await runCli(["run", profile, "--quiet"], { timeoutMs: 15_000 });
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(
      /^load-test: error: outputs\.prometheusFile: cannot write \/proc\/p\.prom/,
    );
    const typed = await runCli(
      ["run", profile, "--quiet", "--prometheus-file", join(dir, "ok.prom"), "--out", "/proc/r.json"],
      {
        timeoutMs: 15_000,
      },
    );
    expect(typed.code).toBe(2);
    expect(typed.stderr).toMatch(/^load-test: error: --out: cannot write \/proc\/r\.json/);
    expect(target.arrivalsMs).toHaveLength(0);
  });
});

/**
 * A 2 s run whose output directory `lost` was fine when checked and becomes a file once the run
 * has started; `outputs(dir, lost)` gives the output flags.
 */
async function runLosingDirectory(outputs: (dir: string, lost: string) => string[]) {
  const target = await server();
  const dir = await mkdtemp(join(tmpdir(), "load-test-out-"));
  const lost = join(dir, "lost");
  await mkdir(lost);
  const cli = await runCli(
    ["--target", target.url, "--rps", "10", "--duration", "2s", ...outputs(dir, lost)],
    {
      timeoutMs: 20_000,
      onSpawn: (child) =>
        afterStderr(child, "load-test: http", () => {
          void rm(lost, { recursive: true }).then(() => writeFile(lost, "not a directory"));
        }),
    },
  );
  return { cli, dir };
}

describe("a results file lost after the run", () => {
  it("--prometheus-file: one line on stderr (not only in the summary), exit 5, --out still written", async () => {
    const { cli, dir } = await runLosingDirectory((dir, lost) => [
      "--prometheus-file",
      join(lost, "m.prom"),
      "--out",
      join(dir, "r.json"),
    ]);
    expect(cli.stderr).toMatch(/load-test: error: --prometheus-file .*m\.prom: could not write the file: /);
    expect(cli.code).toBe(5);
    expect(JSON.parse(await readFile(join(dir, "r.json"), "utf8"))).toMatchObject({ schemaVersion: 1 });
  });

  it("is one line on stderr naming the flag, exit 5; the other files and the summary are still written", async () => {
    const { cli, dir } = await runLosingDirectory((dir, lost) => [
      "--out",
      join(lost, "r.json"),
      "--markdown",
      join(dir, "kept.md"),
    ]);
    expect(cli.stderr).toMatch(
      /load-test: error: --out .*r\.json: could not write the file: .*not a directory/,
    );
    expect(cli.code).toBe(5);
    expect(cli.stdout).toContain("Results Interpretation");
    expect(await readFile(join(dir, "kept.md"), "utf8")).toMatch(/^\| RPS \|/);
    expect((await readdir(dir)).sort()).toEqual(["kept.md", "lost"]);
  });
});
