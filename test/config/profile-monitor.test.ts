/**
 * A profile's `monitor:` section (docs/PROFILES.md "monitor"): the `--monitor…` flags as fields,
 * each checked at load with a one-line problem naming its field, and each replaced by its flag
 * when the flag is typed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProfile, ProfileError } from "../../src/config/profile.js";
import { profileWithFlags } from "../../src/config/resolve-profile.js";
import { parseMonitorFlags } from "../../src/monitor/options.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "load-test-profile-monitor-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BASE = "target: http://127.0.0.1:8080\nrps: 10\nduration: 5s\n";

async function load(yaml: string) {
  const path = join(dir, "p.yaml");
  await writeFile(path, BASE + yaml);
  return loadProfile(path, {});
}

async function problemsOf(yaml: string): Promise<string[]> {
  try {
    await load(yaml);
  } catch (error) {
    if (error instanceof ProfileError) return error.problems;
    throw error;
  }
  throw new Error("expected a ProfileError");
}

const SECTION = `monitor:
  scrape: [http://127.0.0.1:9100/metrics, http://127.0.0.1:8080/metrics]
  interval: 500ms
  metrics: ['http_requests_total{code=~"5.."}', "*pool*"]
  prometheus: http://127.0.0.1:9090
  queries:
    cpu: rate(process_cpu_seconds_total[15s])
    up: up
  logs: [/var/log/app.log]
  logPattern: "ERROR|panic"
`;

describe("the monitor section", () => {
  it("stands for the --monitor… flags", async () => {
    const { profile } = profileWithFlags(await load(SECTION), {});
    expect(parseMonitorFlags(profile.monitor ?? {})).toEqual({
      scrapeUrls: ["http://127.0.0.1:9100/metrics", "http://127.0.0.1:8080/metrics"],
      intervalMs: 500,
      metricPatterns: ['http_requests_total{code=~"5.."}', "*pool*"],
      prometheus: {
        url: "http://127.0.0.1:9090",
        queries: [
          { name: "cpu", query: "rate(process_cpu_seconds_total[15s])" },
          { name: "up", query: "up" },
        ],
      },
      logFiles: ["/var/log/app.log"],
      logPattern: "ERROR|panic",
    });
    // Seconds as a number, as every duration of a profile.
    const seconds = profileWithFlags(
      await load("monitor: {scrape: [http://127.0.0.1:9100/metrics], interval: 2}\n"),
      {},
    );
    expect(parseMonitorFlags(seconds.profile.monitor ?? {})?.intervalMs).toBe(2000);
    // No section, no flag: no monitor.
    expect(profileWithFlags(await load(""), {}).profile.monitor).toBeUndefined();
  });

  it("typed flags replace their field, the others stay", async () => {
    const { profile } = profileWithFlags(await load(SECTION), {
      monitor: ["http://127.0.0.1:9999/metrics"],
      monitorInterval: "2s",
    });
    const options = parseMonitorFlags(profile.monitor ?? {});
    expect(options?.scrapeUrls).toEqual(["http://127.0.0.1:9999/metrics"]);
    expect(options?.intervalMs).toBe(2000);
    expect(options?.metricPatterns).toEqual(['http_requests_total{code=~"5.."}', "*pool*"]);
    expect(options?.logFiles).toEqual(["/var/log/app.log"]);
    // Flags alone, over a profile without the section.
    const flagsOnly = profileWithFlags(await load(""), { monitorLog: ["/tmp/a.log"] });
    expect(parseMonitorFlags(flagsOnly.profile.monitor ?? {})?.logFiles).toEqual(["/tmp/a.log"]);
  });

  it("each bad field is one line naming it", async () => {
    const cases: Array<[string, RegExp]> = [
      [
        "monitor: {scrape: [ftp://127.0.0.1/metrics]}",
        /^monitor\.scrape\[0\]: must be an http:\/\/ or https:\/\/ URL/,
      ],
      ["monitor: {scrape: http://127.0.0.1/metrics}", /^monitor\.scrape: must be a list of URLs/],
      [
        "monitor: {scrape: [http://127.0.0.1/metrics], interval: 5ms}",
        /^monitor\.interval: must be a duration from 100ms to 60s, got "5ms"/,
      ],
      [
        "monitor: {scrape: [http://127.0.0.1/metrics], interval: soon}",
        /^monitor\.interval: must be a duration from 100ms/,
      ],
      [
        "monitor: {scrape: [http://127.0.0.1/metrics], metrics: ['x{a=b}']}",
        /^monitor\.metrics: cannot read the label matcher "a=b"/,
      ],
      ["monitor: {metrics: ['*pool*']}", /^monitor\.metrics: needs a --monitor URL/],
      ["monitor: {queries: {cpu: up}}", /^monitor\.queries: needs --monitor-prometheus URL/],
      [
        "monitor: {prometheus: http://127.0.0.1:9090}",
        /^monitor\.prometheus: needs at least one --monitor-query/,
      ],
      [
        "monitor: {prometheus: http://127.0.0.1:9090, queries: {'1bad': up}}",
        /^monitor\.queries\["1bad"\]: not a series name/,
      ],
      [
        "monitor: {logs: [/tmp/a.log], logPattern: '('}",
        /^monitor\.logPattern: not a regular expression: "\("/,
      ],
      [
        "monitor: {urls: [http://127.0.0.1/metrics]}",
        /^monitor\.urls: unknown key; known keys: scrape, interval/,
      ],
    ];
    for (const [yaml, message] of cases) {
      const problems = await problemsOf(`${yaml}\n`);
      expect(problems, yaml).toHaveLength(1);
      expect(problems[0]?.split("\n"), yaml).toHaveLength(1);
      expect(problems[0], yaml).toMatch(message);
    }
  });
});
