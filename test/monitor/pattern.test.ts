import { describe, expect, it } from "vitest";
import { InputError } from "../../src/config/errors.js";
import { matchesPattern, parseMetricPattern } from "../../src/monitor/pattern.js";

const matches = (pattern: string, name: string, labels: Record<string, string> = {}): boolean =>
  matchesPattern(parseMetricPattern(pattern), name, labels);

describe("--monitor-metric patterns", () => {
  it("a name matches only itself", () => {
    expect(matches("http_requests_total", "http_requests_total")).toBe(true);
    expect(matches("http_requests_total", "http_requests_total_x")).toBe(false);
    expect(matches("http_requests_total", "xhttp_requests_total")).toBe(false);
  });

  it("globs: * any run of characters, ? one", () => {
    expect(matches("*pool*", "hikaricp_pool_active")).toBe(true);
    expect(matches("*pool*", "axonflow_gateway_llm_pool_in_use")).toBe(true);
    expect(matches("*pool*", "go_goroutines")).toBe(false);
    expect(matches("node_cpu_?", "node_cpu_x")).toBe(true);
    expect(matches("node_cpu_?", "node_cpu_xy")).toBe(false);
  });

  it("label matchers: = != =~ !~, regexes anchored as in PromQL, a missing label reads as empty", () => {
    const pattern = 'http_requests_total{code=~"5..",method!="GET"}';
    expect(matches(pattern, "http_requests_total", { code: "503", method: "POST" })).toBe(true);
    expect(matches(pattern, "http_requests_total", { code: "503", method: "GET" })).toBe(false);
    expect(matches(pattern, "http_requests_total", { code: "1503", method: "POST" })).toBe(false);
    expect(matches(pattern, "http_requests_total", { code: "200", method: "POST" })).toBe(false);
    expect(matches('x{a!~"b|c"}', "x", { a: "c" })).toBe(false);
    expect(matches('x{a!~"b|c"}', "x", { a: "d" })).toBe(true);
    expect(matches('x{a=""}', "x", {})).toBe(true);
    expect(matches('{job="api"}', "anything", { job: "api" })).toBe(true);
    expect(matches('x{a="say \\"hi\\", ok"}', "x", { a: 'say "hi", ok' })).toBe(true);
  });

  it("bad patterns are an InputError naming the flag", () => {
    for (const bad of ["", "1abc", "x{code=5}", 'x{code="5"', 'x{code=~"("}', "x-y"]) {
      expect(() => parseMetricPattern(bad), bad).toThrow(InputError);
      expect(() => parseMetricPattern(bad), bad).toThrow(/^--monitor-metric: /);
    }
  });
});
