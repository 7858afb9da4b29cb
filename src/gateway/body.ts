/**
 * A request body gathered up to a byte limit, for both HTTP servers under the gateway
 * (node:http's request stream and the lean server's parser). One chunk, the common case, is
 * kept as it is; several are joined once at the end.
 */
export class BodyCollector {
  private size = 0;
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  /** The limit was passed: what came is dropped, and so is whatever follows. */
  overflowed = false;

  constructor(private readonly maxBytes: number) {}

  /**
   * Keeps `chunk`, a copy of it with `copy` (a view the caller will reuse, such as the parser's
   * memory; made only once the chunk is known to fit); false once the body is over the limit.
   */
  add(chunk: Uint8Array, copy = false): boolean {
    if (this.overflowed) return false;
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.overflowed = true;
      this.first = undefined;
      this.chunks = undefined;
      return false;
    }
    const kept = copy ? Buffer.copyBytesFrom(chunk) : (chunk as Buffer);
    if (this.first === undefined) this.first = kept;
    else (this.chunks ??= [this.first]).push(kept);
    return true;
  }

  /** The whole body (undefined when empty); the collector is then empty. */
  take(): Buffer | undefined {
    const body = this.chunks !== undefined ? Buffer.concat(this.chunks, this.size) : this.first;
    this.first = undefined;
    this.chunks = undefined;
    return body;
  }
}
