/** Per-key serialisation: operations on one container run one after another, others in parallel. */
export class KeyedMutex {
  private tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => release = r);
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while an operation on `key` runs or waits. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Runs fn only if nothing holds `key` now; undefined when skipped. */
  async tryRun<T>(key: string, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.busy(key)) return undefined;
    return await this.run(key, fn);
  }
}
