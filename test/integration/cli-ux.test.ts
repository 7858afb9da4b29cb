import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("a mistyped command", () => {
  it("load-test fly: unknown command with the commands to choose from, exit 2", async () => {
    const cli = await runCli(["fly"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toBe(
      "load-test: error: unknown command 'fly'; did you mean one of 'run', 'ladder', 'serve', 'demo'? (a profile is a .yaml, .yml or .json file)\n",
    );
    expect(cli.stdout).toBe("");
  });

  it("load-test sevre --port 0: did you mean 'serve'?", async () => {
    const cli = await runCli(["sevre", "--port", "0"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("unknown command 'sevre'; did you mean 'serve'?");
  });

  it("a missing profile path is still a missing file", async () => {
    const cli = await runCli(["run", "no-such-profile.yaml"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/no-such-profile\.yaml: no such file/);
  });
});

describe("real commands are not mistaken for mistyped ones", () => {
  it("load-test help prints the usage, exit 0", async () => {
    const cli = await runCli(["help"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("Usage: load-test");
  });

  it("load-test run fly: the profile argument of run is checked too", async () => {
    const cli = await runCli(["run", "fly"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("unknown command 'fly'");
  });
});

it("load-test help serve: that command's usage", async () => {
  const cli = await runCli(["help", "serve"], { timeoutMs: 15_000 });
  expect(cli.code).toBe(0);
  expect(cli.stdout).toContain("Usage: load-test serve");
});
