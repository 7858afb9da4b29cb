import { parseDurationMs } from "../config/duration.js";
import { InputError } from "../config/errors.js";
import { parseWholeNumber } from "../config/numbers.js";
import { TICK_MS } from "./remote-protocol.js";

/** Most shards one coordinator takes: each costs it a stream and a report a second. */
export const MAX_SHARDS = 1000;
export const DEFAULT_REGISTER_TIMEOUT = "5m";
export const DEFAULT_LOST_AFTER = "5s";

/** `--shards N` of `load-test coordinate`. */
export function parseShardCount(text: string): number {
  const count = parseWholeNumber(text);
  if (count === undefined || count < 1 || count > MAX_SHARDS)
    throw new InputError("--shards", `expected a whole number from 1 to ${MAX_SHARDS}, got "${text}"`);
  return count;
}

/** `--listen HOST:PORT` (`[::1]:7070` for IPv6; port 0: any free one). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || host === undefined || !(port >= 0 && port <= 65535))
    throw new InputError("--listen", `expected HOST:PORT like 0.0.0.0:7070 or 127.0.0.1:0, got "${text}"`);
  return { host, port };
}

/** A duration flag of the coordinator, at least `minMs`. */
export function parseCoordinatorDuration(flag: string, text: string, minMs: number): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < minMs)
    throw new InputError(
      flag,
      `expected a duration of at least ${minMs / 1000}s like 30s or 5m, got "${text}"`,
    );
  return ms;
}

/** `--lost-after`: a shard reports each second, so less than two seconds would lose healthy ones. */
export const MIN_LOST_AFTER_MS = 2 * TICK_MS;

/** `--coordinator URL`: an http:// URL with a host (the coordinator speaks plain HTTP/1.1). */
export function parseCoordinatorUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError("--coordinator", `expected a URL like http://coordinator:7070, got "${text}"`);
  }
  if (url.protocol !== "http:" || url.hostname === "")
    throw new InputError(
      "--coordinator",
      `expected an http:// URL like http://coordinator:7070, got "${text}"`,
    );
  return url;
}
