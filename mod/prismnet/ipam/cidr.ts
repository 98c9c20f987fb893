/** IPv4/IPv6 addresses and prefixes as bigints: parsing, formatting, carving. Pure. */

export interface Ip {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  /** Network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

export const width = (family: 4 | 6): number => family === 4 ? 32 : 128;

export function parseIp(s: string): Ip | undefined {
  if (s.includes(":")) {
    const v = parseIp6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    if (m[i].length > 1 && m[i].startsWith("0")) return undefined;
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = (v << 8n) | BigInt(o);
  }
  return { family: 4, value: v };
}

function parseIp6(s: string): bigint | undefined {
  let text = s;
  let tail: bigint[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const ip = parseIp(v4[2]);
    if (!ip || ip.family !== 4) return undefined;
    text = v4[1] + "0:0";
    tail = [ip.value >> 16n, ip.value & 0xffffn];
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => h === "" ? [] : h.split(":");
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill("0"), ...rest];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail.length) v = (v & ~0xffffffffn) | (tail[0] << 16n) | tail[1];
  return v;
}

export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // Compress the longest run of two or more zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** `10.244.0.0/16`; host bits must be zero unless `loose` (then they are cleared). */
export function parseCidr(s: string, loose = false): Cidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > width(ip.family)) return undefined;
  const base = ip.value & mask(ip.family, prefix);
  if (base !== ip.value && !loose) return undefined;
  return { family: ip.family, base, prefix };
}

/** An address with its prefix (`10.244.0.5/24`), as CNI results carry them. */
export function parseIpWithPrefix(s: string): { ip: Ip; prefix: number } | undefined {
  const c = parseCidr(s, true);
  const ip = c && parseIp(s.slice(0, s.indexOf("/")));
  return c && ip ? { ip, prefix: c.prefix } : undefined;
}

export function mask(family: 4 | 6, prefix: number): bigint {
  const w = BigInt(width(family));
  const all = (1n << w) - 1n;
  return all ^ ((1n << (w - BigInt(prefix))) - 1n);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.base })}/${c.prefix}`;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(width(c.family) - c.prefix);
}

export function contains(c: Cidr, ip: Ip): boolean {
  return ip.family === c.family && (ip.value & mask(c.family, c.prefix)) === c.base;
}

/** How many `prefix`-long subnets `parent` holds (0 when prefix is shorter than parent's). */
export function subnetCount(parent: Cidr, prefix: number): bigint {
  if (prefix < parent.prefix || prefix > width(parent.family)) return 0n;
  return 1n << BigInt(prefix - parent.prefix);
}

/** The index-th `prefix`-long subnet of parent. */
export function nthSubnet(parent: Cidr, prefix: number, index: bigint): Cidr {
  const step = 1n << BigInt(width(parent.family) - prefix);
  return { family: parent.family, base: parent.base + index * step, prefix };
}

/** The address at offset `n` inside `c`. */
export function nthAddress(c: Cidr, n: bigint): Ip {
  return { family: c.family, value: c.base + n };
}

/**
 * The offsets that pods may get: the gateway holds offset 1; offset 0 (and the IPv4 broadcast)
 * are never handed out.
 */
export function usableRange(c: Cidr): { first: bigint; last: bigint } {
  const n = size(c);
  return { first: 2n, last: c.family === 4 ? n - 2n : n - 1n };
}

export function gatewayOf(c: Cidr): Ip {
  return nthAddress(c, 1n);
}
