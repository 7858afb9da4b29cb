/**
 * Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`) for `--monitor-prometheus`:
 * instant queries each interval while the run lasts, one range query over the run's window at
 * the end (docs/MONITOR.md "A Prometheus server").
 */
import { fetchBounded, FetchProblem, type FetchOptions } from "./fetch-bounded.js";

export interface QuerySeries {
  labels: Record<string, string>;
  points: Array<{ atMs: number; value: number }>;
}

interface ApiAnswer {
  status?: string;
  error?: string;
  data?: {
    resultType?: string;
    result?: Array<{
      metric?: Record<string, string>;
      value?: [number, string];
      values?: Array<[number, string]>;
    }>;
  };
}

function apiUrl(base: string, path: string, params: Record<string, string>): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/$/, "")}${path}`;
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

async function ask(
  url: string,
  options: Omit<FetchOptions, "accept">,
): Promise<NonNullable<ApiAnswer["data"]>> {
  const { text } = await fetchBounded(url, { ...options, accept: "application/json" }).catch(
    (error: unknown) => {
      // Prometheus answers a bad query with HTTP 400 and its reason in JSON.
      if (error instanceof FetchProblem && error.body !== "") {
        const reason = (() => {
          try {
            return (JSON.parse(error.body) as ApiAnswer).error;
          } catch {
            return undefined;
          }
        })();
        if (reason) throw new FetchProblem(`${error.message}: ${reason}`);
      }
      throw error;
    },
  );
  let answer: ApiAnswer;
  try {
    answer = JSON.parse(text) as ApiAnswer;
  } catch {
    throw new FetchProblem("not a Prometheus API answer");
  }
  if (answer.status !== "success" || !answer.data) throw new FetchProblem(answer.error ?? "query failed");
  return answer.data;
}

function toSeries(data: NonNullable<ApiAnswer["data"]>): QuerySeries[] {
  if (data.resultType === "scalar") {
    const value = data.result as unknown as [number, string];
    return [{ labels: {}, points: [{ atMs: value[0] * 1000, value: Number(value[1]) }] }];
  }
  return (data.result ?? []).map((entry) => {
    const pairs = entry.values ?? (entry.value ? [entry.value] : []);
    return {
      labels: entry.metric ?? {},
      points: pairs
        .map(([atSec, text]) => ({ atMs: atSec * 1000, value: Number(text) }))
        .filter((point) => Number.isFinite(point.value)),
    };
  });
}

export async function instantQuery(
  base: string,
  query: string,
  atMs: number,
  options: Omit<FetchOptions, "accept">,
): Promise<QuerySeries[]> {
  return toSeries(await ask(apiUrl(base, "/api/v1/query", { query, time: String(atMs / 1000) }), options));
}

export async function rangeQuery(
  base: string,
  query: string,
  range: { fromMs: number; toMs: number; stepMs: number },
  options: Omit<FetchOptions, "accept">,
): Promise<QuerySeries[]> {
  return toSeries(
    await ask(
      apiUrl(base, "/api/v1/query_range", {
        query,
        start: String(range.fromMs / 1000),
        end: String(range.toMs / 1000),
        step: `${Math.max(1, Math.round(range.stepMs / 1000))}s`,
      }),
      options,
    ),
  );
}
