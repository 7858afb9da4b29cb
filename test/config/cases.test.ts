import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfile, requestHeaders } from "../../src/config/profile.js";
import { profileWithFlags } from "../../src/config/resolve-profile.js";
import {
  buildCaseRequest,
  caseCorpus,
  describeExpectation,
  expectationOf,
  normalizeCase,
  parseCsvRows,
  type CustomCase,
} from "../../src/config/profile-cases.js";
import {
  checkCase,
  classifyCase,
  jsonEqual,
  matchesCase,
  parseJsonPath,
  type CaseExpectation,
} from "../../src/scenarios/expect.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";

const body = (value: unknown): Buffer =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
const expectation = (partial: Partial<CaseExpectation>): CaseExpectation => ({ json: [], ...partial });

describe("checkCase / matchesCase: a response against a case's expectation", () => {
  const ok = expectationOf("api", {
    status: [200, "204-206"],
    json: { "$.data.items[1].id": 7, "meta.ok": true },
  });
  const document = { data: { items: [{ id: 1 }, { id: 7, extra: "x" }] }, meta: { ok: true } };

  it.each<[string, number, Buffer | null, CaseExpectation, boolean, string | undefined]>([
    ["status and JSON values match", 200, body(document), ok, true, undefined],
    ["a status in a range", 205, body(document), ok, true, undefined],
    ["a status outside", 500, body(document), ok, false, "status 500, expected 200, 204-206"],
    [
      "a JSON value differs",
      200,
      body({ ...document, meta: { ok: false } }),
      ok,
      false,
      "meta.ok: false, expected true",
    ],
    [
      "a JSON path is missing",
      200,
      body({ data: { items: [] }, meta: { ok: true } }),
      ok,
      false,
      "$.data.items[1].id: missing",
    ],
    [
      "the body is not JSON",
      200,
      body("<html>"),
      ok,
      false,
      "the body is not JSON (or is longer than the 64 KiB kept)",
    ],
    ["no body", 200, null, ok, false, "the body is not JSON (or is longer than the 64 KiB kept)"],
    ["blocked: 403", 403, null, expectation({ blocked: true }), true, undefined],
    [
      "blocked: 200 with blocked true",
      200,
      body({ blocked: true }),
      expectation({ blocked: true }),
      true,
      undefined,
    ],
    [
      "a probe answered 200",
      200,
      body({ blocked: false }),
      expectation({ blocked: true }),
      false,
      "not blocked (status 200)",
    ],
    ["a benign request blocked", 403, null, expectation({ blocked: false }), false, "blocked (status 403)"],
    ["no status rule: any status", 418, null, expectation({}), true, undefined],
    [
      "objects compare by content, not key order",
      200,
      body({ a: { x: 1, y: [1, 2] } }),
      expectation({ json: [{ path: "a", segments: ["a"], value: { y: [1, 2], x: 1 } }] }),
      true,
      undefined,
    ],
  ])("%s", (_name, statusCode, responseBody, expected, matched, reason) => {
    expect(checkCase(statusCode, responseBody, expected)).toEqual(
      reason === undefined ? { matched } : { matched, reason },
    );
    expect(matchesCase(statusCode, responseBody, expected)).toBe(matched);
  });

  it("classifyCase: an expected status is not a target error; everything else as classifyResponse", () => {
    const notFound = expectationOf("negative", { status: 404 });
    expect(classifyCase(404, null, notFound)).toEqual({ outcome: "success" });
    expect(classifyCase(500, null, notFound)).toEqual({ outcome: "error", errorKind: "http_500" });
    expect(classifyCase(403, null, notFound)).toEqual({ outcome: "blocked" });
    expect(classifyCase(200, body({ blocked: true }), expectationOf("normal", undefined))).toEqual({
      outcome: "blocked",
    });
    expect(classifyCase(200, null, expectationOf("normal", undefined))).toEqual({ outcome: "success" });
  });

  it("parseJsonPath reads $-paths, dot paths, indexes and quoted keys", () => {
    expect(parseJsonPath("$.data.items[0].id")).toEqual({ segments: ["data", "items", 0, "id"] });
    expect(parseJsonPath("data.items.0.id")).toEqual({ segments: ["data", "items", 0, "id"] });
    expect(parseJsonPath('$["odd key"].x')).toEqual({ segments: ["odd key", "x"] });
    expect(parseJsonPath("[2]")).toEqual({ segments: [2] });
    expect(parseJsonPath("$")).toEqual({ error: "empty path (expected e.g. $.data.id)" });
    expect(parseJsonPath("$.a..b")).toEqual({ error: "empty name at position 5" });
    expect(parseJsonPath("$.a[x]")).toEqual({
      error: '"[x]" at position 4: expected an index [0] or a quoted key ["name"]',
    });
    expect(parseJsonPath("$x")).toEqual({ error: 'unexpected "x" at position 2' });
  });

  it("jsonEqual is structural", () => {
    expect(jsonEqual([1, { a: null }], [1, { a: null }])).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual([1], { 0: 1 })).toBe(false);
    expect(jsonEqual(1, "1")).toBe(false);
  });
});

