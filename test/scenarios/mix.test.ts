import { describe, expect, it } from "vitest";
import { CaseMix, MIXED_WEIGHTS } from "../../src/scenarios/mix.js";
import type { Category, TestCase } from "../../src/scenarios/types.js";

const fakeCase = (category: Category, n: number): TestCase => ({
  id: `${category}/${n}`,
  category,
  prompt: `${category} ${n}`,
  mode: category === "llm" ? "llm" : "chat",
  expect: category === "security" || category === "policy" ? "block" : "allow",
  note: "test",
});
const corpus = {
  normal: [0, 1, 2].map((n) => fakeCase("normal", n)),
  security: [0, 1].map((n) => fakeCase("security", n)),
  policy: [0].map((n) => fakeCase("policy", n)),
  llm: [0].map((n) => fakeCase("llm", n)),
};

describe("CaseMix", () => {
  it("gives the mixed blend 80/10/10 exactly in every cycle of ten", () => {
    const mix = new CaseMix(MIXED_WEIGHTS, corpus);
    for (let start = 0; start < 100; start += 10) {
      const counts: Record<string, number> = {};
      for (let i = start; i < start + 10; i++) {
        const category = mix.caseOf(i).category;
        counts[category] = (counts[category] ?? 0) + 1;
      }
      expect(counts).toEqual({ normal: 8, security: 1, policy: 1 });
    }
  });

  it("spreads blocked categories instead of clumping them", () => {
    const mix = new CaseMix(MIXED_WEIGHTS, corpus);
    const positions = [...Array(10).keys()].filter((i) => mix.caseOf(i).category !== "normal");
    expect(positions).toHaveLength(2);
    expect(Math.abs((positions[1] as number) - (positions[0] as number))).toBeGreaterThanOrEqual(3);
  });

  it("rotates through every case of a category, as a pure function of i", () => {
    const mix = new CaseMix({ security: 1 }, corpus);
    expect([0, 1, 2, 3].map((i) => mix.caseOf(i).id)).toEqual([
      "security/0",
      "security/1",
      "security/0",
      "security/1",
    ]);
    const mixed = new CaseMix(MIXED_WEIGHTS, corpus);
    const again = new CaseMix(MIXED_WEIGHTS, corpus);
    for (let i = 0; i < 200; i++) expect(mixed.caseOf(i)).toBe(again.caseOf(i));
    const normalIds = new Set(
      [...Array(100).keys()]
        .map((i) => mixed.caseOf(i))
        .filter((c) => c.category === "normal")
        .map((c) => c.id),
    );
    expect(normalIds.size).toBe(3);
  });

  it("rejects an empty mix and a category without cases", () => {
    expect(() => new CaseMix({}, corpus)).toThrow(RangeError);
    expect(() => new CaseMix({ normal: 1 }, { ...corpus, normal: [] })).toThrow(/no test cases/);
  });
});
