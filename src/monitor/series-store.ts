/**
 * The monitor's series as they are collected: one point per scrape, counters turned into rates
 * per second between two scrapes (a counter that went down was reset: that interval is skipped,
 * as PromQL's rate() would count from zero). Points are kept in epoch milliseconds and turned
 * into seconds of the run (`t`) only when results are made, so one store serves a ladder's steps.
 */
import type { MonitorPoint, MonitorSeries } from "./types.js";

interface Stored {
  id: number;
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

/**
 * What a store gained since the last `drain()`: the series new since then, and the points as flat
 * (series id, epoch ms, value) triples, so each interval's message to the generator stays small
 * (monitor-process.ts).
 */
export interface StoreDelta {
  series: Array<{ id: number; name: string; unit: string; labels: Record<string, string> }>;
  points: number[];
}

export class SeriesStore {
  private readonly series = new Map<string, Stored>();
  private readonly byId: Stored[] = [];
  private announced = 0;
  private fresh: number[] = [];

  /** The series and points added since the last call (range-query replacements are not among them). */
  drain(): StoreDelta {
    const series = this.byId
      .slice(this.announced)
      .map(({ id, name, unit, labels }) => ({ id, name, unit, labels }));
    this.announced = this.byId.length;
    const points = this.fresh;
    this.fresh = [];
    return { series, points };
  }

  /** Adds another store's delta (the generator's copy of the monitor's series). */
  apply(delta: StoreDelta): void {
    for (const { id, name, unit, labels } of delta.series) {
      const stored: Stored = { id, name, unit, labels, counter: false, atMs: [], values: [] };
      this.byId[id] = stored;
      this.series.set(`${name}\u0000${JSON.stringify(labels)}`, stored);
    }
    for (let i = 0; i + 2 < delta.points.length; i += 3) {
      const stored = this.byId[delta.points[i] as number];
      stored?.atMs.push(delta.points[i + 1] as number);
      stored?.values.push(delta.points[i + 2] as number);
    }
  }

  private point(stored: Stored, atMs: number, value: number): void {
    stored.atMs.push(atMs);
    stored.values.push(value);
    // Rounded as window() rounds every point anyway: the message stays short, the results the same.
    this.fresh.push(stored.id, atMs, round(value));
  }

  /** Adds one point; false when the series is new and the store is full. */
  add(input: StoreInput, atMs: number): boolean {
    const key = `${input.name}\u0000${JSON.stringify(input.labels)}`;
    let stored = this.series.get(key);
    if (!stored) {
      if (this.series.size >= MAX_SERIES) return false;
      stored = {
        id: this.byId.length,
        name: input.name,
        unit: input.unit,
        labels: input.labels,
        counter: input.counter,
        atMs: [],
        values: [],
      };
      this.series.set(key, stored);
      this.byId.push(stored);
    }
    if (!stored.counter) {
      this.point(stored, atMs, input.value);
      return true;
    }
    const last = stored.last;
    stored.last = { atMs, value: input.value };
    if (last && atMs > last.atMs && input.value >= last.value)
      this.point(stored, atMs, ((input.value - last.value) * 1000) / (atMs - last.atMs));
    return true;
  }

  /** Replaces a series' points (a Prometheus query_range answer). */
  replace(
    input: Omit<StoreInput, "value" | "counter">,
    points: Array<{ atMs: number; value: number }>,
  ): void {
    const key = `${input.name}\u0000${JSON.stringify(input.labels)}`;
    const existing = this.series.get(key);
    if (!existing && this.series.size >= MAX_SERIES) return;
    const stored: Stored = {
      ...input,
      id: existing?.id ?? this.byId.length,
      counter: false,
      atMs: points.map((point) => point.atMs),
      values: points.map((point) => point.value),
    };
    this.series.set(key, stored);
    this.byId[stored.id] = stored;
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
