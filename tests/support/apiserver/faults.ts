/** Fault injection for tests: what the next requests and the open watches will suffer. */

export interface FailRule {
  remaining: number;
  status: number;
  /** Only requests whose method is listed (default: any). */
  methods?: string[];
  /** Only requests whose path contains this (default: any). */
  pathIncludes?: string;
  /** Whether watch requests count too (default true). */
  watches?: boolean;
}

export interface Faults {
  /** Closes every open watch stream now (clients see the stream end). */
  dropWatches(): void;
  /** The next n watch requests get a 410 Expired ERROR event instead of events. */
  expireNextWatches(n?: number): void;
  /** Forgets the event history: every earlier resourceVersion is now too old (410). */
  compact(): void;
  /** Delays every request by ms (0 = none). */
  setLatency(ms: number): void;
  /** Fails the next n matching requests with `status` (default 500) and a Status body. */
  failNext(n: number, status?: number, opts?: Omit<FailRule, "remaining" | "status">): void;
  /**
   * The watches open now go silent (no events, no bookmarks) but stay open, like a half-dead
   * connection; watches opened later are normal.
   */
  stallWatches(): void;
  /** Clears every injected fault. */
  reset(): void;
}

/** What the router consults; the server implements dropWatches/compact. */
export class FaultState {
  latencyMs = 0;
  expireWatches = 0;
  rules: FailRule[] = [];

  /** The failure status for this request, consuming one count of the first matching rule. */
  take(method: string, path: string, isWatch: boolean): number | undefined {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.methods && !r.methods.includes(method)) continue;
      if (r.pathIncludes && !path.includes(r.pathIncludes)) continue;
      if (isWatch && r.watches === false) continue;
      r.remaining--;
      this.rules = this.rules.filter((x) => x.remaining > 0);
      return r.status;
    }
    return undefined;
  }
}

export function createFaults(
  state: FaultState,
  hooks: { dropWatches(): void; stallWatches(): void; compact(): void },
): Faults {
  return {
    dropWatches: () => hooks.dropWatches(),
    expireNextWatches(n = 1) {
      state.expireWatches += n;
    },
    compact: () => hooks.compact(),
    setLatency(ms) {
      state.latencyMs = Math.max(0, ms);
    },
    failNext(n, status = 500, opts = {}) {
      state.rules.push({ remaining: n, status, ...opts });
    },
    stallWatches: () => hooks.stallWatches(),
    reset() {
      state.latencyMs = 0;
      state.expireWatches = 0;
      state.rules = [];
    },
  };
}
