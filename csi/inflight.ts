/**
 * At most one operation per volume (or snapshot, or name) at a time. The CSI specification lets
 * a plugin reject a second concurrent call on the same volume with ABORTED; the CO retries.
 */
export class InFlight {
  private readonly busy = new Set<string>();

  /** Takes all `keys` or none: returns a release function, or undefined when any is busy. */
  tryAcquire(...keys: string[]): (() => void) | undefined {
    const ks = keys.filter((k) => k !== "");
    if (ks.some((k) => this.busy.has(k))) return undefined;
    for (const k of ks) this.busy.add(k);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of ks) this.busy.delete(k);
    };
  }

  size(): number {
    return this.busy.size;
  }
}