describe("expectations by default follow the spec's categories", () => {
  it.each<[string, Parameters<typeof expectationOf>[1], string]>([
    ["normal", undefined, "status 2xx, not blocked"],
    ["llm", undefined, "status 2xx, not blocked"],
    ["security", undefined, "blocked"],
    ["policy", undefined, "blocked"],
    ["custom", undefined, "status 2xx, not blocked"],
    ["api", { json: { ok: true } }, "status 2xx, ok == true"],
    ["api", { blocked: true }, "blocked"],
    ["api", { blocked: false }, "status 2xx, not blocked"],
    ["api", { status: "4xx" }, "status 4xx"],
    ["api", { status: [201, "300-302"], blocked: false }, "status 201, 300-302, not blocked"],
  ])("%s %j -> %s", (category, expect_, text) => {
    expect(describeExpectation(expectationOf(category, expect_))).toBe(text);
  });
});

describe("requests and the mix of custom cases", () => {
  const base = {
    basePath: "/api",
    defaultPath: "/v1/execute",
    headers: [
      ["authorization", "Bearer t"],
      ["X-Team", "a"],
    ] as Array<[string, string]>,
  };

  it("buildCaseRequest: method, base path, body and header precedence (case > profile > defaults)", () => {
    const post = normalizeCase(
      {
        name: "p",
        category: "api",
        body: { q: 1 },
        headers: { "x-team": "b", "Content-Type": "application/vnd.x+json" },
      },
      "cases[0]",
    );
    expect(buildCaseRequest(post, base)).toEqual({
      method: "POST",
      path: "/api/v1/execute",
      headers: [
        "user-agent",
        "load-test/0.1",
        "Content-Type",
        "application/vnd.x+json",
        "authorization",
        "Bearer t",
        "x-team",
        "b",
      ],
      body: Buffer.from('{"q":1}'),
    });
    const get = normalizeCase({ name: "g", category: "api", path: "/items?page=2" }, "cases[1]");
    expect(buildCaseRequest(get, base)).toMatchObject({
      method: "GET",
      path: "/api/items?page=2",
      body: undefined,
    });
    expect(buildCaseRequest(get, base).headers).not.toContain("content-type");
  });

  it("caseCorpus spreads a heavy case through its category's rotation", () => {
    const make = (name: string, category: string, weight: number): CustomCase =>
      normalizeCase({ name, category, weight }, name);
    const cases = [make("a", "api", 3), make("b", "api", 1), make("h", "health", 1), make("x", "unused", 1)];
    const { weights, corpus } = caseCorpus(cases, { api: 4, health: 1, unused: 0, empty: 2 });
    expect(weights).toEqual({ api: 4, health: 1 });
    expect(corpus.api?.map((testCase) => testCase.name)).toEqual(["a", "a", "b", "a"]);
    expect(corpus.health?.map((testCase) => testCase.name)).toEqual(["h"]);
    expect(corpus.unused).toBeUndefined();
  });

  it("parseCsvRows: RFC 4180 quoting, CRLF, a byte-order mark and blank lines", () => {
    expect(parseCsvRows('\ufeffa,b\r\n"x,1","say ""hi"""\r\n\r\n"multi\nline",\n')).toEqual([
      { line: 1, cells: ["a", "b"] },
      { line: 2, cells: ["x,1", 'say "hi"'] },
      { line: 4, cells: ["multi\nline", ""] },
    ]);
  });
});

describe("examples/rest-api.yaml against the reference gateway", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ port: 0 });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it("every case's request meets its expectation (the example is right about the API)", async () => {
    const loaded = profileWithFlags(await loadProfile("examples/rest-api.yaml", {}), {
      target: gateway.url,
    });
    const { profile } = loaded;
    const base = {
      basePath: new URL(profile.target as string).pathname.replace(/\/$/, ""),
      defaultPath: profile.path,
      headers: requestHeaders(loaded),
    };
    const outcomes: string[] = [];
    for (const testCase of profile.cases ?? []) {
      const prepared = buildCaseRequest(testCase, base);
      const headers: Record<string, string> = {};
      for (let k = 0; k < prepared.headers.length; k += 2)
        headers[prepared.headers[k] as string] = prepared.headers[k + 1] as string;
      const response = await request(new URL(prepared.path, gateway.url), {
        method: prepared.method as "GET",
        headers,
        ...(prepared.body ? { body: prepared.body } : {}),
      });
      const responseBody = Buffer.from(await response.body.arrayBuffer());
      const check = checkCase(response.statusCode, responseBody, testCase.expect);
      expect(check, `${testCase.name}: ${check.reason ?? ""}`).toEqual({ matched: true });
      outcomes.push(
        `${testCase.name}:${classifyCase(response.statusCode, responseBody, testCase.expect).outcome}`,
      );
    }
    // Negative tests answered as they should be count as successes; the SQL injection as a block.
    expect(outcomes).toEqual([
      "health:success",
      "execute-chat:success",
      "sql-injection-blocked:blocked",
      "not-found:success",
      "wrong-method:success",
      "invalid-json:success",
      "no-bearer-token:success",
    ]);
  });
});
