/**
 * Custom test cases of a profile (`cases:` inline, `casesFile:` JSONL or CSV): any HTTP API, not
 * only the built-in corpora. Each case is one request with an expectation; the engine prepares
 * every case's request once (like the corpora) and judges each response with checkCase.
 */
import { z } from "zod";
import {
  formatStatusRanges,
  parseJsonPath,
  type CaseExpectation,
  type JsonExpectation,
  type StatusRange,
} from "../scenarios/expect.js";
import type { PreparedRequest } from "../transport/request.js";
import { headerNameSchema, headerValueSchema } from "./headers.js";
import { ENFORCING_CATEGORIES } from "../evaluate/methodology.js";
import { CATEGORY_NAME } from "./thresholds.js";

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
const STATUS_TEXT = /^([1-5])xx$|^([1-5]\d\d)-([1-5]\d\d)$/;

const STATUS_MESSAGE = 'must be a status code 100..599, a class like "2xx", or a range like "200-204"';
const statusItem = z
  .union(
    [
      z
        .number()
        .int({ error: STATUS_MESSAGE })
        .min(100, { error: STATUS_MESSAGE })
        .max(599, { error: STATUS_MESSAGE }),
      z.string().regex(STATUS_TEXT, { error: STATUS_MESSAGE }),
    ],
    { error: STATUS_MESSAGE },
  )
  .describe('A status code (200), a class ("2xx") or an inclusive range ("200-204")');

export const caseExpectSchema = z
  .strictObject({
    status: z
      .union([statusItem, z.array(statusItem).min(1, { error: "must list at least one status" })])
      .optional()
      .describe("Accepted statuses. Default 2xx unless blocked is true."),
    blocked: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe('Whether the response must be a policy block (403, or 2xx with "blocked": true)'),
    json: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Values the JSON body must hold: {"$.data.id": 1} or {"data.id": 1}; deep equality'),
  })
  .describe("What a correct response looks like; every given part must hold");

export const caseSchema = z
  .strictObject({
    name: z
      .string({ error: "must be a string" })
      .min(1, { error: "must not be empty" })
      .describe("Unique name of the case (shown in error examples)"),
    category: z
      .string({ error: "must be a string" })
      .regex(CATEGORY_NAME, { error: "must be a category name: lower case letters, digits, _ and -" })
      .describe("Category the case is counted in (per-category results, mix, thresholds)"),
    weight: z
      .number({ error: "must be an integer ≥ 1" })
      .int({ error: "must be an integer ≥ 1" })
      .min(1, { error: "must be an integer ≥ 1" })
      .optional()
      .describe("How often the case is sent relative to the other cases of its category (default 1)"),
    method: z
      .string({ error: "must be a string" })
      .refine((method) => (HTTP_METHODS as readonly string[]).includes(method.toUpperCase()), {
        error: `must be one of ${HTTP_METHODS.join(", ")}`,
      })
      .optional()
      .describe("HTTP method (default POST when the case has a body, GET otherwise)"),
    path: z
      .string({ error: "must be a string" })
      .refine((path) => path.startsWith("/"), { error: 'must start with "/"' })
      .optional()
      .describe("Request path (and query) after the target's base URL; default the profile's path"),
    headers: z
      .record(headerNameSchema, headerValueSchema)
      .optional()
      .describe("Extra headers of this case (override the profile's)"),
    body: z
      .unknown()
      .optional()
      .describe(
        "A string is sent as is; any other JSON value is sent as JSON (content-type application/json)",
      ),
    expect: caseExpectSchema.optional(),
  })
  .describe("One custom request with its expectation");

export type RawCase = z.input<typeof caseSchema>;

/** A validated custom case, ready to prepare. JSON-serializable (no secrets: cases are in files). */
export interface CustomCase {
  name: string;
  category: string;
  weight: number;
  method: string;
  /** Undefined: the profile's `path`. */
  path?: string;
  headers: Array<[string, string]>;
  /** The encoded body and its default content type; undefined for no body. */
  body?: { text: string; contentType: string };
  expect: CaseExpectation;
  /** Where the case was defined: `cases[3]` or `cases.jsonl:12`. */
  source: string;
}

