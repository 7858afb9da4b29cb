import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/config/errors.js";
import {
  effectiveThresholds,
  effectiveWorkers,
  loadProfile,
  parseProfile,
  phaseExpectsBlocks,
  phasePlan,
  ProfileError,
  requestHeaders,
  type LoadedProfile,
} from "../../src/config/profile.js";
import { profileWithFlags, type ProfileCliFlags } from "../../src/config/resolve-profile.js";
import { formatThreshold } from "../../src/config/thresholds.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "load-test-profile-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Loads YAML text from a temporary file; returns the ProfileError's problems when it fails. */
async function problemsOf(
  yaml: string,
  env: Record<string, string> = {},
  name = "p.yaml",
): Promise<string[]> {
  try {
    await loadProfile(await write(name, yaml), env);
  } catch (error) {
    if (error instanceof ProfileError) return error.problems;
    throw error;
  }
  throw new Error("expected a ProfileError");
}

const load = async (
  yaml: string,
  env: Record<string, string> = {},
  name = "p.yaml",
): Promise<LoadedProfile> => loadProfile(await write(name, yaml), env);

describe("the example profiles", () => {
  it("examples/spec-stages.yaml: the spec's 'Start small' ladder as four phases", async () => {
    const loaded = await loadProfile("examples/spec-stages.yaml", {});
    const { profile } = loaded;
    expect(profile.target).toBe("http://127.0.0.1:8080");
    expect(
      profile.phases.map((phase) => [phase.name, phase.constantPerSec, phase.stages[0]?.durationMs]),
    ).toEqual([
      ["warmup", 10, 30_000],
      ["baseline", 50, 60_000],
      ["target", 100, 60_000],
      ["stress", 200, 60_000],
    ]);
    expect(profile.phases.map((phase) => phasePlan(phase).count)).toEqual([300, 3000, 6000, 12_000]);
    expect(profile.phases[0]?.weights).toMatchObject({ normal: 8, security: 1, policy: 1 });
    expect(phaseExpectsBlocks(profile, profile.phases[0]!)).toBe(true);
    // The reference gateway's client id defaults as in the spec's k6 script.
    expect(requestHeaders(loaded)).toEqual([["authorization", "Bearer demo-org"]]);
    // No llm cases: policy-only requests get the 64-slot default (src/config/options.ts defaultWorkers).
    expect(effectiveWorkers(profile)).toBe(64);
    expect(effectiveThresholds(profile).map(formatThreshold)).toContain(
      "correctness{category:security}:rate==1@degraded",
    );
  });

  it("examples/k6-ramp.yaml: the spec's k6 stages and thresholds (12,450 requests)", async () => {
    const { profile } = await loadProfile("examples/k6-ramp.yaml", { AXONFLOW_CLIENT_ID: "team-a" });
    expect(profile.phases).toHaveLength(1);
    expect(phasePlan(profile.phases[0]!).count).toBe(12_450);
    expect(profile.auth).toEqual({ scheme: "bearer", from: "env:AXONFLOW_CLIENT_ID" });
    expect(profile.thresholds.map(formatThreshold)).toEqual([
      "latency:p(95)<10",
      "latency:p(99)<25",
      "error_rate:rate<0.001",
    ]);
    // The file's latency and error_rate thresholds replace the defaults for those metrics only.
    const effective = effectiveThresholds(profile).map(formatThreshold);
    expect(effective).not.toContain("latency:p(50)<3");
    expect(effective).toContain("rate_ratio:value>=0.95");
    expect(effective).not.toContain("block_rate:rate>0@degraded"); // normal traffic only
  });

  it("examples/policy-mixed.yaml: mix, levels, abortOnFail, labels and outputs", async () => {
    const { profile } = await loadProfile("examples/policy-mixed.yaml", {});
    expect(profile.phases[0]?.weights).toEqual({ normal: 8, security: 1, policy: 1 });
    expect(profile).toMatchObject({
      workers: 200,
      timeoutMs: 5000,
      warmupMs: 5000,
      coldstartWindow: 100,
      abortOnCritical: true,
      labels: { environment: "local", client: "policy-mixed-example" },
      outputs: { out: "out/policy-mixed-results.json", prometheusFile: "out/policy-mixed.prom" },
    });
    const abort = profile.thresholds.find((threshold) => threshold.abortOnFail);
    expect(abort).toMatchObject({
      metric: "correctness",
      category: "security",
      level: "degraded",
      delayAbortEvalMs: 10_000,
    });
  });

  it("examples/rest-api.yaml: inline cases plus the JSON Lines file beside it", async () => {
    const { profile } = await loadProfile("examples/rest-api.yaml", {});
    expect(profile.cases?.map((testCase) => `${testCase.source} ${testCase.name}`)).toEqual([
      "cases[0] health",
      "cases[1] execute-chat",
      "rest-api-cases.jsonl:1 sql-injection-blocked",
      "rest-api-cases.jsonl:2 not-found",
      "rest-api-cases.jsonl:3 wrong-method",
      "rest-api-cases.jsonl:4 invalid-json",
      "rest-api-cases.jsonl:5 no-bearer-token",
    ]);
    expect(profile.phases[0]?.weights).toEqual({ health: 2, api: 6, security: 1, negative: 4 });
    expect(profile.defaultThresholds).toBe(false);
    expect(effectiveThresholds(profile)).toEqual(profile.thresholds);
  });
});

