/**
 * Options of the Prometheus export (`--metric-prefix`, `--client`, `--environment`, `--provider`,
 * `--label`, `--pushgateway*`, `--push-interval`, `--prometheus-file`, `--metrics-listen`), validated
 * up front so that a bad flag fails before any request is sent. See docs/PROMETHEUS.md.
 */
import { parseDurationMs, timerLimitProblem } from "../config/duration.js";
import { displayTarget } from "../config/options.js";

/** A flag of the Prometheus export has an invalid value; `flag` names it (e.g. `--label`). */
export class PrometheusOptionError extends Error {
  constructor(
    public readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
    this.name = "PrometheusOptionError";
  }
}

/** The methodology's metric names ("Metrics Collection"): `axonflow_load_test_latency_ms`, `axonflow_load_test_requests_total`. */
export const DEFAULT_METRIC_PREFIX = "axonflow_load_test";
export const DEFAULT_PUSHGATEWAY_JOB = "load-test";
export const DEFAULT_PUSH_INTERVAL_MS = 10_000;

/**
 * Label names the exporter sets itself (or the Pushgateway / Prometheus set), so `--label` may not
 * use them: a clash would silently overwrite one of the two values.
 */
export const RESERVED_LABEL_NAMES: ReadonlySet<string> = new Set([
  // the methodology's labels, each with its own flag
  "client",
  "test_type",
  "environment",
  "provider",
  // set per series by the exporter
  "run_id",
  "status",
  "kind",
  "quantile",
  "le",
  "target",
  "path",
  // set by the Pushgateway grouping key or by Prometheus at scrape time
  "job",
  "instance",
]);