function statusRanges(value: number | string | Array<number | string>): StatusRange[] {
  return (Array.isArray(value) ? value : [value]).map((item) => {
    if (typeof item === "number") return { from: item, to: item };
    const match = STATUS_TEXT.exec(item) as RegExpExecArray;
    if (match[1] !== undefined) return { from: Number(match[1]) * 100, to: Number(match[1]) * 100 + 99 };
    return { from: Number(match[2]), to: Number(match[3]) };
  });
}

/**
 * The expectation of a case. Without `expect`, the methodology's categories decide: security and
 * policy cases must be blocked; every other case must answer 2xx without a block. With
 * `expect`, an absent `status` means 2xx unless `blocked: true` (a block may be a 403 or a 2xx).
 */
export function expectationOf(category: string, expect: RawCase["expect"]): CaseExpectation {
  if (expect === undefined) {
    return ENFORCING_CATEGORIES.includes(category)
      ? { blocked: true, json: [] }
      : { status: [{ from: 200, to: 299 }], blocked: false, json: [] };
  }
  const json: JsonExpectation[] = Object.entries(expect.json ?? {}).map(([path, value]) => {
    const parsed = parseJsonPath(path);
    return { path, segments: "segments" in parsed ? parsed.segments : [], value };
  });
  const status =
    expect.status !== undefined
      ? statusRanges(expect.status)
      : expect.blocked === true
        ? undefined
        : [{ from: 200, to: 299 }];
  return {
    ...(status === undefined ? {} : { status }),
    ...(expect.blocked === undefined ? {} : { blocked: expect.blocked }),
    json,
  };
}

/** Problems zod cannot see: JSON paths, ranges that run backwards. Paths relative to the case. */
export function checkCaseSemantics(raw: RawCase): Array<{ path: Array<string | number>; message: string }> {
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  for (const path of Object.keys(raw.expect?.json ?? {})) {
    const parsed = parseJsonPath(path);
    if ("error" in parsed) problems.push({ path: ["expect", "json", path], message: parsed.error });
  }
  const status = raw.expect?.status;
  (Array.isArray(status) ? status : status === undefined ? [] : [status]).forEach((item, k) => {
    if (typeof item !== "string") return;
    const match = STATUS_TEXT.exec(item);
    if (match?.[2] !== undefined && Number(match[2]) > Number(match[3])) {
      problems.push({
        path: Array.isArray(status) ? ["expect", "status", k] : ["expect", "status"],
        message: `range "${item}" runs backwards`,
      });
    }
  });
  if (raw.body !== undefined && (raw.method ?? "").toUpperCase() === "GET") {
    problems.push({ path: ["body"], message: "a GET request has no body (set method: POST, PUT or PATCH)" });
  }
  return problems;
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A validated raw case as the engine uses it. */
export function normalizeCase(raw: RawCase, source: string): CustomCase {
  let body: CustomCase["body"];
  if (raw.body !== undefined) {
    if (typeof raw.body === "string") {
      // A string that parses as JSON is labeled JSON; anything else is plain text. Case headers can override.
      body = {
        text: raw.body,
        contentType: isJsonText(raw.body) ? "application/json" : "text/plain; charset=utf-8",
      };
    } else {
      body = { text: JSON.stringify(raw.body), contentType: "application/json" };
    }
  }
  return {
    name: raw.name,
    category: raw.category,
    weight: raw.weight ?? 1,
    method: (raw.method ?? (body === undefined ? "GET" : "POST")).toUpperCase(),
    ...(raw.path === undefined ? {} : { path: raw.path }),
    headers: Object.entries(raw.headers ?? {}).map(([name, value]): [string, string] => [
      name,
      String(value),
    ]),
    ...(body === undefined ? {} : { body }),
    expect: expectationOf(raw.category, raw.expect),
    source,
  };
}

/** Describes an expectation for docs and summaries: `status 2xx, not blocked, $.ok == true`. */
export function describeExpectation(expectation: CaseExpectation): string {
  const parts: string[] = [];
  if (expectation.status) parts.push(`status ${formatStatusRanges(expectation.status)}`);
  if (expectation.blocked !== undefined) parts.push(expectation.blocked ? "blocked" : "not blocked");
  for (const entry of expectation.json) parts.push(`${entry.path} == ${JSON.stringify(entry.value)}`);
  return parts.join(", ");
}

// ---------------------------------------------------------------------------------------------
// Data files

/** One record of a data file before validation, with where it came from. */
export interface CaseRecord {
  /** 1-based line of the record's start. */
  line: number;
  value?: unknown;
  /** Set when the record could not be read at all (not JSON, bad CSV cell). */
  error?: string;
}

/** The CSV columns; one row per case. Empty cells are absent fields. */
export const CSV_COLUMNS = [
  "name",
  "category",
  "weight",
  "method",
  "path",
  "headers",
  "body",
  "expect_status",
  "expect_blocked",
  "expect_json",
] as const;

/** JSON Lines: one case object per line; blank lines are skipped. */
export function parseJsonLines(text: string): CaseRecord[] {
  const records: CaseRecord[] = [];
  text.split(/\r?\n/).forEach((line, k) => {
    if (line.trim() === "") return;
    try {
      records.push({ line: k + 1, value: JSON.parse(line) });
    } catch (error) {
      records.push({ line: k + 1, error: `not a JSON object: ${(error as Error).message}` });
    }
  });
  return records;
}

/**
 * RFC 4180 CSV: comma separated, `"…"` quotes a cell (commas, newlines and `""` for a quote
 * inside). Returns rows with the line each starts on.
 */
export function parseCsvRows(text: string): Array<{ line: number; cells: string[] }> {
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let at = 0;
  const endRow = (): void => {
    cells.push(cell);
    if (!(cells.length === 1 && cells[0] === "")) rows.push({ line: rowLine, cells });
    cells = [];
    cell = "";
  };
  if (text.charCodeAt(0) === 0xfeff) at = 1; // byte-order mark from spreadsheet exports
  for (; at < text.length; at++) {
    const char = text[at] as string;
    if (quoted) {
      if (char === '"') {
        if (text[at + 1] === '"') {
          cell += '"';
          at++;
        } else quoted = false;
      } else {
        if (char === "\n") line++;
        cell += char;
      }
    } else if (char === '"' && cell === "") {
      quoted = true;
    } else if (char === ",") {
      cells.push(cell);
      cell = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[at + 1] === "\n") at++;
      endRow();
      line++;
      rowLine = line;
    } else {
      cell += char;
    }
  }
  if (quoted) throw new Error(`line ${rowLine}: a quoted cell is never closed`);
  if (cell !== "" || cells.length > 0) endRow();
  return rows;
}

