/**
 * External IP pools: parsing (`10.0.0.0/24`, `10.0.0.10-10.0.0.20`, single addresses, IPv4 and
 * IPv6) and first-free search. Pure: no I/O. Addresses are handled as bigints so a /64 pool costs
 * no more than a /30.
 */
import { Address4, Address6 } from "ip-address";

export type Family = 4 | 6;

export interface IpRange {
  family: Family;
  first: bigint;
  last: bigint;
  /** As written in the configuration, for messages. */
  text: string;
}

export interface IpPool {
  name: string;
  ranges: IpRange[];
}

/** The pool configured by `fiberlb.externalIpPool`. */
export const DEFAULT_POOL = "default";

const POOL_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface ParsedIp {
  family: Family;
  value: bigint;
}

/** Parses a bare address (no prefix, no zone); undefined when it is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  const t = text.trim();
  if (t === "" || t.includes("/") || t.includes("%")) return undefined;
  if (Address4.isValid(t)) return { family: 4, value: new Address4(t).bigInt() };
  if (Address6.isValid(t)) return { family: 6, value: new Address6(t).bigInt() };
  return undefined;
}

export function formatIp(family: Family, value: bigint): string {
  return family === 4
    ? Address4.fromBigInt(value).address
    : Address6.fromBigInt(value).correctForm();
}

/** The one spelling of an address used everywhere (map keys, annotations, FiberLB). */
export function canonicalIp(text: string): string | undefined {
  const p = parseIp(text);
  return p && formatIp(p.family, p.value);
}

export function ipFamily(text: string): Family | undefined {
  return parseIp(text)?.family;
}

/**
 * Parses one pool entry. A CIDR excludes addresses that make poor virtual IPs: for IPv4 the
 * network and broadcast addresses (prefixes up to /30), for IPv6 the subnet-router anycast
 * address (prefixes up to /126). A `first-last` range is taken literally.
 */
export function parseRange(text: string): IpRange {
  const t = text.trim();
  const dash = t.indexOf("-");
  if (dash >= 0) {
    const a = parseIp(t.slice(0, dash));
    const b = parseIp(t.slice(dash + 1));
    if (!a || !b) throw new Error(`"${t}" is not a range of two IP addresses (first-last)`);
    if (a.family !== b.family) throw new Error(`range "${t}" mixes IPv4 and IPv6`);
    if (a.value > b.value) throw new Error(`range "${t}" ends before it starts`);
    return { family: a.family, first: a.value, last: b.value, text: t };
  }
  if (t.includes("/")) {
    const [addr, prefixText] = t.split("/");
    const ip = parseIp(addr);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    const bits = ip?.family === 4 ? 32 : 128;
    if (!ip || !(prefix >= 0 && prefix <= bits)) throw new Error(`"${t}" is not a CIDR`);
    const size = 1n << BigInt(bits - prefix);
    const network = ip.value & ~(size - 1n);
    let first = network;
    let last = network + size - 1n;
    if (ip.family === 4 && prefix <= 30) [first, last] = [first + 1n, last - 1n];
    if (ip.family === 6 && prefix <= 126) first += 1n;
    return { family: ip.family, first, last, text: t };
  }
  const ip = parseIp(t);
  if (!ip) throw new Error(`"${t}" is not an IP address, CIDR or first-last range`);
  return { family: ip.family, first: ip.value, last: ip.value, text: t };
}

export interface PoolConfig {
  externalIpPool: string;
  pools: string[];
}

