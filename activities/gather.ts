/**
 * Reads shared by the callers of one worker process that ask at about the same time: the first caller
 * opens a gathering, the read starts {@link GATHER_MS} later with every key asked for meanwhile, and each
 * caller gets that one read's answer. When a hundred rows of a batch start together, one read (or one
 * walk through a list, or one command per chunk of keys) answers them all instead of a hundred.
 *
 * A caller never joins a read already under way or done: what it is told was read after it asked,
 * exactly what its own read would have seen. A failed read fails every caller that joined it, each of
 * which retries as it would have alone.
 */

/** `items` in runs of at most `size`, for reads that take a bounded number of keys. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** How long a gathering waits for other callers before its read starts. */
export const GATHER_MS = 50;

/** One read of the keys asked for before it starts. */
export class Gathering<T> {
  private next: { keys: Set<string>; answer: Promise<T> } | undefined;

  constructor(private readonly read: (keys: string[]) => Promise<T>, private readonly gatherMs = GATHER_MS) {}

  /** Joins the next read, adding `key` (when given) to what it reads. */
  join(key?: string): Promise<T> {
    if (!this.next) {
      const keys = new Set<string>();
      const answer = new Promise<void>((resolve) => setTimeout(resolve, this.gatherMs)).then(() => {
        this.next = undefined;
        return this.read([...keys]);
      });
      this.next = { keys, answer };
    }
    if (key !== undefined) this.next.keys.add(key);
    return this.next.answer;
  }
}

/** A gathered read by key: each caller gets its key's entry of the read's answer. */
export class GatheredLookups<V> {
  private readonly gathering: Gathering<Map<string, V>>;

  constructor(read: (keys: string[]) => Promise<Map<string, V>>, gatherMs = GATHER_MS) {
    this.gathering = new Gathering(read, gatherMs);
  }

  async get(key: string): Promise<V | undefined> {
    return (await this.gathering.join(key)).get(key);
  }
}