/** CSV rows as case objects: `expect_status` `200|201` or `2xx`, `expect_blocked` true/false, JSON cells for headers and expect_json. */
export function parseCsvCases(text: string): { records: CaseRecord[]; problems: string[] } {
  let rows: Array<{ line: number; cells: string[] }>;
  try {
    rows = parseCsvRows(text);
  } catch (error) {
    return { records: [], problems: [(error as Error).message] };
  }
  const header = rows.shift();
  if (header === undefined) return { records: [], problems: ["empty file (expected a header row)"] };
  const columns = header.cells.map((cell) => cell.trim());
  const problems: string[] = [];
  columns.forEach((column) => {
    if (!(CSV_COLUMNS as readonly string[]).includes(column))
      problems.push(`line ${header.line}: unknown column "${column}" (columns: ${CSV_COLUMNS.join(", ")})`);
  });
  for (const required of ["name", "category"]) {
    if (!columns.includes(required)) problems.push(`line ${header.line}: missing column "${required}"`);
  }
  if (problems.length > 0) return { records: [], problems };
  const records = rows.map((row): CaseRecord => {
    if (row.cells.length !== columns.length)
      return { line: row.line, error: `${row.cells.length} cells, the header has ${columns.length}` };
    const value: Record<string, unknown> = {};
    const expect: Record<string, unknown> = {};
    for (const [k, column] of columns.entries()) {
      const cell = row.cells[k] as string;
      if (cell.trim() === "") continue;
      const parsed = csvCell(column, cell);
      if ("error" in parsed) return { line: row.line, error: `${column}: ${parsed.error}` };
      if (column.startsWith("expect_")) expect[column.slice("expect_".length)] = parsed.value;
      else value[column] = parsed.value;
    }
    if (Object.keys(expect).length > 0) value.expect = expect;
    return { line: row.line, value };
  });
  return { records, problems: [] };
}

