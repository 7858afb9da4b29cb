import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pageUpdate, renderPage, type PageSpec } from "./page.js";

/**
 * The live dashboard (`--dashboard`, docs/REPORTS.md "Live dashboard"): the report page served
 * over HTTP while a command runs, updated through Server-Sent Events (the `text/event-stream`
 * format of the HTML standard, "Server-sent events"), ending on the final report.
 *
 * The run never waits for a browser: a page is built only when a browser listens, each update
 * is one `write` per browser, and a browser that has not taken the previous update yet (its
 * socket buffer is full) misses this one instead of queueing data in the generator.
 */

export interface ListenAt {
  host: string;
  port: number;
}

export const DEFAULT_DASHBOARD: ListenAt = { host: "127.0.0.1", port: 5665 };

export const EVENTS_PATH = "/events";

const hostInUrl = (host: string): string => (host.includes(":") ? `[${host}]` : host);

export class DashboardServer {
  private readonly clients = new Set<ServerResponse>();
  private latest: (() => PageSpec) | undefined;
  private finalPage: PageSpec | undefined;
  private updatesSent = 0;
  /** Streams ended with the final report, until their last bytes left. */
  private readonly ending: Array<Promise<void>> = [];

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    readonly url: string,
  ) {}

  /** Listens at `at` (port 0: any free port). Rejects with the listen error (address in use …). */
  static async start(at: ListenAt, placeholder: PageSpec): Promise<DashboardServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at.port, at.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // A browser left open must not keep the command's process alive after it is done.
    server.unref();
    const { port } = server.address() as AddressInfo;
    const dashboard = new DashboardServer(server, `http://${hostInUrl(at.host)}:${port}/`);
    dashboard.latest = () => placeholder;
    server.on("request", (request, response) => dashboard.handle(request.url ?? "/", response));
    return dashboard;
  }

  /** Browsers listening now. */
  get listening(): number {
    return this.clients.size;
  }

  /** Updates sent so far, summed over browsers (for tests and the benchmark). */
  get sent(): number {
    return this.updatesSent;
  }

  private handle(path: string, response: ServerResponse): void {
    if (path === EVENTS_PATH) {
      response.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
      });
      // A closed browser leaves the set at once; nothing waits for it.
      response.on("close", () => this.clients.delete(response));
      if (this.finalPage) {
        this.send(response, this.finalPage, true);
        response.end();
        return;
      }
      this.clients.add(response);
      response.write(": connected\n\n");
      return;
    }
    if (path === "/" || path.startsWith("/?")) {
      const page = this.finalPage ?? (this.latest as () => PageSpec)();
      const html = renderPage(page, this.finalPage ? {} : { liveEventsPath: EVENTS_PATH });
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      response.end(html);
      return;
    }
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
  }

  private send(response: ServerResponse, page: PageSpec, final: boolean): void {
    // Each update is the whole page's data on one `data:` line (JSON has no raw newlines).
    response.write(`data: ${JSON.stringify(pageUpdate(page, final))}\n\n`);
    this.updatesSent++;
  }

  /**
   * The page as it is now, built by `build` only if a browser listens; a browser still busy with
   * the previous update skips this one.
   */
  update(build: () => PageSpec): void {
    this.latest = build;
    const ready = [...this.clients].filter((client) => !client.writableNeedDrain);
    if (ready.length === 0) return;
    const page = build();
    this.latest = () => page;
    for (const client of ready) this.send(client, page, false);
  }

  /** The final report: sent to every browser, whose stream then ends; later visitors get it too. */
  finish(page: PageSpec): void {
    this.finalPage = page;
    for (const client of this.clients) {
      this.send(client, page, true);
      this.ending.push(new Promise((resolve) => client.end(resolve)));
    }
    this.clients.clear();
  }

  /** Stops listening once the final report has left (at most a second); open streams end. */
  async close(): Promise<void> {
    for (const client of this.clients) client.end();
    this.clients.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.ending),
      new Promise((resolve) => (timer = setTimeout(resolve, 1000).unref())),
    ]);
    clearTimeout(timer);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
