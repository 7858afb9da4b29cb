import type { Category, CategoryChoice, TestCase } from "./types.js";

/** The default blend: ~80% normal, 10% security, 10% policy, the methodology's ~20% block rate. */
export const MIXED_WEIGHTS: Readonly<Record<Category, number>> = {
  normal: 8,
  security: 1,
  policy: 1,
  llm: 0,
};

export function weightsFor(choice: CategoryChoice): Partial<Record<Category, number>> {
  return choice === "mixed" ? MIXED_WEIGHTS : { [choice]: 1 };
}

/**
 * Picks the test case of request i as a pure function of i, so a run split across threads or
 * shards (request i to part i mod n) sends exactly the same sequence.
 *
 * Categories follow a smooth weighted round-robin cycle (nginx's algorithm), so every window
 * of one cycle holds each category in proportion to its weight and blocked requests are spread
 * evenly through time rather than in clumps; within a category, cases rotate in order.
 */
export class CaseMix<T = TestCase> {
  /** Category index for each position of one cycle. */
  private readonly cycle: number[];
  /** For each position of the cycle, how many earlier positions had the same category. */
  private readonly rankInCycle: number[];
  /** How many positions of one cycle each category takes. */
  private readonly perCycle: number[];
  readonly categories: string[];

  constructor(
    weights: Readonly<Record<string, number | undefined>>,
    private readonly corpus: Readonly<Record<string, readonly T[] | undefined>>,
  ) {
    const entries = (Object.entries(weights) as [string, number][]).filter(([, weight]) => weight > 0);
    if (entries.length === 0) throw new RangeError("the category mix has no positive weight");
    for (const [category, weight] of entries) {
      if (!Number.isInteger(weight)) throw new RangeError(`weight of ${category} must be an integer`);
      if ((corpus[category]?.length ?? 0) === 0)
        throw new RangeError(`category ${category} has no test cases`);
    }
    this.categories = entries.map(([category]) => category);
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    const current = entries.map(() => 0);
    this.cycle = [];
    this.rankInCycle = [];
    this.perCycle = entries.map(() => 0);
    for (let position = 0; position < total; position++) {
      let best = 0;
      for (let k = 0; k < entries.length; k++) {
        current[k] = (current[k] as number) + (entries[k] as [string, number])[1];
        if ((current[k] as number) > (current[best] as number)) best = k;
      }
      current[best] = (current[best] as number) - total;
      this.cycle.push(best);
      this.rankInCycle.push(this.perCycle[best] as number);
      this.perCycle[best] = (this.perCycle[best] as number) + 1;
    }
  }

  /** Index into `categories` of request i. */
  categoryIndexOf(index: number): number {
    return this.cycle[index % this.cycle.length] as number;
  }

  /** Position of request i's case within its category's corpus. */
  caseIndexOf(index: number): number {
    const position = index % this.cycle.length;
    const categoryIndex = this.cycle[position] as number;
    const category = this.categories[categoryIndex] as string;
    const seen = Math.floor(index / this.cycle.length) * (this.perCycle[categoryIndex] as number);
    return (seen + (this.rankInCycle[position] as number)) % (this.corpus[category] as readonly T[]).length;
  }

  caseOf(index: number): T {
    const category = this.categories[this.categoryIndexOf(index)] as string;
    return (this.corpus[category] as readonly T[])[this.caseIndexOf(index)] as T;
  }
}
