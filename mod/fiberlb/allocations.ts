/**
 * Who holds which external IP. Pure in-memory bookkeeping, rebuilt from durable records (the
 * FiberLB listing and the Services' annotations) after every leadership change: never the only
 * copy of anything.
 */
import { AddressSet } from "./pools.ts";

export interface Holder {
  /** `ns/name` of a Service, or `fiberlb:<id>` for a load balancer this cluster does not own. */
  key: string;
  /** Services may share an IP only when both carry the same non-empty key. */
  sharingKey: string;
  /** `org/project`: sharing never crosses tenants. */
  tenant: string;
  /** `TCP/80` style; services sharing an IP must not overlap. */
  ports: string[];
}

export class AllocationTable {
  #byIp = new Map<string, Map<string, Holder>>();
  #byKey = new Map<string, string>();
  /** The held addresses as numbers, for first-free searches. */
  readonly used = new AddressSet();

  ipOf(key: string): string | undefined {
    return this.#byKey.get(key);
  }

  holders(ip: string): Holder[] {
    return [...(this.#byIp.get(ip)?.values() ?? [])];
  }

  isUsed(ip: string): boolean {
    return this.#byIp.has(ip);
  }

  /** How many addresses are held. */
  get size(): number {
    return this.#byIp.size;
  }

  entries(): Array<[string, Holder[]]> {
    return [...this.#byIp].map(([ip, m]) => [ip, [...m.values()]]);
  }

  /** Why `h` may not hold `ip` next to its current holders; undefined when it may. */
  conflict(ip: string, h: Holder): string | undefined {
    for (const o of this.holders(ip)) {
      if (o.key === h.key) continue;
      if (h.sharingKey === "" || o.sharingKey !== h.sharingKey) {
        return `${ip} is assigned to ${o.key}`;
      }
      if (o.tenant !== h.tenant) return `${ip} is shared by ${o.key} of another tenant`;
      const clash = h.ports.find((p) => o.ports.includes(p));
      if (clash) return `${clash} on shared IP ${ip} is already used by ${o.key}`;
    }
    return undefined;
  }

  /** Records `h` on `ip`, moving it off any address it held before. Throws on a conflict. */
  assign(ip: string, h: Holder): void {
    const why = this.conflict(ip, h);
    if (why) throw new Error(why);
    const previous = this.#byKey.get(h.key);
    if (previous !== undefined && previous !== ip) this.release(h.key);
    let m = this.#byIp.get(ip);
    if (!m) {
      this.#byIp.set(ip, m = new Map());
      this.used.add(ip);
    }
    m.set(h.key, { ...h, ports: [...h.ports] });
    this.#byKey.set(h.key, ip);
  }

  /** Drops `key`'s address; returns it when this freed the address entirely. */
  release(key: string): string | undefined {
    const ip = this.#byKey.get(key);
    if (ip === undefined) return undefined;
    this.#byKey.delete(key);
    const m = this.#byIp.get(ip)!;
    m.delete(key);
    if (m.size > 0) return undefined;
    this.#byIp.delete(ip);
    this.used.delete(ip);
    return ip;
  }

  /** Another holder of the sharing key that `h` could join, with its IP. */
  shareable(h: Holder, accept: (ip: string) => boolean): string | undefined {
    if (h.sharingKey === "") return undefined;
    for (const [ip, m] of this.#byIp) {
      if (![...m.values()].some((o) => o.key !== h.key && o.sharingKey === h.sharingKey)) continue;
      if (accept(ip) && this.conflict(ip, h) === undefined) return ip;
    }
    return undefined;
  }
}
