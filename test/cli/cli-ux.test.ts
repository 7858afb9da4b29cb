import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../src/metrics/result.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { afterStderr, runCli } from "../helpers/cli.js";
import { allowEverything, json, startLocalServer } from "../helpers/servers.js";

describe("a mistyped command", () => {
  it("load-test fly: unknown command with the commands to choose from, exit 2", async () => {
    const cli = await runCli(["fly"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(2);
    // One line offering every command (the list grows with the tool), then what a profile looks like.
    expect(cli.stderr).toMatch(
      /^load-test: error: unknown command 'fly'; did you mean one of 'run', 'ladder', 'serve', 'demo'(, '[a-z0-9]+')*\? \(a profile is a \.yaml, \.yml or \.json file\)\n$/,
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

describe("the README's first example against load-test serve", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ llmLatencyMs: { min: 5, max: 10 } });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it("works as written: no --api-key sends the methodology's client id, demo-org", async () => {
    const cli = await runCli(
      ["--target", gateway.url, "--rps", "20", "--duration", "1s", "--category", "normal", "--quiet"],
      { timeoutMs: 30_000 },
    );
    expect(cli.stdout).toContain("Requests      20 completed: 20 success, 0 blocked, 0 error");
    expect(cli.stdout).toContain("✅ Error Rate: 0%");
    expect(cli.stdout).not.toContain("Credentials rejected");
  });

  it("--api-key '' sends none: the 401 storm is explained, naming --api-key and --header", async () => {
    const cli = await runCli(
      [
        "--target",
        gateway.url,
        "--rps",
        "20",
        "--duration",
        "1s",
        "--category",
        "normal",
        "--quiet",
        "--api-key",
        "",
      ],
      { timeoutMs: 30_000 },
    );
    expect(cli.code).toBe(3);
    expect(cli.stdout).toContain("Credentials rejected: 20 of 20 answers were 401");
    expect(cli.stdout).toMatch(/--api-key KEY .* --header 'Name: value'/);
  });
});

describe("credentials refused by the target are never printed", () => {
  it("a 401 storm with a secret key names the flags, not the key", async () => {
    const server = await startLocalServer((_request, _body, response) =>
      json(response, 401, { error: "no" }),
    );
    const secret = "sk-test-SECRET-0987654321";
    try {
      const cli = await runCli(
        ["--target", server.url, "--rps", "20", "--duration", "1s", "--category", "normal", "--quiet"],
        { env: { AXONFLOW_CLIENT_ID: secret }, timeoutMs: 30_000 },
      );
      expect(server.authorizations.every((value) => value === `Bearer ${secret}`)).toBe(true);
      expect(cli.stdout).toContain("Credentials rejected: 20 of 20 answers were 401");
      for (const text of [cli.stdout, cli.stderr]) expect(text).not.toContain(secret);
    } finally {
      await server.close();
    }
  });

  it("a 403 storm (read as blocks) says it may be the credentials", async () => {
    const server = await startLocalServer((_request, _body, response) =>
      json(response, 403, { error: "forbidden" }),
    );
    try {
      const cli = await runCli(
        ["--target", server.url, "--rps", "20", "--duration", "1s", "--category", "normal", "--quiet", "--api-key", "sk-test-SECRET-403"],
        { timeoutMs: 30_000 },
      ); // prettier-ignore
      expect(cli.code).toBe(3);
      expect(cli.stdout).toContain(
        "Most answers were blocks (20 of 20), 20 of 20 normal requests too: a target that refuses the credentials with 403 reads as a block",
      );
      expect(cli.stdout).not.toContain("sk-test-SECRET-403");
    } finally {
      await server.close();
    }
  });

  it("an Authorization header of the user's replaces the default client id", async () => {
    const server = await startLocalServer(allowEverything);
    try {
      await runCli(
        [
          "--target",
          server.url,
          "--rps",
          "10",
          "--duration",
          "1s",
          "--category",
          "normal",
          "--quiet",
          "--header",
          "Authorization: Basic dTpw",
        ],
        { timeoutMs: 30_000 },
      );
      expect(server.authorizations.length).toBe(10);
      expect(server.authorizations.every((value) => value === "Basic dTpw")).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe("an interrupted ladder step is marked, in the table and the JSON", () => {
  it("Ctrl-C during the second step: that row says interrupted and is left out of the saturation", async () => {
    const gateway = await startGateway({ llmLatencyMs: { min: 5, max: 10 } });
    const dir = await mkdtemp(join(tmpdir(), "load-test-"));
    try {
      const cli = await runCli(
        [
          "ladder", "--target", gateway.url, "--rates", "10,20", "--step", "3s", "--pause", "0s",
          "--category", "normal", "--out", join(dir, "ladder.json"), "--markdown", join(dir, "table.md"),
        ], // prettier-ignore
        {
          timeoutMs: 30_000,
          onSpawn: (child) =>
            afterStderr(child, "step 2/2", () => setTimeout(() => child.kill("SIGINT"), 1000)),
        },
      );
      expect(cli.code).toBe(130);
      const ladder = JSON.parse(await readFile(join(dir, "ladder.json"), "utf8")) as {
        interrupted: boolean;
        steps: Array<{ ratePerSec: number; interrupted: boolean; note: string; result: RunResult }>;
      };
      expect(ladder.interrupted).toBe(true);
      expect(ladder.steps.map((step) => step.interrupted)).toEqual([false, true]);
      expect(ladder.steps[1]?.note).toMatch(
        /^Interrupted after \d+(\.\d)?s of 3s \(partial step, not judged for saturation\)$/,
      );
      const rows = (await readFile(join(dir, "table.md"), "utf8")).trim().split("\n");
      expect(rows[2]).not.toContain("interrupted");
      expect(rows[3]).toMatch(/^\| 20 \|.*\| \w+ \(interrupted\) \| Interrupted after /);
      expect(cli.stdout).toMatch(/step 2\/2: 20 req\/s .*\(interrupted after [\d.]+s\)/);
    } finally {
      await gateway.close();
    }
  });
});

describe("a silent target: the wait for --timeout after the schedule is shown", () => {
  it("the live line says it is draining, the summary and the JSON how long it waited", async () => {
    const server = await startLocalServer(() => undefined); // never answers
    const out = join(await mkdtemp(join(tmpdir(), "load-test-")), "results.json");
    try {
      const cli = await runCli(
        ["--target", server.url, "--rps", "5", "--duration", "1s", "--timeout", "6s", "--category", "normal", "--out", out],
        { timeoutMs: 30_000 },
      ); // prettier-ignore
      // Without a terminal the live line comes every 5 s: the one at 5 s falls in the drain.
      expect(cli.stderr).toMatch(/draining 5 in flight, up to [0-9]s more \(--timeout 6s\)/);
      expect(cli.stdout).toMatch(
        /Drain {9}waited [4-7](\.\d)?s after the schedule for answers still in flight \(each gets up to --timeout from its send; 5 timed out\)/,
      );
      const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
      expect(result.drainSec).toBeGreaterThan(4.5);
      expect(result.drainSec).toBeLessThan(8);
    } finally {
      await server.close();
    }
  });
});

describe("--rps max over a profile without phases or stages", () => {
  it("runs a closed loop with the profile's target, auth and mix", async () => {
    const gateway = await startGateway({ llmLatencyMs: { min: 5, max: 10 } });
    const dir = await mkdtemp(join(tmpdir(), "load-test-"));
    const profile = join(dir, "constant.yaml");
    await writeFile(
      profile,
      `target: ${gateway.url}\nauth: { bearerEnv: AXONFLOW_CLIENT_ID, default: demo-org }\ncategory: normal\nrps: 10\nduration: 30s\n`,
    );
    try {
      const cli = await runCli(
        ["run", profile, "--rps", "max", "--duration", "1s", "--workers", "4", "--out", join(dir, "r.json"), "--quiet"],
        { timeoutMs: 30_000 },
      ); // prettier-ignore
      expect(cli.stderr).not.toContain("error");
      const result = JSON.parse(await readFile(join(dir, "r.json"), "utf8")) as RunResult;
      expect(result.rate.closedLoop).toBe(true);
      expect(result.rate.targetPerSec).toBe(0);
      expect(result.generator.workers).toBe(4);
      // A closed loop with 4 in flight against a local gateway: far more than the file's 10 req/s.
      expect(result.requests.total).toBeGreaterThan(50);
      expect(result.requests.error).toBe(0);
      expect(cli.stdout).toContain("max rate (closed loop, 4 in flight)");
    } finally {
      await gateway.close();
    }
  });
});

describe("a profile's own cases: the header and the results name their paths and categories", () => {
  let gateway: RunningGateway;
  let dir: string;
  beforeAll(async () => {
    gateway = await startGateway({ llmLatencyMs: { min: 5, max: 10 } });
    dir = await mkdtemp(join(tmpdir(), "load-test-"));
  });
  afterAll(async () => {
    await gateway.close();
  });

  const run = async (extra: string[]): Promise<{ stdout: string; stderr: string; result: RunResult }> => {
    const out = join(dir, `${extra.join("-") || "all"}.json`);
    const cli = await runCli(
      ["run", "examples/rest-api.yaml", "--target", gateway.url, "--rps", "20", "--duration", "1s", "--out", out, ...extra],
      { timeoutMs: 30_000 },
    ); // prettier-ignore
    return {
      stdout: cli.stdout,
      stderr: cli.stderr,
      result: JSON.parse(await readFile(out, "utf8")) as RunResult,
    };
  };

  it("a custom category survives into the JSON, with its one path", async () => {
    const { stdout, stderr, result } = await run(["--category", "health"]);
    expect(result.category).toBe("health");
    expect(result.path).toBe("/health");
    expect(result.paths).toEqual(["GET /health"]);
    expect(stdout.split("\n")[0]).toMatch(
      /^load-test http:\/\/127\.0\.0\.1:\d+\/health {2}category health {2}/,
    );
    expect(stderr).toMatch(
      /^rest-api: http:\/\/127\.0\.0\.1:\d+\/health at 20 req\/s for 1s, category health,/m,
    );
  });

  it("the mix of every case: each METHOD /path in the header and in paths[]", async () => {
    const { stdout, result } = await run([]);
    expect(result.category).toBe("mixed");
    expect(result.paths).toEqual(["DELETE /health", "GET /health", "GET /v2/nothing", "POST /v1/execute"]);
    expect(stdout.split("\n")[0]).toContain(
      " DELETE /health, GET /health, GET /v2/nothing, POST /v1/execute  category mixed",
    );
    expect(stdout).not.toMatch(/:\d+\/v1\/execute {2}category/); // the profile's path, which not all use
  });
});

describe("--nodes: capacity per node", () => {
  let gateway: RunningGateway;
  let dir: string;
  beforeAll(async () => {
    gateway = await startGateway({ llmLatencyMs: { min: 5, max: 10 } });
    dir = await mkdtemp(join(tmpdir(), "load-test-"));
  });
  afterAll(async () => {
    await gateway.close();
  });

  it("--rps max --nodes 2: the capacity per node is judged and written", async () => {
    const out = join(dir, "max.json");
    const cli = await runCli(
      ["--target", gateway.url, "--rps", "max", "--workers", "4", "--duration", "1s", "--nodes", "2", "--category", "normal", "--out", out, "--quiet"],
      { timeoutMs: 30_000 },
    ); // prettier-ignore
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(result.rate.nodes).toBe(2);
    expect(result.rate.achievedPerNodePerSec).toBeCloseTo(result.rate.achievedPerSec / 2, 6);
    const check = result.verdict.checks.find((c) => c.name === "throughput_per_node");
    expect(check?.value).toBeCloseTo(result.rate.achievedPerSec / 2, 6);
    const perNode = result.rate.achievedPerSec / 2;
    expect(check?.level).toBe(perNode > 1000 ? "target" : perNode >= 500 ? "degraded" : "critical");
    expect(cli.stdout).toMatch(
      /Capacity: [\d.]+ req\/s per node \([\d.]+ req\/s over 2 nodes\), closed loop/,
    );
  });

  it("a ladder reports its capacity per node: the highest step within target", async () => {
    const out = join(dir, "ladder.json");
    const cli = await runCli(
      ["ladder", "--target", gateway.url, "--rates", "10,20", "--step", "1s", "--pause", "0s", "--nodes", "2", "--category", "normal", "--out", out, "--quiet"],
      { timeoutMs: 30_000 },
    ); // prettier-ignore
    const ladder = JSON.parse(await readFile(out, "utf8")) as {
      capacity: { nodes: number; level: string | null; message: string };
      steps: Array<{ result: RunResult }>;
    };
    expect(ladder.capacity.nodes).toBe(2);
    expect(ladder.steps.every((step) => step.result.rate.nodes === 2)).toBe(true);
    // 10 and 20 req/s: far below 1,000 per node. Unless a noisy step left target, it is not judged.
    const levels = ladder.steps.map((step) => step.result.verdict.level);
    if (levels.every((level) => level === "target")) {
      expect(ladder.capacity.level).toBeNull();
      expect(ladder.capacity.message).toMatch(
        /^Capacity: at least [\d.]+ req\/s per node \([\d.]+ req\/s over 2 nodes\)/,
      );
    }
    expect(cli.stdout).toContain(
      `${ladder.capacity.message}: ${ladder.capacity.level ?? "not judged"} (> 1,000 req/s per node target`,
    );
  });

  it("a profile's nodes, and --nodes over it; a bad value names the flag", async () => {
    const profile = join(dir, "nodes.yaml");
    await writeFile(
      profile,
      `target: ${gateway.url}\nauth: { bearerEnv: AXONFLOW_CLIENT_ID, default: demo-org }\ncategory: normal\nrps: 10\nduration: 1s\nnodes: 3\n`,
    );
    const fromFile = join(dir, "file.json");
    await runCli(["run", profile, "--out", fromFile, "--quiet"], { timeoutMs: 30_000 });
    expect((JSON.parse(await readFile(fromFile, "utf8")) as RunResult).rate.nodes).toBe(3);
    const fromFlag = join(dir, "flag.json");
    await runCli(["run", profile, "--nodes", "5", "--out", fromFlag, "--quiet"], { timeoutMs: 30_000 });
    expect((JSON.parse(await readFile(fromFlag, "utf8")) as RunResult).rate.nodes).toBe(5);
    const bad = await runCli(["--target", gateway.url, "--rps", "1", "--duration", "1s", "--nodes", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('load-test: error: --nodes: must be an integer ≥ 1 (gateway nodes), got "0"\n');
  });
});
