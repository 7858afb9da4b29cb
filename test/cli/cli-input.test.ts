import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { closedPort } from "../helpers/servers.js";

const valid = ["--rps", "10", "--duration", "1s"];

describe("bad input: one clear line naming the flag, exit code 2, no stack trace", () => {
  it.each([
    ["missing target", [...valid], "--target"],
    ["bad URL", ["--target", "not a url", ...valid], "--target"],
    ["bad scheme", ["--target", "ftp://127.0.0.1:21", ...valid], "--target"],
    ["zero rate", ["--target", "http://127.0.0.1:9", "--rps", "0", "--duration", "1s"], "--rps"],
    ["negative rate", ["--target", "http://127.0.0.1:9", "--rps", "-5", "--duration", "1s"], "--rps"],
    ["text rate", ["--target", "http://127.0.0.1:9", "--rps", "fast", "--duration", "1s"], "--rps"],
    ["missing rate", ["--target", "http://127.0.0.1:9", "--duration", "1s"], "--rps"],
    [
      "unparsable duration",
      ["--target", "http://127.0.0.1:9", "--rps", "10", "--duration", "ten"],
      "--duration",
    ],
    ["missing duration", ["--target", "http://127.0.0.1:9", "--rps", "10"], "--duration"],
    ["unknown category", ["--target", "http://127.0.0.1:9", ...valid, "--category", "chaos"], "--category"],
    ["zero workers", ["--target", "http://127.0.0.1:9", ...valid, "--workers", "0"], "--workers"],
    ["fractional workers", ["--target", "http://127.0.0.1:9", ...valid, "--workers", "2.5"], "--workers"],
    [
      "zero --max-in-flight",
      ["--target", "http://127.0.0.1:9", ...valid, "--max-in-flight", "0"],
      "--max-in-flight",
    ],
    [
      "--max-in-flight and its alias --workers",
      ["--target", "http://127.0.0.1:9", ...valid, "--max-in-flight", "8", "--workers", "8"],
      "--max-in-flight",
    ],
    ["bad header", ["--target", "http://127.0.0.1:9", ...valid, "--header", "no-colon"], "--header"],
    ["bad timeout", ["--target", "http://127.0.0.1:9", ...valid, "--timeout", "soon"], "--timeout"],
    ["bad path", ["--target", "http://127.0.0.1:9", ...valid, "--path", "v1/execute"], "--path"],
    ["unknown pacing", ["--target", "http://127.0.0.1:9", ...valid, "--pacing", "fast"], "--pacing"],
    ["unknown flag", ["--target", "http://127.0.0.1:9", ...valid, "--rsp", "5"], "--rsp"],
    [
      "unwritable --hdr-log",
      ["--target", "http://127.0.0.1:9", ...valid, "--hdr-log", "/dev/null/latency.hlog"],
      "--hdr-log",
    ],
  ])("%s", async (_name, args, flag) => {
    const cli = await runCli(args, { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(flag);
    expect(cli.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(cli.stderr.split("\n")[0]).toMatch(/error/);
    expect(cli.stdout).toBe("");
  });

  it("an unreachable target ends by itself, reports connection errors and names --target", async () => {
    const port = await closedPort();
    const cli = await runCli(
      ["--target", `http://127.0.0.1:${port}`, "--rps", "20", "--duration", "1s", "--quiet"],
      { timeoutMs: 20_000 },
    );
    expect(cli.code).toBe(3);
    expect(cli.stdout).toContain("connect_refused");
    expect(cli.stderr).toMatch(/--target http:\/\/127\.0\.0\.1:\d+: unreachable/);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  });

  it("--help lists every run flag and exits 0", async () => {
    const cli = await runCli(["--help"]);
    expect(cli.code).toBe(0);
    for (const flag of [
      "--target",
      "--rps",
      "--duration",
      "--category",
      "--workers",
      "--pacing",
      "--path",
      "--api-key",
      "--header",
      "--timeout",
      "--out",
    ]) {
      expect(cli.stdout).toContain(flag);
    }
  });
});