/** Label names that look like credentials; labels end up in every TSDB and dashboard that sees them. */
const CREDENTIAL_LIKE_NAME = /auth|token|secret|passw|api_?key|cookie|credential|session/i;
/** Label values that look like an Authorization header value. */
const CREDENTIAL_LIKE_VALUE = /^(bearer|basic|digest|token)\s+\S/i;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Colons are legal in metric names but reserved for recording rules, so the prefix may not use them. */
const METRIC_PREFIX = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface PushgatewayOptions {
  /** Base URL of the Pushgateway (http or https; may hold basic-auth credentials, never shown in messages). */
  url: string;
  /** `job` of the grouping key. */
  job: string;
  /** `instance` of the grouping key, for shards of one run; absent for a single generator. */
  instance?: string;
  /** Period of the pushes during the run; 0 pushes only at the end. */
  intervalMs: number;
  /** Delete the run's group from the Pushgateway after the final push. */
  deleteAfter: boolean;
  /** A failed final push (or requested delete) makes `finish()` report `fatal`. */
  fatal: boolean;
  /** Attempts per push (first try included). */
  attempts: number;
  /** Timeout of one attempt (connect + request + response). */
  attemptTimeoutMs: number;
  /** Wait before the first retry; doubles for each further retry. */
  backoffMs: number;
  /** Upper bound of all Pushgateway work done by `finish()` (final push, retries and delete). */
  finishBudgetMs: number;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface PrometheusOptions {
  /** Replaces `axonflow_load_test` in every metric name. */
  metricPrefix: string;
  client?: string;
  environment?: string;
  /** LLM provider; set on the series of categories that call an LLM. */
  provider?: string;
  /** `--label k=v` labels, set on every series. */
  extraLabels: Record<string, string>;
  pushgateway?: PushgatewayOptions;
  /** Write the final metrics in text exposition format here. */
  prometheusFile?: string;
  /** Serve live `/metrics` here during the run. */
  metricsListen?: ListenAddress;
}

/** Raw flag values as the CLI (commander) hands them over. */
export interface RawPrometheusOptions {
  metricPrefix?: string;
  client?: string;
  environment?: string;
  provider?: string;
  /** `--label k=v`, repeatable. */
  labels?: string[];
  pushgateway?: string;
  /** `--push-interval`, a duration as `--duration` takes it ("10s", "500ms", "1m"); "0" pushes only at the end. */
  pushInterval?: string;
  pushgatewayDeleteAfter?: boolean;
  pushgatewayFatal?: boolean;
  pushgatewayJob?: string;
  /** Grouping key `instance`, e.g. the shard ("1/4") of a run split over several generators. */
  pushgatewayInstance?: string;
  prometheusFile?: string;
  /** `host:port`, `[v6]:port` or `:port` (all interfaces); port 0 picks a free port. */
  metricsListen?: string;
}

/** Parses and validates the flags; throws the first problem as a {@link PrometheusOptionError}. */
export function parsePrometheusOptions(raw: RawPrometheusOptions): PrometheusOptions {
  const { options, errors } = checkPrometheusOptions(raw);
  if (errors[0] !== undefined) throw errors[0];
  if (options === undefined) throw new Error("unreachable: no options and no errors");
  return options;
}

/** Like {@link parsePrometheusOptions}, but returns every problem at once (the CLI can list them all). */
export function checkPrometheusOptions(raw: RawPrometheusOptions): {
  options?: PrometheusOptions;
  errors: PrometheusOptionError[];
} {
  const errors: PrometheusOptionError[] = [];
  const fail = (flag: string, message: string): undefined => {
    errors.push(new PrometheusOptionError(flag, message));
    return undefined;
  };

  const metricPrefix = raw.metricPrefix ?? DEFAULT_METRIC_PREFIX;
  if (!METRIC_PREFIX.test(metricPrefix) || metricPrefix.startsWith("__")) {
    fail(
      "--metric-prefix",
      `${JSON.stringify(metricPrefix)} is not a valid metric name prefix: use letters, digits and _ ` +
        "(not first a digit, not starting with __), e.g. axonflow_load_test",
    );
  }

  const labelValue = (flag: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    if (trimmed === "") return fail(flag, "must not be empty");
    if (CREDENTIAL_LIKE_VALUE.test(trimmed)) {
      return fail(flag, "looks like an Authorization header value; credentials never go into labels");
    }
    return trimmed;
  };
  const client = labelValue("--client", raw.client);
  const environment = labelValue("--environment", raw.environment);
  const provider = labelValue("--provider", raw.provider);

  const extraLabels: Record<string, string> = {};
  for (const entry of raw.labels ?? []) {
    const eq = entry.indexOf("=");
    if (eq < 0) {
      fail("--label", `${JSON.stringify(entry)}: expected name=value, e.g. --label region=eu-west-1`);
      continue;
    }
    const name = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (!LABEL_NAME.test(name)) {
      fail(
        "--label",
        `${JSON.stringify(name)} is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`,
      );
    } else if (name.startsWith("__")) {
      fail("--label", `${JSON.stringify(name)}: names starting with __ are reserved for Prometheus`);
    } else if (RESERVED_LABEL_NAMES.has(name)) {
      const own = ["client", "environment", "provider"].includes(name) ? ` (use --${name})` : "";
      fail("--label", `${JSON.stringify(name)} is set by the exporter itself${own}`);
    } else if (CREDENTIAL_LIKE_NAME.test(name)) {
      fail("--label", `${JSON.stringify(name)} looks like a credential; credentials never go into labels`);
    } else if (Object.hasOwn(extraLabels, name)) {
      fail("--label", `${JSON.stringify(name)} is given twice`);
    } else if (value === "") {
      fail("--label", `${JSON.stringify(name)} has an empty value (Prometheus treats it as no label)`);
    } else if (CREDENTIAL_LIKE_VALUE.test(value)) {
      fail("--label", `the value of ${JSON.stringify(name)} looks like an Authorization header value`);
    } else {
      extraLabels[name] = value;
    }
  }

  let pushgateway: PushgatewayOptions | undefined;
  const intervalMs =
    raw.pushInterval === undefined ? DEFAULT_PUSH_INTERVAL_MS : parseInterval(raw.pushInterval, fail);
  if (raw.pushgateway !== undefined) {
    const url = parsePushgatewayUrl(raw.pushgateway, fail);
    const job = raw.pushgatewayJob ?? DEFAULT_PUSHGATEWAY_JOB;
    if (job.trim() === "" || job.includes("/")) {
      fail("--pushgateway-job", `${JSON.stringify(job)}: must be non-empty and contain no "/"`);
    }
    const instance = raw.pushgatewayInstance;
    if (instance !== undefined && instance.trim() === "") {
      fail("--pushgateway-instance", "must not be empty");
    }
    if (url !== undefined && intervalMs !== undefined) {
      pushgateway = {
        url,
        job,
        ...(instance !== undefined ? { instance } : {}),
        intervalMs,
        deleteAfter: raw.pushgatewayDeleteAfter ?? false,
        fatal: raw.pushgatewayFatal ?? false,
        attempts: 3,
        attemptTimeoutMs: 2_000,
        backoffMs: 250,
        finishBudgetMs: 10_000,
      };
    }
  } else {
    if (raw.pushgatewayDeleteAfter === true) fail("--pushgateway-delete-after", "needs --pushgateway URL");
    if (raw.pushgatewayFatal === true) fail("--pushgateway-fatal", "needs --pushgateway URL");
    if (raw.pushgatewayJob !== undefined) fail("--pushgateway-job", "needs --pushgateway URL");
  }

  let prometheusFile: string | undefined;
  if (raw.prometheusFile !== undefined) {
    if (raw.prometheusFile.trim() === "") fail("--prometheus-file", "must not be empty");
    else prometheusFile = raw.prometheusFile;
  }

  const metricsListen =
    raw.metricsListen === undefined ? undefined : parseListenAddress(raw.metricsListen, fail);

  if (errors.length > 0) return { errors };
  return {
    errors,
    options: {
      metricPrefix,
      ...(client !== undefined ? { client } : {}),
      ...(environment !== undefined ? { environment } : {}),
      ...(provider !== undefined ? { provider } : {}),
      extraLabels,
      ...(pushgateway !== undefined ? { pushgateway } : {}),
      ...(prometheusFile !== undefined ? { prometheusFile } : {}),
      ...(metricsListen !== undefined ? { metricsListen } : {}),
    },
  };
}

type Fail = (flag: string, message: string) => undefined;

/** Shortest period between pushes; faster only loads the Pushgateway (Prometheus scrapes every 10-60 s). */
const MIN_PUSH_INTERVAL_MS = 100;

function parseInterval(text: string, fail: Fail): number | undefined {
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    return fail("--push-interval", `${JSON.stringify(text)}: expected a duration such as 10s, 500ms or 1m`);
  }
  const tooLong = timerLimitProblem(ms);
  if (tooLong) return fail("--push-interval", tooLong);
  if (ms !== 0 && ms < MIN_PUSH_INTERVAL_MS) {
    return fail(
      "--push-interval",
      `${JSON.stringify(text)}: at least ${MIN_PUSH_INTERVAL_MS}ms (or 0: final push only)`,
    );
  }
  return Math.round(ms);
}

