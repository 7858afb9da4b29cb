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
  /** The bytes of the last line, still incomplete (no newline in them). */
  private tail: Buffer[] = [];
  private readonly kept: string[] = [];
  private started = false;
  private family: string | undefined;
  /** The current family's name as bytes, to recognise its further samples undecoded. */
  private familyBytes: Buffer | undefined;
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

  /**
   * The next bytes of the page. Lines are split on the bytes themselves (a newline byte is never
   * part of a UTF-8 character), and only lines that are read are decoded. Throws
   * NotPrometheusError as soon as the page is seen not to be Prometheus text.
   */
  write(chunk: Buffer): void {
    if (chunk.indexOf(0x0a) < 0) {
      // No line ends here: kept aside unscanned, so a page without newlines costs no more.
      this.tail.push(chunk);
      return;
    }
    const bytes = this.tail.length === 0 ? chunk : Buffer.concat([...this.tail, chunk]);
    let from = 0;
    for (let to = bytes.indexOf(0x0a); to >= 0; to = bytes.indexOf(0x0a, from)) {
      if (this.continuesDropped(bytes, from)) this.samples += 1;
      else this.line(bytes.toString("utf8", from, to));
      from = to + 1;
    }
    this.tail = from < bytes.length ? [bytes.subarray(from)] : [];
  }

  /** The kept lines, one per line, for parsePage. */
  end(): string {
    const rest = Buffer.concat(this.tail).toString("utf8");
    this.tail = [];
    if (rest !== "") this.line(rest);
    return this.kept.length === 0 ? "" : `${this.kept.join("\n")}\n`;
  }

  /**
   * A further sample of a dropped family whose first sample was checked: skipped undecoded (most
   * of a large page).
   */
  private continuesDropped(bytes: Buffer, from: number): boolean {
    const name = this.familyBytes;
    if (this.keep || !this.nameChecked || name === undefined || from + name.length >= bytes.length)
      return false;
    for (let i = 0; i < name.length; i++) if (bytes[from + i] !== name[i]) return false;
    const next = bytes[from + name.length];
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
    this.familyBytes = Buffer.from(name);
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
