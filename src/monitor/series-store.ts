/**
 * The monitor's series as they are collected: one point per scrape, counters turned into rates
 * per second between two scrapes (a counter that went down was reset: that interval is skipped,
 * as PromQL's rate() would count from zero). Points are kept in epoch milliseconds and turned
 * into seconds of the run (`t`) only when results are made, so one store serves a ladder's steps.
 */
import type { MonitorPoint, MonitorSeries } from "./types.js";

interface Stored {
  name: string;
  unit: string;
  labels: Record<string, string>;
  counter: boolean;
  last?: { atMs: number; value: number };
  atMs: number[];
  values: number[];
}

export interface StoreInput {
  name: string;
  unit: string;
  labels: Record<string, string>;
  value: number;
  counter: boolean;
}

/** At most this many series over all sources: a `*` pattern on a big exporter stays bounded. */
export const MAX_SERIES = 500;

export class SeriesStore {
  private readonly series = new Map<string, Stored>();

  /** Adds one point; false when the series is new and the store is full. */
  add(input: StoreInput, atMs: number): boolean {
    const key = `${input.name}\u0000${JSON.stringify(input.labels)}`;
    let stored = this.series.get(key);
    if (!stored) {
      if (this.series.size >= MAX_SERIES) return false;
      stored = {
        name: input.name,
        unit: input.unit,
        labels: input.labels,
        counter: input.counter,
        atMs: [],
        values: [],
      };
      this.series.set(key, stored);
    }
    if (!stored.counter) {
      stored.atMs.push(atMs);
      stored.values.push(input.value);
      return true;
    }
    const last = stored.last;
    stored.last = { atMs, value: input.value };
    if (last && atMs > last.atMs && input.value >= last.value) {
      stored.atMs.push(atMs);
      stored.values.push(((input.value - last.value) * 1000) / (atMs - last.atMs));
    }
    return true;
  }

  /** Replaces a series' points (a Prometheus query_range answer). */
  replace(
    input: Omit<StoreInput, "value" | "counter">,
    points: Array<{ atMs: number; value: number }>,
  ): void {
    const key = `${input.name}\u0000${JSON.stringify(input.labels)}`;
    if (!this.series.has(key) && this.series.size >= MAX_SERIES) return;
    this.series.set(key, {
      ...input,
      counter: false,
      atMs: points.map((point) => point.atMs),
      values: points.map((point) => point.value),
    });
  }

  /** The series with points in [fromMs, toMs], `t` in seconds since `originMs`. */
  window(fromMs: number, toMs: number, originMs: number): MonitorSeries[] {
    const out: MonitorSeries[] = [];
    for (const stored of this.series.values()) {
      const points: MonitorPoint[] = [];
      for (let i = 0; i < stored.atMs.length; i++) {
        const atMs = stored.atMs[i] as number;
        if (atMs >= fromMs && atMs <= toMs)
          points.push({ t: Math.round(atMs - originMs) / 1000, value: round(stored.values[i] as number) });
      }
      out.push({ name: stored.name, unit: stored.unit, labels: stored.labels, points });
    }
    return out;
  }

  /** Series whose labels include `labels`. */
  count(labels: Record<string, string>): number {
    let count = 0;
    for (const stored of this.series.values())
      if (Object.entries(labels).every(([key, value]) => stored.labels[key] === value)) count += 1;
    return count;
  }

  /** The latest point of the first series named `name` whose labels include `labels`. */
  latest(name: string, labels: Record<string, string>): number | undefined {
    for (const stored of this.series.values()) {
      if (stored.name !== name) continue;
      if (!Object.entries(labels).every(([key, value]) => stored.labels[key] === value)) continue;
      return stored.values[stored.values.length - 1];
    }
    return undefined;
  }
}

/** Six significant digits: enough for any gauge, and a results file that stays readable. */
function round(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(6)) : value;
}
