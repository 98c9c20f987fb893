/**
 * A bounded LRU with a per-entry expiry. Map iteration order is insertion order, so deleting
 * and re-inserting on a hit keeps the least recently used entry first; eviction drops it.
 */
export class TtlLru<V> {
  private entries = new Map<string, { value: V; expiresAt: number }>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number, private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    if (e.expiresAt <= this.now()) {
      this.misses++;
      return undefined;
    }
    this.entries.set(key, e);
    this.hits++;
    return e.value;
  }

  /** Stores until `expiresAt` (ms since epoch); an entry already expired is not stored. */
  set(key: string, value: V, expiresAt: number) {
    if (this.capacity <= 0 || expiresAt <= this.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string) {
    this.entries.delete(key);
  }

  clear() {
    this.entries.clear();
  }

  hitRatio(): number {
    const total = this.hits + this.misses;
    return total === 0 ? 0 : this.hits / total;
  }
}
