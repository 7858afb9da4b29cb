/**
 * The scraped page cut down to the families the monitor reads, as its bytes arrive
 * (docs/MONITOR.md "Off the hot path"): most of a large exporter's page is series nobody asked
 * for, and parsing all of them each interval was most of the monitor's CPU. Lines are grouped
 * into families exactly as parse-prometheus-text-format groups them (a `# HELP`/`# TYPE` line or
 * a sample whose name is not the current family's, nor its `_count`/`_sum`/`_bucket` when it is a
 * summary or histogram, starts a new family), so what is kept parses as it would have in the whole
 * page. Dropped sample lines are still checked for shape (a metric name, then a number), so a page
 * that is not Prometheus text is refused whatever it holds.
 */
import { StringDecoder } from "node:string_decoder";
import { NotPrometheusError } from "./exposition.js";

/** Whether a family is kept, by its name (the name of its first line). */
export type WantedFamily = (familyName: string) => boolean;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SPECIAL = new Set(["nan", "inf", "+inf", "-inf"]);

/** A number as Prometheus reads one (Go's ParseFloat: NaN and Inf in any case). */
function isSampleValue(token: string): boolean {
  return token !== "" && (!Number.isNaN(Number(token)) || SPECIAL.has(token.toLowerCase()));
}

/** The first token from `from` (blanks before it skipped). */
function tokenAt(line: string, from: number): string {
  let start = from;
  while (start < line.length && (line.charCodeAt(start) === 0x20 || line.charCodeAt(start) === 0x09)) start++;
  let end = start;
  while (end < line.length && line.charCodeAt(end) !== 0x20 && line.charCodeAt(end) !== 0x09) end++;
  return line.slice(start, end);
}

/** The name ending a sample line's name: `{`, a blank, or the end. */
function nameEnd(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (code === 0x7b /* { */ || code === 0x20 || code === 0x09) return i;
  }
  return line.length;
}

export class PageFilter {
  private readonly decoder = new StringDecoder("utf8");
  /** The last line, still incomplete. */
  private pending = "";
  private readonly kept: string[] = [];
  private started = false;
  private family: string | undefined;
  private familyType: string | undefined;
  private keep = false;
  /** The current family's name is a metric name (checked once, when it starts). */
  private nameChecked = false;
  /** Sample lines seen, kept or not. */
  samples = 0;
  /** Families seen, and those kept. */
  families = 0;
  keptFamilies = 0;

  constructor(private readonly wanted: WantedFamily) {}

  /** The next bytes of the page. Throws NotPrometheusError as soon as the page is seen not to be. */
  write(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    const newline = text.lastIndexOf("\n");
    if (newline < 0) {
      // No line ends here: appended without scanning, so a page without newlines costs no more.
      this.pending += text;
      return;
    }
    const complete = this.pending + text.slice(0, newline);
    this.pending = text.slice(newline + 1);
    this.lines(complete);
  }

  /** The kept lines, one per line, for parsePage. */
  end(): string {
    const rest = this.pending + this.decoder.end();
    this.pending = "";
    if (rest !== "") this.lines(rest);
    return this.kept.length === 0 ? "" : `${this.kept.join("\n")}\n`;
  }

  private lines(text: string): void {
    let from = 0;
    while (from <= text.length) {
      let to = text.indexOf("\n", from);
      if (to < 0) to = text.length;
      if (this.continuesDropped(text, from)) this.samples += 1;
      else this.line(text.slice(from, to));
      from = to + 1;
    }
  }

  /**
   * A further sample of a dropped family whose first sample was checked: skipped unread (most of
   * a large page), without even being cut out of the text.
   */
  private continuesDropped(text: string, from: number): boolean {
    const family = this.family;
    if (this.keep || !this.nameChecked || family === undefined || !text.startsWith(family, from))
      return false;
    const next = text.charCodeAt(from + family.length);
    return next === 0x7b || next === 0x20 || next === 0x09;
  }

  private line(raw: string): void {
    const line = raw.trim();
    if (line === "") return;
    if (!this.started) {
      this.started = true;
      // HTML error pages and JSON bodies; the rest of the page is not read.
      const first = line[0];
      if (first === "<" || first === "{" || first === "[")
        throw new NotPrometheusError("not Prometheus text");
    }
    if (line.startsWith("#")) {
      this.metadata(line);
      return;
    }
    this.samples += 1;
    const end = nameEnd(line);
    const name = line.slice(0, end);
    if (name !== this.family && !this.sameFamily(name)) this.startFamily(name, undefined);
    if (this.keep) {
      this.kept.push(line);
      return;
    }
    // Not parsed, but checked: a metric name, then (after the labels) a number.
    if (name !== this.family || !this.nameChecked) {
      if (!METRIC_NAME.test(name)) this.refuse(line);
      this.nameChecked = name === this.family;
    }
    const labelsEnd = line.charCodeAt(end) === 0x7b ? line.lastIndexOf("}") : end - 1;
    if (labelsEnd < end - 1 || !isSampleValue(tokenAt(line, labelsEnd + 1))) this.refuse(line);
  }

  private refuse(line: string): never {
    throw new NotPrometheusError(`not Prometheus text (cannot read the line "${line.slice(0, 80)}")`);
  }

  /** `# HELP name …` and `# TYPE name type` lines belong to their family; other comments go. */
  private metadata(line: string): void {
    const help = line.startsWith("# HELP ");
    if (!help && !line.startsWith("# TYPE ")) return;
    const rest = line.slice(7);
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const type = help || space < 0 ? undefined : rest.slice(space + 1).toUpperCase();
    if (name !== this.family) this.startFamily(name, type);
    else if (this.familyType === undefined && type !== undefined) this.familyType = type;
    if (this.keep) this.kept.push(line);
  }

  /** A summary's or histogram's suffixed samples stay in its family (as the parser reads them). */
  private sameFamily(name: string): boolean {
    const family = this.family;
    if (family === undefined || !name.startsWith(family)) return false;
    const suffix = name.slice(family.length);
    if (this.familyType === "SUMMARY") return suffix === "_count" || suffix === "_sum";
    if (this.familyType === "HISTOGRAM")
      return suffix === "_count" || suffix === "_sum" || suffix === "_bucket";
    return false;
  }

  private startFamily(name: string, type: string | undefined): void {
    this.family = name;
    this.familyType = type;
    this.keep = this.wanted(name);
    this.nameChecked = false;
    this.families += 1;
    if (this.keep) this.keptFamilies += 1;
  }
}

/** The whole page at once (tests, and pages that are already text). */
export function filterPage(text: string, wanted: WantedFamily): string {
  const filter = new PageFilter(wanted);
  filter.write(Buffer.from(text));
  return filter.end();
}
