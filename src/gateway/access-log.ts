/**
 * `serve --log FILE`: the gateway's access and error log, one line per request to /v1/execute
 * (`<ISO time> <LEVEL> <method> <path> <status> <outcome> <ms>ms`), ERROR for 5xx answers, so
 * `--monitor-log` has a real log to follow (docs/MONITOR.md). Lines are gathered in memory and
 * appended at most every 100 ms (or at 64 KiB): one write per batch, not per request.
 */
import { appendFile } from "node:fs/promises";

const FLUSH_EVERY_MS = 100;
const FLUSH_AT_CHARS = 64 * 1024;

export interface AccessLog {
  request(method: string, path: string, status: number, outcome: string, durationMs: number): void;
  line(level: "INFO" | "ERROR", message: string): void;
  close(): Promise<void>;
}

export function openAccessLog(path: string): AccessLog {
  let buffered = "";
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (buffered === "") return writing;
    const text = buffered;
    buffered = "";
    // A log that cannot be written must not take the gateway down: the lines are dropped.
    writing = writing.then(() => appendFile(path, text).catch(() => undefined));
    return writing;
  };
  const add = (text: string): void => {
    buffered += text;
    if (buffered.length >= FLUSH_AT_CHARS) void flush();
    else timer ??= setTimeout(() => void flush(), FLUSH_EVERY_MS);
  };
  return {
    request(method, path, status, outcome, durationMs) {
      const level = status >= 500 ? "ERROR" : "INFO";
      add(
        `${new Date().toISOString()} ${level} ${method} ${path} ${status} ${outcome} ${durationMs.toFixed(3)}ms\n`,
      );
    },
    line(level, message) {
      add(`${new Date().toISOString()} ${level} ${message}\n`);
    },
    close: flush,
  };
}
