/** A request the transport tracks while it is in flight: the list's links live in the request itself. */
export interface InFlightNode<T> {
  previousInFlight: T | undefined;
  nextInFlight: T | undefined;
}

/**
 * The transport's requests in flight, in send order (oldest first, so the timeout sweep stops at
 * the first one not yet due), with O(1) removal: a doubly linked list through the requests.
 *
 * Why not a `Map<id, request>` (what this was): a JS Map that is added to and deleted from at
 * every request rehashes every few dozen operations, and V8 keeps each superseded hash table
 * linked to the next one (for live iterators). Once a full GC had moved one table of that chain
 * to the old generation, every later table, and the requests they held, stayed reachable for the
 * scavenger through it: ~1.4 MB survived each scavenge at 10k req/s (against ~1 KB), was promoted,
 * and a full GC followed every 2–3 s, each anchoring the chain again. Latency p99 went from ~1 ms
 * to 6–13 ms in such runs, about one in five at 10k req/s, and in every run with a full GC
 * forced just before the warm-up.
 * docs/BENCHMARKS.md, "A Map that kept every request".
 * A removed request is unlinked both ways, so no dead request points at a live one.
 */
export class InFlightList<T extends InFlightNode<T>> {
  private head: T | undefined;
  private tail: T | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The oldest request still in flight. */
  first(): T | undefined {
    return this.head;
  }

  /** In this list: the head, or linked from a previous request (a request is in one list at most). */
  has(node: T): boolean {
    return node === this.head || node.previousInFlight !== undefined;
  }

  add(node: T): void {
    if (this.has(node)) return;
    node.previousInFlight = this.tail;
    node.nextInFlight = undefined;
    if (this.tail === undefined) this.head = node;
    else this.tail.nextInFlight = node;
    this.tail = node;
    this.count++;
  }

  /** Removes `node` if it is in the list; returns whether it was. */
  remove(node: T): boolean {
    if (!this.has(node)) return false;
    const { previousInFlight: previous, nextInFlight: next } = node;
    if (previous === undefined) this.head = next;
    else previous.nextInFlight = next;
    if (next === undefined) this.tail = previous;
    else next.previousInFlight = previous;
    node.previousInFlight = node.nextInFlight = undefined;
    this.count--;
    return true;
  }

  /** A copy in send order: callers may remove requests while they go through it. */
  toArray(): T[] {
    const nodes: T[] = [];
    for (let node = this.head; node !== undefined; node = node.nextInFlight) nodes.push(node);
    return nodes;
  }
}
