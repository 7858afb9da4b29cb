/**
 * `--monitor-log FILE` (docs/MONITOR.md "Log files"): counts the lines appended since the monitor
 * started that match the pattern, like `tail -F`: it follows appends, a rotated file (renamed or
 * removed, a new one at the path: the old one is read to its end first) and a truncated one
 * (copytruncate), and waits for a file that does not exist yet.
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { redactLine } from "./redact.js";

/** One poll reads at most this much; the rest waits for the next (bounded time per interval). */
const MAX_READ_BYTES = 8 * 1024 * 1024;
/** A line longer than this is counted by what came before its end. */
const MAX_PARTIAL_BYTES = 64 * 1024;
export const KEPT_LINES = 5;

export class LogFollower {
  private handle: FileHandle | undefined;
  private inode = -1;
  private offset = 0;
  private partial = "";
  private started = false;
  /** Matching lines so far, and the first few (redacted). */
  matched = 0;
  readonly firstLines: string[] = [];

  constructor(
    readonly path: string,
    private readonly pattern: RegExp,
  ) {}

  /** New matching lines since the last poll. Throws only what the caller notes (unreadable file). */
  async poll(): Promise<number> {
    const before = this.matched;
    const current = await stat(this.path).catch(() => undefined);
    if (!this.started) {
      // Lines already in the file are not the run's; a file created later is read from its start.
      this.started = true;
      if (current) await this.reopen(current.ino, current.size);
      return 0;
    }
    if (this.handle && current && current.ino !== this.inode) {
      await this.drain();
      await this.close();
    }
    if (!this.handle && current) await this.reopen(current.ino, 0);
    if (this.handle) await this.drain();
    return this.matched - before;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.partial = "";
    await handle?.close().catch(() => undefined);
  }

  private async reopen(inode: number, offset: number): Promise<void> {
    this.handle = await open(this.path, "r");
    this.inode = inode;
    this.offset = offset;
  }

  private async drain(): Promise<void> {
    const handle = this.handle as FileHandle;
    const { size } = await handle.stat();
    if (size < this.offset) {
      // Truncated in place (copytruncate): what is there now is new.
      this.offset = 0;
      this.partial = "";
    }
    const length = Math.min(size - this.offset, MAX_READ_BYTES);
    if (length <= 0) return;
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, this.offset);
    this.offset += bytesRead;
    const text = this.partial + buffer.toString("utf8", 0, bytesRead);
    const lines = text.split("\n");
    const last = lines.pop() ?? "";
    this.partial = last.length > MAX_PARTIAL_BYTES ? "" : last;
    for (const line of lines) this.take(line);
  }

  private take(line: string): void {
    this.pattern.lastIndex = 0;
    if (!this.pattern.test(line)) return;
    this.matched += 1;
    if (this.firstLines.length < KEPT_LINES) this.firstLines.push(redactLine(line.replace(/\r$/, "")));
  }
}