describe("a broken profile reports every problem at once, with its field path and line", () => {
  const BROKEN = `# line 1
target: ftp://example.com
rsp: 10
stages:
  - { duration: 30s, target: 10 }
  - { duration: 1m, target: 50 }
  - { duration: 2m, target: -5 }
  - { duration: soon, target: 0 }
workers: 0
timeout: 0s
headers:
  X-Key: { env: "1BAD" }
  "Bad Header": x
auth: { bearerEnv: TOKEN, extra: 1 }
mix: { normal: 8, securty: 1 }
category: normal
thresholds:
  latency: ["p(95<10", { threshold: "avg<5", level: critical }]
  latncy: ["p(95)<10"]
  error_rate: ["avg<1"]
  correctness{category:nope}: ["rate==1"]
labels: { 9lives: x }
outputs: { pushgateway: "prometheus:9091" }
cases:
  - { name: a, category: normal }
  - { name: b, category: normal, method: FETCH, headers: { Content-Length: "5" } }
  - { name: c, category: Bad }
  - { name: d, category: normal, expect: { status: [700], blocked: maybe, json: { "$.a[": 1 } } }
  - { name: a, category: normal, path: relative }
`;

  it("lists them all, in the order of the file's lines", async () => {
    expect(await problemsOf(BROKEN)).toEqual([
      'target: must be an http:// or https:// URL, got "ftp://example.com" (line 2)',
      "rsp: unknown key (did you mean rps?) (line 3)",
      "stages[2].target: must be a number ≥ 0, got -5 (line 7)",
      'stages[3].duration: must be a duration like 30s, 1m30s or 500ms (a bare number is seconds), got "soon" (line 8)',
      "workers: must be an integer ≥ 1, got 0 (line 9)",
      'timeout: must be longer than 0, got "0s" (line 10)',
      'headers.X-Key.env: must be an environment variable name like MY_KEY, got "1BAD" (line 12)',
      'headers["Bad Header"]: not a valid header name (line 13)',
      "auth.extra: unknown key; known keys: bearerEnv, default (line 14)",
      "mix: cannot be combined with category (mix is the category weights; use one) (line 15)",
      // With custom cases, the categories are the cases' own.
      'mix.securty: unknown category "securty"; categories: normal (line 15)',
      'thresholds.latency[1].level: must be target or degraded, got "critical" (line 18)',
      'thresholds.latency[0]: "p(95<10" at position 5: expected ")" after the percentile (line 18)',
      'thresholds.latncy[0]: "latncy" at position 1: unknown metric "latncy" (did you mean latency?); metrics: latency, service_time, send_lag, error_rate, block_rate, correctness, achieved_rate, rate_per_node, rate_ratio, http_req_duration, errors, http_req_failed, blocked, throughput (line 19)',
      'thresholds.error_rate[0]: "avg<1": avg does not apply to error_rate (a rate metric): use rate, value, count (line 20)',
      'thresholds["correctness{category:nope}"]: unknown category "nope"; categories: normal (line 21)',
      'labels["9lives"]: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*) (line 22)',
      'outputs.pushgateway: must be an http:// or https:// URL, got "prometheus:9091" (line 23)',
      'cases[1].method: must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got "FETCH" (line 26)',
      "cases[1].headers.Content-Length: Content-Length is set by load-test itself (message framing and keep-alive; see --no-keepalive) (line 26)",
      'cases[2].category: must be a category name: lower case letters, digits, _ and -, got "Bad" (line 27)',
      'cases[3].expect.status[0]: must be a status code 100..599, a class like "2xx", or a range like "200-204", got 700 (line 28)',
      'cases[3].expect.blocked: must be true or false, got "maybe" (line 28)',
      'cases[4].path: must start with "/", got "relative" (line 29)',
    ]);
  });

  it("reports thresholds, categories and case details once the types are right", async () => {
    expect(
      await problemsOf(`target: http://127.0.0.1:8080
rps: 10
duration: 10s
mix: { normal: 8, securty: 1 }
thresholds:
  latency: ["p(95<10", { threshold: "avg<5", level: degraded, delayAbortEval: soon }]
  correctness{category:nope}: ["rate==1"]
`),
    ).toEqual([
      'mix.securty: unknown category "securty" (did you mean security?); categories: normal, security, policy, llm (line 4)',
      'thresholds.latency[1].delayAbortEval: must be a duration like 30s, 1m30s or 500ms (a bare number is seconds), got "soon" (line 6)',
      'thresholds.latency[0]: "p(95<10" at position 5: expected ")" after the percentile (line 6)',
      'thresholds["correctness{category:nope}"]: unknown category "nope"; categories: normal, security, policy, llm (line 7)',
    ]);
    expect(
      await problemsOf(`rps: 10
duration: 10s
cases:
  - { name: d, category: normal, expect: { status: ["299-200"], json: { "$.a[": 1 } } }
  - { name: d, category: security, method: GET, body: x }
`),
    ).toEqual([
      'cases[0].expect.json["$.a["]: unclosed "[" at position 4 (line 4)',
      'cases[0].expect.status[0]: range "299-200" runs backwards (line 4)',
      "cases[1].body: a GET request has no body (set method: POST, PUT or PATCH) (line 5)",
      'cases[1].name: duplicate case name "d" (first in cases[0])',
    ]);
  });

  it("checks the rules between fields", async () => {
    expect(await problemsOf("stages: 30s:10\nrps: 5\nduration: 10s\n")).toEqual([
      "rps: cannot be combined with stages (the stages set the rate and the length) (line 2)",
      "duration: cannot be combined with stages (the stages set the rate and the length) (line 3)",
    ]);
    expect(await problemsOf("rps: 5\n")).toEqual(["duration: is required with rps (line 1)"]);
    expect(await problemsOf("duration: 5s\nstartRps: 3\n")).toEqual([
      "rps: is required with duration (line 1)",
      "startRps: only applies to stages (the rate they ramp from) (line 2)",
    ]);
    expect(await problemsOf("stages: [{ duration: 10s, target: 0 }]\n")).toEqual([
      "stages: every target is 0 and startRps is 0, so the stages ask for no request (line 1)",
    ]);
    expect(
      await problemsOf(
        "rps: 5\nduration: 5s\nphases:\n  - { name: a, rps: 1 }\n  - { name: a, stages: 1m:5, duration: 1m, category: normal, mix: { normal: 1 } }\n  - { name: c }\n",
      ),
    ).toEqual([
      "phases: cannot be combined with rps, duration (each phase has its own load shape) (line 3)",
      "phases[0].duration: is required with rps (line 4)",
      "phases[1].duration: cannot be combined with stages (the stages set the rate and the length) (line 5)",
      "phases[1].mix: cannot be combined with category (mix is the category weights; use one) (line 5)",
      'phases[1].name: "a" is used by another phase (line 5)',
      "phases[2]: needs a load shape: stages, or rps and duration (line 6)",
    ]);
    expect(await problemsOf('headers: { Authorization: "Bearer x" }\nauth: { bearerEnv: T }\n')).toEqual([
      "headers.Authorization: cannot be combined with auth (both set Authorization) (line 1)",
    ]);
  });

  it("reports YAML syntax errors and duplicate keys with line and column", async () => {
    const syntax = await problemsOf("target: http://127.0.0.1\nstages: [\n  { duration: 1s, target: 1 }\n");
    expect(syntax[0]).toMatch(/^line \d+, column \d+: /);
    const duplicate = await problemsOf("rps: 1\nduration: 1s\nrps: 2\n");
    expect(duplicate).toEqual([expect.stringMatching(/^line 3, column 1: Map keys must be unique/)]);
    expect(await problemsOf('{"rps": 1,}', {}, "p.json")).toEqual([
      expect.stringMatching(/^not valid JSON: /),
    ]);
    expect(await problemsOf("")).toEqual(["the profile is empty"]);
    expect(await problemsOf("- a\n- b\n")).toEqual([
      "must be a mapping of settings (target: …, rps: …), got a list",
    ]);
    await expect(loadProfile(join(dir, "missing.yaml"))).rejects.toThrow(/missing\.yaml: no such file/);
  });

  it("is an InputError naming the file, so the CLI prints it and exits 2", async () => {
    const path = await write("two.yaml", "rps: 0\nworkers: x\n");
    const error = await loadProfile(path, {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect((error as ProfileError).field).toBe(path);
    expect((error as ProfileError).message).toBe(
      `${path}: 3 problems:\n  - rps: must be a number > 0, got 0 (line 1)\n  - duration: is required with rps (line 1)\n  - workers: must be an integer ≥ 1, got "x" (line 2)`,
    );
  });

  it("loads a JSON profile with the same rules", async () => {
    const loaded = await load(
      JSON.stringify({ target: "http://127.0.0.1:8080", stages: "30s:10,1m:50", startRps: 5 }),
      {},
      "p.json",
    );
    expect(loaded.profile.phases[0]).toMatchObject({
      startPerSec: 5,
      stages: [
        { durationMs: 30_000, targetPerSec: 10 },
        { durationMs: 60_000, targetPerSec: 50 },
      ],
    });
    expect(await problemsOf(JSON.stringify({ rps: "fast", duration: "1m" }), {}, "q.json")).toEqual([
      'rps: must be a number > 0, got "fast" (line 1)',
    ]);
  });
});

describe("secrets from the environment", () => {
  const PROFILE = `target: http://127.0.0.1:8080
rps: 10
duration: 10s
auth: { bearerEnv: AXONFLOW_CLIENT_ID }
headers:
  X-Key: { env: MY_KEY }
  X-Team: payments
  X-Optional: { env: UNSET_VAR, default: none }
`;

  it("are read at load time and kept out of the serializable profile", async () => {
    const env = { AXONFLOW_CLIENT_ID: "sk-live-secret-1", MY_KEY: "k-secret-2" };
    const loaded = profileWithFlags(await load(PROFILE, env), {});
    expect(requestHeaders(loaded)).toEqual([
      ["authorization", "Bearer sk-live-secret-1"],
      ["X-Key", "k-secret-2"],
      ["X-Team", "payments"],
      ["X-Optional", "none"],
    ]);
    expect(loaded.profile.auth).toEqual({ scheme: "bearer", from: "env:AXONFLOW_CLIENT_ID" });
    expect(loaded.profile.headers).toEqual([
      { name: "X-Key", from: "env:MY_KEY" },
      { name: "X-Team", from: "profile" },
      { name: "X-Optional", from: "default" },
    ]);
    for (const text of [
      JSON.stringify(loaded),
      JSON.stringify(loaded.profile),
      inspect(loaded, { depth: 10 }),
    ]) {
      expect(text).not.toContain("sk-live-secret-1");
      expect(text).not.toContain("k-secret-2");
    }
    expect(JSON.stringify(structuredClone(loaded))).not.toContain("secret");
    expect(JSON.stringify(loaded.secrets)).toBe('"[secrets redacted]"');
  });

  it("an unset variable without default fails when the run is assembled, unless a flag replaces it", async () => {
    const loaded = await load(PROFILE, {});
    expect(loaded.unresolvedEnv).toEqual([
      { field: "auth.bearerEnv", variable: "AXONFLOW_CLIENT_ID" },
      { field: "headers.X-Key", variable: "MY_KEY" },
    ]);
    expect(() => profileWithFlags(loaded, {})).toThrow(ProfileError);
    try {
      profileWithFlags(loaded, {});
    } catch (error) {
      expect((error as ProfileError).problems).toEqual([
        "auth.bearerEnv: environment variable AXONFLOW_CLIENT_ID is not set (set it, give a default in the profile, or pass --api-key)",
        "headers.X-Key: environment variable MY_KEY is not set (set it, give a default in the profile, or pass --header)",
      ]);
    }
    const fixed = profileWithFlags(loaded, { apiKey: "from-flag", header: ["x-key: from-flag-2"] });
    expect(requestHeaders(fixed)).toEqual([
      ["authorization", "Bearer from-flag"],
      ["X-Team", "payments"],
      ["X-Optional", "none"],
      ["x-key", "from-flag-2"],
    ]);
    expect(fixed.profile.auth).toEqual({ scheme: "bearer", from: "--api-key" });
    expect(JSON.stringify(fixed)).not.toContain("from-flag");
  });

  it("the target may come from the environment too; the file wins over $AXONFLOW_ENDPOINT", async () => {
    const viaRef = await load(
      "target: { env: STAGING_URL, default: 'http://127.0.0.1:9' }\nrps: 1\nduration: 1s\n",
      {
        STAGING_URL: "https://staging.example.com",
      },
    );
    expect(viaRef.profile.target).toBe("https://staging.example.com");
    const fallback = await load("rps: 1\nduration: 1s\n", { AXONFLOW_ENDPOINT: "http://127.0.0.9:8080" });
    expect(fallback.profile.target).toBe("http://127.0.0.9:8080");
    const fileWins = await load("target: http://127.0.0.1:8080\nrps: 1\nduration: 1s\n", {
      AXONFLOW_ENDPOINT: "http://127.0.0.9:8080",
    });
    expect(fileWins.profile.target).toBe("http://127.0.0.1:8080");
    expect(await problemsOf("target: { env: URL }\nrps: 1\nduration: 1s\n", { URL: "not a url" })).toEqual([
      '$URL is not an http:// or https:// URL: "not a url" (line 1)'.replace(/^/, "target: "),
    ]);
  });
});

describe("data files: casesFile (.jsonl, .csv), relative to the profile", () => {
  it("reads JSON Lines and reports each bad line with its number", async () => {
    await write(
      "cases.jsonl",
      [
        '{"name": "ok", "category": "api", "method": "GET", "path": "/ok"}',
        "",
        '{"name": "bad", "category": "api", "expect": {"status": "20x"}}',
        "{not json",
        '{"name": "typo", "category": "api", "exepct": {}}',
      ].join("\n"),
    );
    const problems = await problemsOf(
      "target: http://127.0.0.1:8080\nrps: 1\nduration: 1s\ncasesFile: cases.jsonl\n",
    );
    expect(problems).toEqual([
      'casesFile cases.jsonl:3: expect.status: must be a status code 100..599, a class like "2xx", or a range like "200-204", got "20x"',
      expect.stringMatching(/^casesFile cases\.jsonl:4: not a JSON object: /),
      "casesFile cases.jsonl:5: exepct: unknown key (did you mean expect?)",
    ]);
  });

  it("reads CSV: quoted cells, commas and newlines inside quotes, status lists and JSON cells", async () => {
    await write(
      "cases.csv",
      [
        "name,category,weight,method,path,body,expect_status,expect_blocked,expect_json,headers",
        'health,health,2,GET,/health,,200,,"{""$.status"": ""ok""}",',
        'chat,normal,,POST,/v1/execute,"{""prompt"": ""What is 2+2, exactly?"", ""mode"": ""chat""}",200|201,false,,"{""X-Trace"": ""1""}"',
        'sqli,security,,POST,/v1/execute,"{""prompt"": ""line one',
        'UNION SELECT 1"", ""mode"": ""chat""}",,yes,,',
        "text,normal,,PUT,/notes,plain words,2xx,,,",
      ].join("\r\n"),
    );
    const { profile } = await load(
      "target: http://127.0.0.1:8080\nrps: 1\nduration: 1s\ncasesFile: cases.csv\n",
    );
    const cases = profile.cases ?? [];
    expect(
      cases.map((testCase) => [testCase.source, testCase.name, testCase.method, testCase.weight]),
    ).toEqual([
      ["cases.csv:2", "health", "GET", 2],
      ["cases.csv:3", "chat", "POST", 1],
      ["cases.csv:4", "sqli", "POST", 1],
      ["cases.csv:6", "text", "PUT", 1],
    ]);
    expect(cases[0]?.expect).toEqual({
      status: [{ from: 200, to: 200 }],
      json: [{ path: "$.status", segments: ["status"], value: "ok" }],
    });
    expect(cases[1]?.body).toEqual({
      text: '{"prompt": "What is 2+2, exactly?", "mode": "chat"}',
      contentType: "application/json",
    });
    expect(cases[1]?.expect.status).toEqual([
      { from: 200, to: 200 },
      { from: 201, to: 201 },
    ]);
    expect(cases[1]?.headers).toEqual([["X-Trace", "1"]]);
    expect(cases[2]?.body?.text).toBe('{"prompt": "line one\r\nUNION SELECT 1", "mode": "chat"}');
    expect(cases[2]?.expect).toEqual({ blocked: true, json: [] });
    expect(cases[3]?.body).toEqual({ text: "plain words", contentType: "text/plain; charset=utf-8" });
    expect(cases[3]?.expect.status).toEqual([{ from: 200, to: 299 }]);
    expect(profile.phases[0]?.weights).toEqual({ health: 2, normal: 2, security: 1 });
  });

  it("reports CSV problems: unknown columns, missing ones, bad cells, cell counts", async () => {
    await write("bad-columns.csv", "name,category,expect_stauts\na,normal,200\n");
    expect(await problemsOf("rps: 1\nduration: 1s\ncasesFile: bad-columns.csv\n")).toEqual([
      expect.stringMatching(/^casesFile: bad-columns\.csv: line 1: unknown column "expect_stauts"/),
    ]);
    await write("no-name.csv", "category\nnormal\n");
    expect(await problemsOf("rps: 1\nduration: 1s\ncasesFile: no-name.csv\n")).toEqual([
      'casesFile: no-name.csv: line 1: missing column "name"',
    ]);
    await write(
      "cells.csv",
      'name,category,expect_blocked,expect_json\na,normal,perhaps,\nb,normal,,"[1]"\nc,normal\n',
    );
    expect(await problemsOf("rps: 1\nduration: 1s\ncasesFile: cells.csv\n")).toEqual([
      'casesFile cells.csv:2: expect_blocked: "perhaps" is not true or false',
      "casesFile cells.csv:3: expect_json: must be a JSON object",
      "casesFile cells.csv:4: 2 cells, the header has 4",
    ]);
    await write("open.csv", 'name,category\n"a,normal\n');
    expect(await problemsOf("rps: 1\nduration: 1s\ncasesFile: open.csv\n")).toEqual([
      "casesFile: open.csv: line 2: a quoted cell is never closed",
    ]);
  });

  it("names a missing or unsupported file", async () => {
    expect(await problemsOf("rps: 1\nduration: 1s\ncasesFile: nope.jsonl\n")).toEqual([
      expect.stringMatching(/^casesFile: no such file \(looked for .*nope\.jsonl\) \(line 3\)$/),
    ]);
    await write("cases.txt", "x");
    expect(await problemsOf("rps: 1\nduration: 1s\ncasesFile: cases.txt\n")).toEqual([
      'casesFile: "cases.txt": expected a .jsonl (JSON Lines) or .csv file (line 3)',
    ]);
  });
});

describe("profileWithFlags: flags typed on the command line win over the file", () => {
  const FILE = `target: http://127.0.0.1:8080
path: /v1/execute
rps: 100
duration: 60s
workers: 50
timeout: 5s
category: normal
thresholds:
  latency: ["p(95)<10"]
  error_rate: ["rate==0"]
labels: { environment: staging }
outputs: { out: file.json }
`;
  let base: LoadedProfile;
  beforeAll(async () => {
    base = await load(FILE, { AXONFLOW_ENDPOINT: "http://127.0.0.1:1" });
  });
  const apply = (flags: ProfileCliFlags) => profileWithFlags(base, flags).profile;

  it("with no flags the file is kept as is", () => {
    expect(apply({})).toEqual(base.profile);
  });

  it.each<[string, ProfileCliFlags, (profile: ReturnType<typeof apply>) => unknown, unknown]>([
    [
      "--target",
      { target: "https://staging.example.com/api" },
      (p) => p.target,
      "https://staging.example.com/api",
    ],
    ["--path", { path: "/v2/execute" }, (p) => p.path, "/v2/execute"],
    [
      "--rps alone adjusts a constant profile",
      { rps: "20" },
      (p) => [p.phases[0]?.constantPerSec, p.phases[0]?.stages],
      [20, [{ durationMs: 60_000, targetPerSec: 20 }]],
    ],
    [
      "--duration alone adjusts a constant profile",
      { duration: "10s" },
      (p) => p.phases[0]?.stages,
      [{ durationMs: 10_000, targetPerSec: 100 }],
    ],
    [
      "--stages replaces the load shape",
      { stages: "10s:5,10s:0", startRps: "5" },
      (p) => [p.phases.length, p.phases[0]?.startPerSec, p.phases[0]?.constantPerSec],
      [1, 5, undefined],
    ],
    [
      "--category",
      { category: "mixed" },
      (p) => p.phases[0]?.weights,
      { normal: 8, security: 1, policy: 1, llm: 0 },
    ],
    ["--workers", { workers: "7" }, (p) => p.workers, 7],
    ["--timeout", { timeout: "250ms" }, (p) => p.timeoutMs, 250],
    ["--warmup", { warmup: "2s" }, (p) => p.warmupMs, 2000],
    ["--coldstart-window", { coldstartWindow: "50" }, (p) => p.coldstartWindow, 50],
    [
      "--label adds and replaces",
      { label: ["environment=prod", "region=eu"] },
      (p) => p.labels,
      { environment: "prod", region: "eu" },
    ],
    ["--out", { out: "cli.json" }, (p) => p.outputs, { out: "cli.json" }],
    ["--hdr-log", { hdrLog: "cli.hlog" }, (p) => p.outputs, { out: "file.json", hdrLog: "cli.hlog" }],
    [
      "--pushgateway",
      { pushgateway: "http://127.0.0.1:9091" },
      (p) => p.outputs.pushgateway,
      "http://127.0.0.1:9091",
    ],
    ["--abort-on-critical", { abortOnCritical: true }, (p) => p.abortOnCritical, true],
  ])("%s", (_name, flags, pick, expected) => {
    expect(pick(apply(flags))).toEqual(expected);
  });

  it("--threshold replaces the file's thresholds of the same selector, and adds others", () => {
    const profile = apply({ threshold: ["latency:p(99)<25@degraded", "latency{category:normal}:p(95)<5"] });
    expect(profile.thresholds.map(formatThreshold)).toEqual([
      "error_rate:rate==0",
      "latency:p(99)<25@degraded",
      "latency{category:normal}:p(95)<5",
    ]);
  });

  it("--rps max (a closed loop) replaces a profile's one constant rate", () => {
    const [phase, ...others] = apply({ rps: "max", duration: "10s" }).phases;
    expect(others).toEqual([]);
    expect(phase).toMatchObject({ closedLoop: true, stages: [{ durationMs: 10_000 }], category: "normal" });
  });

  it("--rps max alone keeps the profile's duration; the default workers are --rps max's", async () => {
    expect(apply({ rps: "max" }).phases[0]).toMatchObject({
      closedLoop: true,
      stages: [{ durationMs: 60_000 }],
    });
    const unsized = await load("target: http://127.0.0.1:8080\nrps: 100\nduration: 5s\n", {});
    expect(effectiveWorkers(profileWithFlags(unsized, { rps: "max" }).profile)).toBe(64);
  });

  it("--rps max with a profile without a load shape needs --duration", async () => {
    const shapeless = await load("target: http://127.0.0.1:8080\n", {});
    expect(profileWithFlags(shapeless, { rps: "max", duration: "2s" }).profile.phases[0]).toMatchObject({
      closedLoop: true,
      stages: [{ durationMs: 2000 }],
    });
    expect(() => profileWithFlags(shapeless, { rps: "max" })).toThrow(/--rps: --duration is required too/);
  });

  it("--rps max is refused for phases and stages, whose rates the profile chose", async () => {
    const staged = await load("target: http://127.0.0.1:8080\nstages: 1s:10,1s:20\n", {});
    expect(() => profileWithFlags(staged, { rps: "max", duration: "10s" })).toThrow(
      /--rps: "max" \(a closed loop\) replaces a profile's one constant rate; this profile's load is k6 stages/,
    );
    const phased = await load(
      "target: http://127.0.0.1:8080\nphases:\n  - { name: a, rps: 1, duration: 1s }\n  - { name: b, rps: 2, duration: 1s }\n",
      {},
    );
    expect(() => profileWithFlags(phased, { rps: "max" })).toThrow(/this profile's load is several phases/);
  });

  it("reports every bad flag at once", () => {
    let problems: string[] = [];
    try {
      profileWithFlags(base, {
        target: "localhost:8080",
        rps: "fast",
        workers: "0",
        timeout: "0s",
        category: "bogus",
        header: ["no colon", "Transfer-Encoding: chunked"],
        threshold: ["latency:p(95<10"],
        label: ["=x"],
        startRps: "3",
      });
    } catch (error) {
      problems = (error as ProfileError).problems;
    }
    expect(problems).toEqual([
      '--target: not an http:// or https:// URL: "localhost:8080"',
      "--start-rps: only applies to --stages",
      '--rps: must be a number > 0 or "max", got "fast"',
      '--category: unknown category "bogus"; categories: mixed, normal, security, policy, llm',
      '--workers: must be an integer ≥ 1, got "0"',
      '--timeout: must be a duration like 30s, 5m, 1h or 1m30s, got "0s"',
      '--header: expected "Name: value", got "no colon"',
      "--header: Transfer-Encoding is set by load-test itself (message framing and keep-alive; see --no-keepalive)",
      '--threshold: "latency:p(95<10" at position 13: expected ")" after the percentile',
      '--label: expected name=value with a Prometheus label name, got "=x"',
    ]);
  });

  it("--rps or --duration alone cannot reshape stages or phases; both replace them", async () => {
    const staged = await load("target: http://127.0.0.1:8080\nstages: 30s:10,30s:0\n");
    expect(() => profileWithFlags(staged, { rps: "5" })).toThrow(
      "--rps: the profile's load is k6 stages; give both --rps and --duration to replace it, or --stages",
    );
    expect(() => profileWithFlags(staged, { stages: "1s:1", duration: "1s" })).toThrow(
      "--stages: cannot be combined with --duration",
    );
    const replaced = profileWithFlags(staged, { rps: "5", duration: "2s" }).profile.phases;
    expect(replaced).toEqual([
      {
        name: "main",
        stages: [{ durationMs: 2000, targetPerSec: 5 }],
        startPerSec: 5,
        constantPerSec: 5,
        pauseAfterMs: 0,
        category: "mixed",
        weights: { normal: 8, security: 1, policy: 1, llm: 0 },
      },
    ]);
  });

  it("a profile may leave target and load to the command line; the run needs them from somewhere", async () => {
    const partial = await load("category: security\n");
    expect(() => profileWithFlags(partial, {})).toThrow(
      /target: missing \(set target in the profile, pass --target, or set AXONFLOW_ENDPOINT\)[\s\S]*load: missing/,
    );
    const complete = profileWithFlags(partial, {
      target: "http://127.0.0.1:8080",
      rps: "10",
      duration: "5s",
    });
    expect(complete.profile.phases[0]).toMatchObject({
      category: "security",
      weights: { security: 1 },
      constantPerSec: 10,
    });
  });

  it("--category with custom cases must name a case category", async () => {
    await write("c.jsonl", '{"name": "a", "category": "api"}\n{"name": "b", "category": "admin"}\n');
    const loaded = await load("target: http://127.0.0.1:8080\nrps: 1\nduration: 1s\ncasesFile: c.jsonl\n");
    expect(profileWithFlags(loaded, { category: "admin" }).profile.phases[0]?.weights).toEqual({ admin: 1 });
    expect(() => profileWithFlags(loaded, { category: "normal" })).toThrow(
      '--category: unknown category "normal"; categories: mixed, api, admin',
    );
  });
});

describe("parseProfile (an object, not a file)", () => {
  it("validates a profile object built in code", async () => {
    const loaded = await parseProfile(
      {
        target: "http://127.0.0.1:8080",
        phases: [{ name: "p1", rps: 5, duration: 2, pauseAfter: "1s", mix: { normal: 1, security: 1 } }],
      },
      { source: "inline", baseDir: dir, env: {} },
    );
    expect(loaded.profile.phases[0]).toMatchObject({
      name: "p1",
      pauseAfterMs: 1000,
      weights: { normal: 1, security: 1 },
    });
    await expect(parseProfile({ phases: [] }, { source: "inline", baseDir: dir, env: {} })).rejects.toThrow(
      "inline: phases: must hold at least one phase",
    );
  });
});
