/**
 * The live side of one pool: member health (active checks plus passive connect failures),
 * open-connection counts, the balancer and the affinity table. Pool updates are applied in
 * place so health and counts of members that stay are kept.
 */
import type { HealthCheck, MemberHealth } from "../fiberlb/client.ts";
import { AffinityTable, Balancer } from "./balancer.ts";
import { probe } from "./health.ts";
import type { PoolRecord } from "./store.ts";

/** How long a member that refused a connection is skipped when its pool has no health check. */
export const PASSIVE_COOLDOWN_MS = 5_000;

export interface MemberState {
  key: string;
  address: string;
  port: number;
  weight: number;
  active: number;
  health: "unknown" | "healthy" | "unhealthy";
  failures: number;
  downUntil: number;
}

export class PoolRuntime {
  readonly members = new Map<string, MemberState>();
  readonly balancer: Balancer;
  affinity?: AffinityTable;
  #check!: HealthCheck;
  #timer?: ReturnType<typeof setInterval>;
  #round?: Promise<void>;
  #closed = false;

  constructor(readonly id: string, rec: PoolRecord) {
    this.balancer = new Balancer(rec.algorithm);
    this.update(rec);
  }

  update(rec: PoolRecord): void {
    this.balancer.algorithm = rec.algorithm;
    this.affinity = rec.session_affinity === "CLIENT_IP"
      ? new AffinityTable(Math.max(1, rec.affinity_timeout_seconds || 10_800) * 1000)
      : undefined;
    const keep = new Set<string>();
    for (const m of rec.members) {
      const key = `${m.address}|${m.port}`;
      keep.add(key);
      const cur = this.members.get(key);
      if (cur) cur.weight = m.weight || 1;
      else {
        this.members.set(key, {
          key,
          address: m.address,
          port: m.port,
          weight: m.weight || 1,
          active: 0,
          health: "unknown",
          failures: 0,
          downUntil: 0,
        });
      }
    }
    for (const key of this.members.keys()) if (!keep.has(key)) this.members.delete(key);
    const changed = JSON.stringify(this.#check) !== JSON.stringify(rec.health_check);
    this.#check = rec.health_check;
    if (changed) this.#schedule();
  }

  get checksEnabled(): boolean {
    return this.#check.type === "HEALTH_CHECK_TCP" || this.#check.type === "HEALTH_CHECK_HTTP";
  }

  eligible(m: MemberState, now: number): boolean {
    return m.health !== "unhealthy" && m.downUntil <= now;
  }

  /** A member for a new connection from `clientIp`, skipping `exclude` (already failed). */
  choose(clientIp: string, exclude: Set<string>, now = Date.now()): MemberState | undefined {
    const live = [...this.members.values()].filter((m) =>
      !exclude.has(m.key) && this.eligible(m, now)
    );
    if (this.affinity) {
      const sticky = this.affinity.lookup(clientIp, now);
      const m = sticky !== undefined ? live.find((c) => c.key === sticky) : undefined;
      if (m) {
        this.affinity.remember(clientIp, m.key, now);
        return m;
      }
    }
    const picked = this.balancer.pick(live, clientIp) as MemberState | undefined;
    if (picked && this.affinity) this.affinity.remember(clientIp, picked.key, now);
    return picked;
  }

  /** A connection to `m` failed: take it out now rather than after the next probes. */
  markFailed(m: MemberState, now = Date.now()): void {
    if (this.checksEnabled) {
      m.health = "unhealthy";
      m.failures = Math.max(m.failures, this.#check.retries || 1);
    } else m.downUntil = now + PASSIVE_COOLDOWN_MS;
  }

  healthOf(address: string, port: number): MemberHealth {
    const m = this.members.get(`${address}|${port}`);
    if (!m || m.health === "unknown") return "MEMBER_HEALTH_UNKNOWN";
    return m.health === "healthy" ? "MEMBER_HEALTHY" : "MEMBER_UNHEALTHY";
  }

  /** One round of probes over every member (exposed for tests). */
  checkNow(): Promise<void> {
    if (!this.checksEnabled || this.#closed) return Promise.resolve();
    this.#round ??= this.#probeAll().finally(() => this.#round = undefined);
    return this.#round;
  }

  async #probeAll(): Promise<void> {
    const hc = this.#check;
    {
      await Promise.all([...this.members.values()].map(async (m) => {
        const ok = await probe({
          type: hc.type === "HEALTH_CHECK_HTTP" ? "http" : "tcp",
          address: m.address,
          port: hc.port || m.port,
          path: hc.path || "/",
          timeoutMs: hc.timeout_ms || 5000,
        });
        if (this.members.get(m.key) !== m) return; // removed meanwhile
        if (ok) {
          m.failures = 0;
          m.health = "healthy";
        } else if (++m.failures >= (hc.retries || 3)) m.health = "unhealthy";
      }));
    }
    this.affinity?.sweep(Date.now());
  }

  #schedule(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#closed || !this.checksEnabled) {
      for (const m of this.members.values()) [m.health, m.failures] = ["unknown", 0];
      return;
    }
    this.#timer = setInterval(
      () => void this.checkNow(),
      Math.max(100, this.#check.interval_ms || 10_000),
    );
    void this.checkNow();
  }

  /** Stops probing; resolves when the probes in flight have finished. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }
}
