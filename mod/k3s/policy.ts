/**
 * What to do after k3s exits on its own: restart after an exponential backoff, or give up once
 * it has crashed crashLoopLimit times within crashLoopWindow. Pure, so it is tested exhaustively.
 */
export interface RestartPolicy {
  backoffMs: number;
  backoffMaxMs: number;
  crashLoopLimit: number;
  crashLoopWindowMs: number;
}

export type RestartDecision =
  | { giveUp: false; delayMs: number; recent: number }
  | { giveUp: true; recent: number };

/** Crash times still inside the window ending at `now`. */
export function recentCrashes(crashes: number[], now: number, policy: RestartPolicy): number[] {
  return crashes.filter((t) => t > now - policy.crashLoopWindowMs && t <= now);
}

/**
 * `crashes` holds every crash time including the one just seen (at `now`). The delay doubles with
 * each crash in the window (backoff, 2×, 4×, ...) up to backoffMax, so a k3s that stayed up for a
 * whole window restarts quickly again.
 */
export function afterCrash(crashes: number[], now: number, policy: RestartPolicy): RestartDecision {
  const recent = recentCrashes(crashes, now, policy).length;
  if (recent >= policy.crashLoopLimit) return { giveUp: true, recent };
  const exp = Math.min(Math.max(recent - 1, 0), 30);
  const delayMs = Math.min(policy.backoffMs * 2 ** exp, policy.backoffMaxMs);
  return { giveUp: false, delayMs, recent };
}

export function policyFromConfig(k3s: {
  restartBackoff: number;
  restartBackoffMax: number;
  crashLoopLimit: number;
  crashLoopWindow: number;
}): RestartPolicy {
  return {
    backoffMs: k3s.restartBackoff,
    backoffMaxMs: k3s.restartBackoffMax,
    crashLoopLimit: k3s.crashLoopLimit,
    crashLoopWindowMs: k3s.crashLoopWindow,
  };
}
