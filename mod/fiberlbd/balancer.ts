/**
 * Member selection for one pool: smooth weighted round-robin, least connections (per unit of
 * weight) and rendezvous hashing of the client IP, plus client-IP session affinity. Pure state
 * machines: no sockets, no timers (the clock is passed in).
 */
import type { Algorithm } from "../fiberlb/client.ts";

export interface Candidate {
  /** `address|port`, stable across pool updates. */
  key: string;
  weight: number;
  /** Connections open now. */
  active: number;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche so that similar inputs spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const weightOf = (c: Candidate) => (c.weight > 0 ? c.weight : 1);

export class Balancer {
  #current = new Map<string, number>();
  #tieBreak = 0;

  constructor(public algorithm: Algorithm) {}

  /** Picks among `candidates` (already filtered to healthy, non-excluded members). */
  pick(candidates: Candidate[], clientIp: string): Candidate | undefined {
    if (candidates.length === 0) return undefined;
    if (candidates.length === 1) return candidates[0];
    switch (this.algorithm) {
      case "LEAST_CONN":
        return this.#leastConn(candidates);
      case "IP_HASH":
        return rendezvous(candidates, clientIp);
      default:
        return this.#roundRobin(candidates);
    }
  }

  /** nginx's smooth weighted round-robin: even interleaving, exact shares over one cycle. */
  #roundRobin(candidates: Candidate[]): Candidate {
    let total = 0;
    let best: Candidate | undefined;
    let bestWeight = -Infinity;
    const live = new Set<string>();
    for (const c of candidates) {
      live.add(c.key);
      const w = weightOf(c);
      total += w;
      const cur = (this.#current.get(c.key) ?? 0) + w;
      this.#current.set(c.key, cur);
      if (cur > bestWeight) [best, bestWeight] = [c, cur];
    }
    this.#current.set(best!.key, bestWeight - total);
    for (const k of this.#current.keys()) if (!live.has(k)) this.#current.delete(k);
    return best!;
  }

  #leastConn(candidates: Candidate[]): Candidate {
    let min = Infinity;
    let tied: Candidate[] = [];
    for (const c of candidates) {
      const load = c.active / weightOf(c);
      if (load < min) [min, tied] = [load, [c]];
      else if (load === min) tied.push(c);
    }
    return tied[this.#tieBreak++ % tied.length];
  }
}

/**
 * Weighted rendezvous hashing: each client IP maps to the member with the highest score, so a
 * member joining or leaving only moves the clients that hash to it.
 */
export function rendezvous(candidates: Candidate[], clientIp: string): Candidate {
  let best = candidates[0];
  let bestScore = -Infinity;
  for (const c of candidates) {
    const u = (fnv1a(`${clientIp}#${c.key}`) + 1) / 4294967297; // in (0, 1)
    const score = -weightOf(c) / Math.log(u);
    if (score > bestScore) [best, bestScore] = [c, score];
  }
  return best;
}

/** Client IP → member, remembered for `timeoutMs` after the client's last connection. */
export class AffinityTable {
  #entries = new Map<string, { key: string; expires: number }>();

  constructor(public timeoutMs: number) {}

  lookup(clientIp: string, now: number): string | undefined {
    const e = this.#entries.get(clientIp);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.#entries.delete(clientIp);
      return undefined;
    }
    return e.key;
  }

  remember(clientIp: string, key: string, now: number): void {
    this.#entries.set(clientIp, { key, expires: now + this.timeoutMs });
  }

  forget(clientIp: string): void {
    this.#entries.delete(clientIp);
  }

  /** Drops expired entries; returns how many remain. */
  sweep(now: number): number {
    for (const [ip, e] of this.#entries) if (e.expires <= now) this.#entries.delete(ip);
    return this.#entries.size;
  }
}