function parsePushgatewayUrl(text: string, fail: Fail): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail("--pushgateway", `${JSON.stringify(text)} is not a URL; expected e.g. http://127.0.0.1:9091`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail("--pushgateway", `${url.protocol} is not supported; use an http:// or https:// URL`);
  }
  if (url.search !== "" || url.hash !== "") {
    return fail("--pushgateway", "must not have a query string or fragment");
  }
  return text;
}

const LISTEN = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/;

/** `host:port`, `[v6]:port` or `:port` (all interfaces) for `flag` (`--metrics-listen`, `--dashboard`). */
export function parseListenAddress(
  text: string,
  fail: Fail,
  flag = "--metrics-listen",
  examplePort = 9464,
): ListenAddress | undefined {
  const match = LISTEN.exec(text.trim());
  const portText = match?.[3];
  if (match === null || portText === undefined) {
    return fail(
      flag,
      `${JSON.stringify(text)}: expected host:port, e.g. 127.0.0.1:${examplePort} ([::1]:${examplePort}, :${examplePort} for all interfaces)`,
    );
  }
  const port = Number(portText);
  if (port > 65_535) return fail(flag, `port ${port} is out of range (0-65535)`);
  const host = match[1] ?? (match[2] === "" || match[2] === undefined ? "0.0.0.0" : match[2]);
  return { host, port };
}

/** The URL without credentials, query or fragment: safe for messages, logs and labels. */
export function redactUrl(text: string): string {
  try {
    return displayTarget(new URL(text));
  } catch {
    return text.replace(/[?#].*$/, "").replace(/\/\/[^/@]*@/, "//");
  }
}