/** Splits a list of ranges written with commas and/or whitespace. */
function splitRanges(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/**
 * Builds the pools from the configuration: `externalIpPool` is the pool "default", `pools`
 * entries are `name=range[,range...]`. Errors name the entry and say what was expected; pools
 * may not overlap, so every address belongs to exactly one pool.
 */
export function parsePools(cfg: PoolConfig): { pools: Map<string, IpPool>; errors: string[] } {
  const pools = new Map<string, IpPool>();
  const errors: string[] = [];
  const add = (name: string, text: string, where: string) => {
    if (pools.has(name)) {
      errors.push(`${where}: pool "${name}" is defined twice`);
      return;
    }
    const pool: IpPool = { name, ranges: [] };
    pools.set(name, pool);
    for (const r of splitRanges(text)) {
      try {
        pool.ranges.push(parseRange(r));
      } catch (err) {
        errors.push(`${where}: ${(err as Error).message}`);
      }
    }
    if (pool.ranges.length === 0) errors.push(`${where}: pool "${name}" has no addresses`);
  };
  if (cfg.externalIpPool.trim() !== "") {
    add(DEFAULT_POOL, cfg.externalIpPool, "fiberlb.externalIpPool");
  }
  cfg.pools.forEach((entry, i) => {
    const where = `fiberlb.pools[${i}]`;
    const eq = entry.indexOf("=");
    const name = entry.slice(0, Math.max(eq, 0)).trim();
    if (eq < 0 || !POOL_NAME.test(name)) {
      errors.push(`${where}: "${entry}" — expected name=cidr-or-range[,...] with a DNS-label name`);
      return;
    }
    add(name, entry.slice(eq + 1), where);
  });
  errors.push(...overlaps([...pools.values()]));
  return { pools, errors };
}

function overlaps(pools: IpPool[]): string[] {
  const all = pools.flatMap((p) => p.ranges.map((r) => ({ pool: p.name, r })));
  const out: string[] = [];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i], b = all[j];
      if (a.r.family === b.r.family && a.r.first <= b.r.last && b.r.first <= a.r.last) {
        out.push(
          `pool "${a.pool}" range ${a.r.text} overlaps pool "${b.pool}" range ${b.r.text}`,
        );
      }
    }
  }
  return out;
}

export function poolContains(pool: IpPool, ip: string): boolean {
  const p = parseIp(ip);
  return !!p &&
    pool.ranges.some((r) => r.family === p.family && r.first <= p.value && p.value <= r.last);
}

/** The pool holding `ip`, if any. */
export function poolOf(pools: Map<string, IpPool>, ip: string): IpPool | undefined {
  for (const pool of pools.values()) if (poolContains(pool, ip)) return pool;
  return undefined;
}

export function poolSize(pool: IpPool): bigint {
  return pool.ranges.reduce((n, r) => n + (r.last - r.first + 1n), 0n);
}

/** Addresses as numbers per family, so a search never formats the addresses it skips. */
export class AddressSet {
  #v4 = new Set<bigint>();
  #v6 = new Set<bigint>();

  static of(ips: Iterable<string>): AddressSet {
    const s = new AddressSet();
    for (const ip of ips) s.add(ip);
    return s;
  }

  add(ip: string): void {
    const p = parseIp(ip);
    if (p) (p.family === 4 ? this.#v4 : this.#v6).add(p.value);
  }

  delete(ip: string): void {
    const p = parseIp(ip);
    if (p) (p.family === 4 ? this.#v4 : this.#v6).delete(p.value);
  }

  has(family: Family, value: bigint): boolean {
    return (family === 4 ? this.#v4 : this.#v6).has(value);
  }
}

/**
 * The lowest free address of `pool`, preferring `family` when the pool has both. Runs in
 * O(used addresses) per range: every skipped candidate is a distinct used address.
 */
export function firstFree(pool: IpPool, used: AddressSet, family?: Family): string | undefined {
  const ranges = family === undefined ? pool.ranges : [
    ...pool.ranges.filter((r) => r.family === family),
    ...pool.ranges.filter((r) => r.family !== family),
  ];
  for (const r of ranges) {
    for (let v = r.first; v <= r.last; v++) {
      if (!used.has(r.family, v)) return formatIp(r.family, v);
    }
  }
  return undefined;
}
