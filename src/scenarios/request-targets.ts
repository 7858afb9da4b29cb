import type { RunOptions } from "../config/options.js";

/**
 * What a run's requests ask for, as reports name it: the built-in corpora all `POST` to
 * `--path`; a profile's own cases each have a method and may have a path of their own
 * (docs/PROFILES.md "Cases"), so the summary and the results list those instead of `--path`.
 */
export interface RequestTargets {
  /** The path every request uses; with several, the profile's `path` (and `paths` lists them). */
  path: string;
  /** `METHOD /path` of each distinct request the run sends, when it sends a profile's own cases. */
  paths?: string[];
  /** The category as written: `mixed`, a built-in one or a custom case category. */
  category: string;
}

export function requestTargets(
  options: Pick<RunOptions, "path" | "category" | "categoryLabel" | "customCases">,
): RequestTargets {
  const category = options.categoryLabel ?? options.category;
  if (!options.customCases) return { path: options.path, category };
  const paths = new Set<string>();
  const methodPaths = new Set<string>();
  for (const cases of Object.values(options.customCases.corpus)) {
    for (const testCase of cases) {
      const path = testCase.path ?? options.path;
      paths.add(path);
      methodPaths.add(`${testCase.method} ${path}`);
    }
  }
  const only = paths.size === 1 ? [...paths][0] : undefined;
  return { path: only ?? options.path, paths: [...methodPaths].sort(), category };
}

/** `http://host/orders` or `http://host GET /health, POST /orders`: the start line and the summary header. */
export function describeTargets(base: string, targets: Pick<RequestTargets, "path" | "paths">): string {
  if (targets.paths && targets.paths.length > 1) return `${base} ${targets.paths.join(", ")}`;
  return `${base}${targets.path}`;
}
