/** Jittered exponential backoff and an abortable sleep. */

export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 30_000,
    private readonly jitter = 0.5,
  ) {}
  /** The next delay: base·2^n capped at max, then spread by ±jitter/2 so clients don't align. */
  next(): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const spread = exp * this.jitter;
    return Math.max(0, Math.round(exp - spread / 2 + Math.random() * spread));
  }
  reset() {
    this.attempt = 0;
  }
  get attempts() {
    return this.attempt;
  }
}

/** Resolves after ms, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
