/**
 * The scrape's pre-filter (page-filter.ts): only the families the monitor reads reach the parser,
 * they parse exactly as they would have in the whole page, whatever the chunks the page arrives
 * in, and a page that is not Prometheus text is still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotPrometheusError, parsePage, readPage, wantedFamily } from "../../src/monitor/exposition.js";
import { filterPage, PageFilter } from "../../src/monitor/page-filter.js";
import { parseMetricPattern } from "../../src/monitor/pattern.js";
import { startGateway, type RunningGateway } from "../../src/gateway/gateway.js";
import { startNodeExporter, type NodeExporter } from "../helpers/node-exporter.js";

const PAGE = [
  "# A comment nobody reads",
  "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
  "# TYPE process_cpu_seconds_total counter",
  "process_cpu_seconds_total 12.5",
  "# HELP unrelated_bytes Something nobody asked for.",
  "# TYPE unrelated_bytes gauge",
  'unrelated_bytes{device="sda"} 1',
  'unrelated_bytes{device="sdb"} 2',
  "# HELP http_requests_total Requests by code (é, a two-byte character).",
  "# TYPE http_requests_total counter",
  'http_requests_total{code="200",method="GET"} 10',
  'http_requests_total{code="503",method="GET"} 3',
  "# HELP req_duration_seconds Request durations.",
  "# TYPE req_duration_seconds histogram",
  'req_duration_seconds_bucket{le="0.1"} 4',
  'req_duration_seconds_bucket{le="+Inf"} 5',
  "req_duration_seconds_sum 0.7",
  "req_duration_seconds_count 5",
  "# TYPE db_pool_in_use gauge",
  'db_pool_in_use{db="main"} 3',
  "# TYPE db_pool_max gauge",
  'db_pool_max{db="main"} 10',
  "untyped_other 7",
  "",
].join("\n");

const names = (text: string): string[] => parsePage(text).map((family) => family.name);
const wanted = (...patterns: string[]) => wantedFamily(patterns.map((text) => parseMetricPattern(text)));

describe("the page filter", () => {
  it("keeps the families the monitor reads, with their HELP and TYPE lines, and drops the rest", () => {
    const kept = filterPage(PAGE, wanted());
    expect(names(kept)).toEqual(["process_cpu_seconds_total", "db_pool_in_use", "db_pool_max"]);
    expect(kept).toContain("# HELP process_cpu_seconds_total Total user and system CPU time");
    expect(kept).toContain("# TYPE process_cpu_seconds_total counter");
    expect(kept).not.toContain("A comment nobody reads");
    expect(kept).not.toContain("unrelated_bytes");
    // What is kept reads as the whole page does.
    expect(readPage(parsePage(kept), [])).toEqual(readPage(parsePage(PAGE), []));
  });

  it("keeps whole families whose name a --monitor-metric pattern's name part matches", () => {
    const patterns = ['http_requests_total{code=~"5.."}', "*duration*_count"];
    const kept = filterPage(PAGE, wanted(...patterns));
    expect(names(kept)).toEqual([
      "process_cpu_seconds_total",
      "http_requests_total",
      "req_duration_seconds",
      "db_pool_in_use",
      "db_pool_max",
    ]);
    // The family is whole (the label matcher is applied when it is read), HELP and TYPE included.
    expect(kept).toContain('http_requests_total{code="200",method="GET"} 10');
    expect(kept).toContain("# TYPE req_duration_seconds histogram");
    expect(kept).toContain('req_duration_seconds_bucket{le="+Inf"} 5');
    const parsed = patterns.map((text) => parseMetricPattern(text));
    expect(readPage(parsePage(kept), parsed)).toEqual(readPage(parsePage(PAGE), parsed));
    expect(names(filterPage(PAGE, wanted("unrelated_*")))).toContain("unrelated_bytes");
    expect(names(filterPage(PAGE, wanted("untyped_other")))).toContain("untyped_other");
  });

  it("gives the same kept lines whatever the chunks: families and characters split anywhere", () => {
    const whole = filterPage(PAGE, wanted("http_requests_total"));
    const bytes = Buffer.from(PAGE);
    for (const size of [1, 2, 3, 7, 50, 101]) {
      const filter = new PageFilter(wanted("http_requests_total"));
      for (let at = 0; at < bytes.length; at += size) filter.write(bytes.subarray(at, at + size));
      expect(filter.end(), `chunks of ${size} bytes`).toBe(whole);
    }
    // A page without its last newline keeps its last line.
    expect(filterPage("go_goroutines 12", wanted())).toBe("go_goroutines 12\n");
  });

  it("of a 5 MB page of series nobody asked for, keeps only what is read", () => {
    // The overhead bench's page (bench/big-metrics-server.mjs) with a process's CPU at its end.
    const rows: string[] = [];
    for (let family = 0; family < 465; family += 1) {
      rows.push(`# HELP bench_family_${family} a family\n# TYPE bench_family_${family} counter\n`);
      for (let i = 0; i < 200; i += 1)
        rows.push(`bench_family_${family}_total{device="dev${i}",mode="m${i % 8}"} ${family * 1000 + i}\n`);
    }
    rows.push("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 4.5\n");
    const bytes = Buffer.from(rows.join(""));
    expect(bytes.length).toBeGreaterThan(5_000_000);
    const filter = new PageFilter(wanted());
    for (let at = 0; at < bytes.length; at += 65_536) filter.write(bytes.subarray(at, at + 65_536));
    const kept = filter.end();
    expect(kept).toBe("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 4.5\n");
    expect(filter.samples).toBe(465 * 200 + 1);
    expect(filter.keptFamilies).toBe(1);
  });

  it("refuses pages that are not Prometheus text, whichever families are asked for", () => {
    for (const text of [
      "<!doctype html><html><body>login</body></html>",
      "  \n<html>",
      '{"status":"ok"}',
      '[{"metric":1}]',
      "hello world this is not metrics\n",
      "nginx_up 1\nthis is not a number\n",
      'broken_labels{a="1" 2\n',
      "404 page not found\n",
    ]) {
      expect(() => filterPage(text, wanted()), text).toThrow(NotPrometheusError);
    }
    // Refused at the first chunk: the rest of an HTML page is never read.
    const filter = new PageFilter(wanted());
    expect(() => filter.write(Buffer.from("<!doctype html>\n<p>"))).toThrow(NotPrometheusError);
    // Comments only, or nothing, is an empty Prometheus page.
    expect(filterPage("# just a comment\n\n", wanted())).toBe("");
    expect(filterPage("", wanted())).toBe("");
    expect(() => filterPage("a Nan\nb +Inf\nc -inf\nd NaN\ne 1e-3 1700000000000\n", wanted())).not.toThrow();
  });
});

describe("on real pages", () => {
  let gateway: RunningGateway;
  let exporter: NodeExporter;

  beforeAll(async () => {
    gateway = await startGateway({ llmConcurrency: 7 });
    exporter = await startNodeExporter();
  }, 30_000);

  afterAll(async () => {
    await gateway?.close();
    await exporter?.stop();
  });

  it("reads the gateway's and node_exporter's pages as the whole pages read, from a fraction of them", async () => {
    for (const url of [`${gateway.url}/metrics`, exporter.url]) {
      const text = await (await fetch(url)).text();
      const patterns = [parseMetricPattern("*requests_total"), parseMetricPattern('node_load1{job!="x"}')];
      const kept = filterPage(text, wantedFamily(patterns));
      expect(readPage(parsePage(kept), patterns), url).toEqual(readPage(parsePage(text), patterns));
      expect(kept.length, url).toBeLessThan(text.length / 2);
    }
  });
});
