/**
 * The longest pause of this process's event loop: a timer every `periodMs` that fires late
 * says the loop (GC, a long task, or the whole VM) was stopped for that long.
 */
export interface LagMonitor {
  /** Longest pause since the start or the last reset, in whole ms. */
  worst(): number;
  reset(): void;
  stop(): number;
}

export function lagMonitor(periodMs = 2): LagMonitor {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - periodMs);
    last = now;
  }, periodMs);
  return {
    worst: () => Math.round(worst),
    reset: () => void (worst = 0),
    stop() {
      clearInterval(timer);
      return Math.round(worst);
    },
  };
}
