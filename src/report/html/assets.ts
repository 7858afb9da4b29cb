import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/**
 * uPlot's browser build and stylesheet, read once from the installed package and inlined into
 * every page, so a report opens from file:// with no network request (docs/REPORTS.md).
 */
export interface ChartLibrary {
  script: string;
  css: string;
}

let cached: ChartLibrary | undefined;

export function chartLibrary(): ChartLibrary {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const dist = (file: string): string => require.resolve(`uplot/dist/${file}`);
  cached = {
    script: readFileSync(dist("uPlot.iife.min.js"), "utf8"),
    css: readFileSync(dist("uPlot.min.css"), "utf8"),
  };
  return cached;
}