function csvCell(column: string, cell: string): { value: unknown } | { error: string } {
  const text = cell.trim();
  switch (column) {
    case "weight": {
      const weight = Number(text);
      return Number.isFinite(weight) ? { value: weight } : { value: text };
    }
    case "expect_status":
      return {
        value: text.split(/[|\s;]+/).map((item) => (/^\d+$/.test(item) ? Number(item) : item)),
      };
    case "expect_blocked":
      if (/^(true|yes|1)$/i.test(text)) return { value: true };
      if (/^(false|no|0)$/i.test(text)) return { value: false };
      return { error: `"${text}" is not true or false` };
    case "headers":
    case "expect_json":
      try {
        const value: unknown = JSON.parse(text);
        if (value === null || typeof value !== "object" || Array.isArray(value))
          return { error: "must be a JSON object" };
        return { value };
      } catch (error) {
        return { error: `not JSON: ${(error as Error).message}` };
      }
    case "body":
      return { value: cell }; // sent exactly as written (a JSON text is labeled JSON)
    default:
      return { value: text };
  }
}

// ---------------------------------------------------------------------------------------------
// Requests and the mix

/** What every request of a run shares: the target's base path and the resolved headers (auth included). */
export interface CaseRequestBase {
  /** The target URL's path without a trailing slash (`http://h/api` -> `/api`). */
  basePath: string;
  /** The profile's `path`, used by cases without their own. */
  defaultPath: string;
  /** Resolved profile headers, auth first: `requestHeaders(loaded)` in src/config/profile.ts. */
  headers: ReadonlyArray<readonly [string, string]>;
}

const USER_AGENT = "load-test/0.1";

/**
 * The request of a custom case, in the transport's prepared form (encoded once per case).
 * Header precedence, later wins by case-insensitive name: user-agent and the body's content
 * type < auth and profile headers < the case's own headers.
 */
export function buildCaseRequest(testCase: CustomCase, base: CaseRequestBase): PreparedRequest {
  const headers = new Map<string, [string, string]>();
  const put = (name: string, value: string): void => void headers.set(name.toLowerCase(), [name, value]);
  put("user-agent", USER_AGENT);
  if (testCase.body) put("content-type", testCase.body.contentType);
  for (const [name, value] of base.headers) put(name, value);
  for (const [name, value] of testCase.headers) put(name, value);
  return {
    method: testCase.method,
    path: base.basePath + (testCase.path ?? base.defaultPath),
    headers: [...headers.values()].flat(),
    body: testCase.body ? Buffer.from(testCase.body.text) : undefined,
  };
}

/**
 * The corpus and category weights a CaseMix needs for custom cases. Within a category each
 * case appears `weight` times per rotation, interleaved (smooth weighted round-robin, as
 * src/scenarios/mix.ts does for categories) so a heavy case is not sent in clumps.
 * `weights` is the phase's category mix; categories without weight are left out.
 */
export function caseCorpus(
  cases: readonly CustomCase[],
  weights: Readonly<Record<string, number>>,
): { weights: Record<string, number>; corpus: Record<string, CustomCase[]> } {
  const corpus: Record<string, CustomCase[]> = {};
  const used: Record<string, number> = {};
  for (const [category, weight] of Object.entries(weights)) {
    if (!(weight > 0)) continue;
    const members = cases.filter((testCase) => testCase.category === category);
    if (members.length === 0) continue;
    used[category] = weight;
    const total = members.reduce((sum, testCase) => sum + testCase.weight, 0);
    const current = members.map(() => 0);
    const rotation: CustomCase[] = [];
    for (let position = 0; position < total; position++) {
      let best = 0;
      members.forEach((testCase, k) => {
        current[k] = (current[k] as number) + testCase.weight;
        if ((current[k] as number) > (current[best] as number)) best = k;
      });
      current[best] = (current[best] as number) - total;
      rotation.push(members[best] as CustomCase);
    }
    corpus[category] = rotation;
  }
  return { weights: used, corpus };
}
