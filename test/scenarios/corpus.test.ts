import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORPUS } from "../../src/scenarios/corpus.js";
import { CATEGORIES, type Category, type TestCase } from "../../src/scenarios/types.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { evaluatePolicies, POLICIES } from "../../src/gateway/policies.js";

const ALL: TestCase[] = CATEGORIES.flatMap((c) => [...CORPUS[c]]);

const MINIMUM: Record<Category, number> = { normal: 30, security: 20, policy: 15, llm: 10 };
const EXPECTED: Record<Category, { expect: TestCase["expect"]; mode: TestCase["mode"] }> = {
  normal: { expect: "allow", mode: "chat" },
  security: { expect: "block", mode: "chat" },
  policy: { expect: "block", mode: "chat" },
  llm: { expect: "allow", mode: "llm" },
};

describe("corpus shape", () => {
  it.each(CATEGORIES)("%s meets its minimum size, expectation and mode", (category) => {
    const cases = CORPUS[category];
    expect(cases.length).toBeGreaterThanOrEqual(MINIMUM[category]);
    for (const c of cases) {
      expect(c.category).toBe(category);
      expect(c.expect).toBe(EXPECTED[category].expect);
      expect(c.mode).toBe(EXPECTED[category].mode);
      expect(c.id.startsWith(`${category}/`)).toBe(true);
      expect(c.id).toMatch(/^[a-z]+\/[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(c.prompt.trim().length).toBeGreaterThan(0);
      expect(c.note.length).toBeGreaterThan(0);
    }
  });

  it("has globally unique ids and prompts", () => {
    expect(new Set(ALL.map((c) => c.id)).size).toBe(ALL.length);
    expect(new Set(ALL.map((c) => c.prompt)).size).toBe(ALL.length);
  });

  it("is deeply frozen", () => {
    expect(Object.isFrozen(CORPUS)).toBe(true);
    for (const c of CATEGORIES) expect(Object.isFrozen(CORPUS[c])).toBe(true);
    expect(Object.isFrozen(ALL[0])).toBe(true);
  });

  it("exercises every blocking policy from the security and policy categories", () => {
    const hit = new Set(
      [...CORPUS.security, ...CORPUS.policy].map((c) => evaluatePolicies(c.prompt).policyId),
    );
    const blocking = POLICIES.filter((p) => p.action === "block").map((p) => p.id);
    expect(blocking.filter((id) => !hit.has(id))).toEqual([]);
  });

  it("includes the near misses the gateway must not block", () => {
    const prompts = CORPUS.normal.map((c) => c.prompt).join("\n");
    for (const phrase of [
      /European Union/,
      /select the best option/i,
      /drop me a line/i,
      /delete key/i,
      /update the table of contents/i,
      /\bignore\b/i,
      /\+1 \(415\) 555-0132/,
      /\b\d{9}\b/,
      /\b1234 5678 9012 3456\b/,
    ]) {
      expect(prompts).toMatch(phrase);
    }
  });
});

describe.each(CATEGORIES)("%s cases against evaluatePolicies", (category) => {
  it.each(CORPUS[category].map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const verdict = evaluatePolicies(c.prompt);
    expect(verdict.blocked, `${c.id}: ${c.note}`).toBe(c.expect === "block");
  });
});

describe("every case over HTTP", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ llmLatencyMs: { min: 1, max: 5 } });
  });
  afterAll(async () => {
    await gw.close();
  });

  it.each(ALL.map((c) => [c.id, c] as const))("%s", async (_id, c) => {
    const res = await fetch(`${gw.url}/v1/execute`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer demo-org" },
      body: JSON.stringify({ prompt: c.prompt, mode: c.mode }),
    });
    const json = (await res.json()) as { blocked: boolean; provider?: string };
    expect(res.status, `${c.id}: ${c.note}`).toBe(c.expect === "allow" ? 200 : 403);
    expect(json.blocked).toBe(c.expect === "block");
    if (c.mode === "llm" && c.expect === "allow") expect(json.provider).toBe("mock");
  });

  it("counted every case in the gateway's metrics", () => {
    const stats = gw.stats();
    const blocks = ALL.filter((c) => c.expect === "block").length;
    expect(stats.requests.blocked).toBe(blocks);
    expect(stats.requests.allowed).toBe(ALL.length - blocks);
    expect(stats.requests.rejected + stats.requests.error).toBe(0);
  });
});
