import { chartLibrary } from "./assets.js";
import { CLIENT_SCRIPT } from "./client.js";
import { PAGE_CSS } from "./style.js";

/**
 * A report page as data (docs/REPORTS.md "Building a page"): sections of server-rendered HTML
 * (tables, readable without JavaScript) and charts, which the inlined client script draws with
 * uPlot. Every view (a run, a ladder, phases, and later comparisons) builds a `PageSpec`; this
 * module turns one into a self-contained HTML document or, for the live dashboard, into the part
 * of it that changes.
 */

/** A series of one chart: y values aligned with the chart's x values; null leaves a gap. */
export interface SeriesSpec {
  label: string;
  values: Array<number | null>;
  /** CSS colour of the line. */
  color: string;
  dash?: boolean;
  /** Which y axis: "y" (left, default) or "y2" (right, with the chart's `y2` label). */
  scale?: "y" | "y2";
}

/** A horizontal band shaded between two y values (target and degraded bounds). */
export interface BandSpec {
  fromY: number;
  toY: number;
  label: string;
  /** CSS colour with transparency, e.g. "rgba(0,160,0,0.08)". */
  color: string;
}

/** A vertical line at an x value, labelled (the ladder's saturation). */
export interface MarkerSpec {
  x: number;
  label: string;
  color: string;
}

/**
 * One chart. `x.kind`:
 * - "seconds": seconds since the run's start; charts with the same `sync` key share the cursor,
 *   and the page gives them one x range, so they read on one time axis;
 * - "percentile": x = 1/(1-p) on a log axis labelled as percentiles (HdrHistogram's percentile
 *   spectrum), p from 0 to 99.99%;
 * - "linear" / "log": any other numeric x (e.g. a ladder's asked rate).
 */
export interface ChartSpec {
  id: string;
  title: string;
  x: { label: string; kind: "seconds" | "percentile" | "linear" | "log"; values: number[] };
  y: { label: string; log?: boolean; min?: number };
  y2?: { label: string };
  series: SeriesSpec[];
  bands?: BandSpec[];
  markers?: MarkerSpec[];
  /** Charts with the same key share the cursor (hover one, all show that x). */
  sync?: string;
}

/** A piece of a section, in order: HTML (escaped by whoever built it) or a chart. */
export type Block = { html: string } | { chart: ChartSpec };

export interface SectionSpec {
  /** Unique on the page (an HTML id). */
  id: string;
  title: string;
  blocks: Block[];
  /** Nested sections (a phase's or a ladder step's run), rendered as sub-headings. */
  sections?: SectionSpec[];
}

export interface PageSpec {
  title: string;
  /** One line under the title (e.g. the verdict); HTML, escaped by the builder. */
  subtitle?: string;
  sections: SectionSpec[];
}

/** What the live dashboard sends each second: the page's changing part and its charts. */
export interface PageUpdate {
  title: string;
  main: string;
  charts: ChartSpec[];
  /** The run is over: this is the final report; the page stops listening. */
  final: boolean;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] as string);
}

/** JSON inside a <script> element: `<` escaped, so no value can close the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function renderSection(section: SectionSpec, depth: number, charts: ChartSpec[]): string {
  const heading = `h${Math.min(depth + 2, 4)}`;
  const parts = [`<section id="${escapeHtml(section.id)}" class="depth-${depth}">`];
  parts.push(`<${heading}>${escapeHtml(section.title)}</${heading}>`);
  for (const block of section.blocks) {
    if ("html" in block) {
      parts.push(block.html);
    } else {
      charts.push(block.chart);
      parts.push(
        `<figure class="chart" id="${escapeHtml(block.chart.id)}" data-chart="${escapeHtml(block.chart.id)}">` +
          `<figcaption>${escapeHtml(block.chart.title)}</figcaption><div class="plot"></div>` +
          `<noscript><p class="note">Charts need JavaScript; the tables hold the figures.</p></noscript></figure>`,
      );
    }
  }
  for (const child of section.sections ?? []) parts.push(renderSection(child, depth + 1, charts));
  parts.push("</section>");
  return parts.join("\n");
}

/** The page's main content and the charts in it, in order. */
export function renderMain(page: PageSpec): { main: string; charts: ChartSpec[] } {
  const charts: ChartSpec[] = [];
  const body = page.sections.map((section) => renderSection(section, 0, charts)).join("\n");
  const subtitle = page.subtitle === undefined ? "" : `<p class="subtitle">${page.subtitle}</p>`;
  return { main: `<h1>${escapeHtml(page.title)}</h1>${subtitle}\n${body}`, charts };
}

export interface RenderOptions {
  /** Serve live: the page listens for updates at this path (Server-Sent Events). */
  liveEventsPath?: string;
}

/** A whole self-contained HTML document: uPlot, styles, script and data inlined. */
export function renderPage(page: PageSpec, options: RenderOptions = {}): string {
  const { main, charts } = renderMain(page);
  const library = chartLibrary();
  const data = { charts, live: options.liveEventsPath ?? null };
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No request leaves the page: everything it needs is inline (docs/REPORTS.md).
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'self'">`,
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${library.css}\n${PAGE_CSS}</style>`,
    "</head>",
    "<body>",
    `<main id="report">${main}</main>`,
    `<script id="report-data" type="application/json">${scriptJson(data)}</script>`,
    `<script>${library.script}</script>`,
    `<script>${CLIENT_SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** The live dashboard's message for a page (see PageUpdate). */
export function pageUpdate(page: PageSpec, final: boolean): PageUpdate {
  return { title: page.title, ...renderMain(page), final };
}
