import type { CustomCase } from "../config/profile-cases.js";
import { buildCaseRequest } from "../config/profile-cases.js";
import type { Outcome } from "../metrics/result.js";
import type { PreparedRequest } from "../transport/request.js";
import { classifyResponse, matchesExpectation } from "./classify.js";
import { CORPUS } from "./corpus.js";
import { classifyCase, matchesCase } from "./expect.js";
import { CaseMix } from "./mix.js";
import type { TestCase } from "./types.js";

export interface Judgement {
  outcome: Outcome;
  errorKind?: string;
  matched: boolean;
}

/**
 * What a run sends and how it judges the answers: request i -> (category, case) by the mix, a
 * request prepared once per case, and the case's expectation. Built-in corpora and custom
 * cases from a profile are both scenarios, so the engine does not care which it runs.
 */
export interface Scenario {
  readonly categories: readonly string[];
  categoryIndexOf(index: number): number;
  caseIndexOf(index: number): number;
  request(categoryIndex: number, caseIndex: number): PreparedRequest;
  judge(categoryIndex: number, caseIndex: number, statusCode: number, body: Buffer | null): Judgement;
  /** True when some case must be blocked (enables the "policy might not be active" check). */
  readonly expectsBlocks: boolean;
}

export interface RequestBase {
  /** Target URL path without a trailing slash (`http://h/api` -> `/api`). */
  basePath: string;
  /** The run's `--path`. */
  path: string;
  /** Authorization first, then extra headers. */
  headers: ReadonlyArray<readonly [string, string]>;
}

const USER_AGENT = "load-test/0.1";

/** The parts every scenario shares: the mix picks (category, case); requests are prepared per case. */
function mixedScenario<T>(
  mix: CaseMix<T>,
  requests: PreparedRequest[][],
  judge: Scenario["judge"],
  expectsBlocks: boolean,
): Scenario {
  return {
    categories: mix.categories,
    categoryIndexOf: (index) => mix.categoryIndexOf(index),
    caseIndexOf: (index) => mix.caseIndexOf(index),
    request: (categoryIndex, caseIndex) =>
      (requests[categoryIndex] as PreparedRequest[])[caseIndex] as PreparedRequest,
    judge,
    expectsBlocks,
  };
}

/** The built-in corpora of the methodology's categories, sent as `{"prompt", "mode"}` to `--path`. */
export function builtInScenario(
  weights: Readonly<Record<string, number | undefined>>,
  base: RequestBase,
): Scenario {
  const mix = new CaseMix<TestCase>(weights, CORPUS);
  const headers = ["content-type", "application/json", "user-agent", USER_AGENT, ...base.headers.flat()];
  const cases = mix.categories.map((category) => CORPUS[category as keyof typeof CORPUS]);
  const requests = cases.map((corpus) =>
    corpus.map((testCase) => ({
      method: "POST",
      path: base.basePath + base.path,
      headers,
      body: Buffer.from(JSON.stringify({ prompt: testCase.prompt, mode: testCase.mode })),
    })),
  );
  return mixedScenario(
    mix,
    requests,
    (categoryIndex, caseIndex, statusCode, body) => {
      const { outcome, errorKind } = classifyResponse(statusCode, body);
      const expected = ((cases[categoryIndex] as readonly TestCase[])[caseIndex] as TestCase).expect;
      return { outcome, errorKind, matched: matchesExpectation(outcome, expected) };
    },
    cases.some((corpus) => corpus.some((testCase) => testCase.expect === "block")),
  );
}

/** A profile's own cases for any HTTP API (docs/PROFILES.md), each with its own expectation. */
export function customScenario(
  corpus: Readonly<Record<string, readonly CustomCase[]>>,
  weights: Readonly<Record<string, number>>,
  base: RequestBase,
): Scenario {
  const mix = new CaseMix<CustomCase>(weights, corpus);
  const cases = mix.categories.map((category) => corpus[category] as readonly CustomCase[]);
  const requestBase = { basePath: base.basePath, defaultPath: base.path, headers: base.headers };
  const requests = cases.map((members) => members.map((testCase) => buildCaseRequest(testCase, requestBase)));
  return mixedScenario(
    mix,
    requests,
    (categoryIndex, caseIndex, statusCode, body) => {
      const expectation = ((cases[categoryIndex] as readonly CustomCase[])[caseIndex] as CustomCase).expect;
      const { outcome, errorKind } = classifyCase(statusCode, body, expectation);
      return { outcome, errorKind, matched: matchesCase(statusCode, body, expectation) };
    },
    cases.some((members) => members.some((testCase) => testCase.expect.blocked === true)),
  );
}
