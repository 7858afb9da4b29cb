import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../../src/metrics/result.js";
import { runCli } from "../../helpers/cli.js";
import { launchChromium, watchPage, type BrowserSession } from "../../helpers/browser.js";
import { allowEverything, startLocalServer, type LocalServer } from "../../helpers/servers.js";

/** The live dashboard (`--dashboard`) in a real browser during a real run (docs/REPORTS.md). */

let session: BrowserSession;
const servers: LocalServer[] = [];

beforeAll(async () => {
  session = await launchChromium();
}, 60_000);

afterAll(async () => {
  await session?.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Resolves with the dashboard URL the CLI prints on stderr at start. */
function dashboardUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no dashboard URL printed:\n${seen}`)), 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /live dashboard on (http:\/\/\S+)/.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
}

describe("--dashboard", () => {
  it("serves the page live: it updates at least twice during the run and ends on the final verdict", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    const dir = await mkdtemp(join(tmpdir(), "load-test-dashboard-"));
    const out = join(dir, "run.json");
    let url: Promise<string> | undefined;
    const cli = runCli(
      [
        "--target",
        server.url,
        "--category",
        "normal",
        "--rps",
        "50",
        "--duration",
        "5s",
        "--dashboard",
        "127.0.0.1:0",
        "--out",
        out,
        "--quiet",
      ],
      { onSpawn: (child) => (url = dashboardUrl(child)) },
    );
    const page = await session.browser.newPage();
    const watch = watchPage(page);
    const address = await (url as Promise<string>);
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await page.goto(address);
    // Live updates while the run sends, then the final report.
    await page.waitForSelector('body[data-live="final"]', { timeout: 30_000 });
    const updates = Number(await page.getAttribute("body", "data-updates"));
    expect(updates).toBeGreaterThanOrEqual(3);
    const finished = await cli;
    expect([0, 3], finished.stderr).toContain(finished.code);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    expect(((await page.locator('[data-field="verdict.level"]').textContent()) ?? "").trim()).toContain(
      result.verdict.level,
    );
    expect(((await page.locator('[data-field="latencyMs.p99"]').textContent()) ?? "").trim()).toBe(
      String(result.latencyMs.p99),
    );
    // The final page has the histograms: the spectra are drawn.
    expect(await page.locator("figure.chart").count()).toBe(6);
    expect(watch.errors).toEqual([]);
    expect(watch.requests.every((request) => request.startsWith(address))).toBe(true);
    await page.close();
  }, 60_000);

  it("does not slow the run: a browser that never reads changes nothing, and the run ends on time", async () => {
    const server = await startLocalServer(allowEverything);
    servers.push(server);
    let url: Promise<string> | undefined;
    const sockets: Array<import("node:net").Socket> = [];
    const cli = runCli(
      [
        "--target",
        server.url,
        "--category",
        "normal",
        "--rps",
        "50",
        "--duration",
        "3s",
        "--dashboard",
        "127.0.0.1:0",
        "--quiet",
      ],
      { onSpawn: (child) => (url = dashboardUrl(child)) },
    );
    const address = new URL(await (url as Promise<string>));
    // A stalled browser: asks for the stream, then never reads a byte.
    const { connect } = await import("node:net");
    const socket = connect(Number(address.port), address.hostname, () => {
      socket.write(`GET /events HTTP/1.1\r\nHost: ${address.host}\r\n\r\n`);
      socket.pause();
    });
    sockets.push(socket);
    const started = performance.now();
    const finished = await cli;
    const elapsedMs = performance.now() - started;
    expect([0, 3], finished.stderr).toContain(finished.code);
    // 3 s of sending plus start-up and the final report; a run held by the browser would hang.
    expect(elapsedMs).toBeLessThan(15_000);
    expect(finished.stdout).toContain("150 completed");
    for (const open of sockets) open.destroy();
  }, 60_000);

  it("demo binds its dashboard once (it checks its outputs before the gateway starts)", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as import("node:net").AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const cli = await runCli(
      [
        "demo",
        "--rates",
        "10",
        "--step",
        "1s",
        "--warmup",
        "0s",
        "--quiet",
        "--dashboard",
        `127.0.0.1:${port}`,
      ],
      { timeoutMs: 60_000 },
    );
    expect([0, 3], cli.stderr).toContain(cli.code);
    expect(cli.stderr.match(/live dashboard on /g)).toHaveLength(1);
    expect(cli.stderr).toContain(`live dashboard on http://127.0.0.1:${port}/`);
  }, 60_000);

  it("refuses an address in use with one line naming --dashboard, exit 2", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const { port } = busy.address() as import("node:net").AddressInfo;
    try {
      const cli = await runCli([
        "--target",
        "http://127.0.0.1:9",
        "--rps",
        "1",
        "--duration",
        "1s",
        "--dashboard",
        `127.0.0.1:${port}`,
      ]);
      expect(cli.code).toBe(2);
      expect(cli.stderr).toMatch(
        new RegExp(`^load-test: error: --dashboard: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      busy.close();
    }
  });
});
