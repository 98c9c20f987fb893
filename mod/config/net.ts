/** Address arithmetic for the cross-field checks (and for FiberLB pool strings). */
import { Address4, Address6 } from "ip-address";

export type Family = "IPv4" | "IPv6";

export interface Range {
  family: Family;
  first: bigint;
  last: bigint;
}

export interface Net extends Range {
  prefix: number;
  /** The address as written (before the slash). */
  address: bigint;
}

function addr(v: string): { family: Family; value: bigint } | undefined {
  if (v.includes("/")) return undefined;
  if (Address4.isValid(v)) return { family: "IPv4", value: new Address4(v).bigInt() };
  if (Address6.isValid(v)) return { family: "IPv6", value: new Address6(v).bigInt() };
  return undefined;
}

export function parseIp(v: string): { family: Family; value: bigint } | undefined {
  return addr(v.trim());
}

export function parseCidr(v: string): Net | undefined {
  const [a, p, extra] = v.trim().split("/");
  if (extra !== undefined || p === undefined || !/^\d{1,3}$/.test(p)) return undefined;
  const ip = addr(a);
  if (!ip) return undefined;
  const bits = ip.family === "IPv4" ? 32 : 128;
  const prefix = Number(p);
  if (prefix > bits) return undefined;
  const size = 1n << BigInt(bits - prefix);
  const first = ip.value - (ip.value % size);
  return { family: ip.family, prefix, address: ip.value, first, last: first + size - 1n };
}

/** A CIDR or an inclusive `first-last` address range. */
export function parseRange(v: string): Range | string {
  const s = v.trim();
  if (s.includes("/")) return parseCidr(s) ?? "a CIDR such as 192.0.2.0/24";
  const dash = s.indexOf("-");
  if (dash < 0) return "a CIDR or a first-last range";
  const a = addr(s.slice(0, dash).trim());
  const b = addr(s.slice(dash + 1).trim());
  if (!a || !b) return "a range of two IP addresses such as 192.0.2.10-192.0.2.20";
  if (a.family !== b.family) return "a range whose ends are of the same IP family";
  if (a.value > b.value) return "a range whose first address is not above its last";
  return { family: a.family, first: a.value, last: b.value };
}

export function overlaps(a: Range, b: Range): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function contains(r: Range, ip: { family: Family; value: bigint }): boolean {
  return r.family === ip.family && r.first <= ip.value && ip.value <= r.last;
}

export function formatAddress(family: Family, value: bigint): string {
  return family === "IPv4"
    ? Address4.fromBigInt(value).correctForm()
    : Address6.fromBigInt(value).correctForm();
}

/** `host:port` (IPv6 hosts in brackets); port 0 means "any free port". */
export function parseHostPort(v: string): { host: string; port: number } | string {
  const m = /^(\[[^\]]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(v.trim());
  if (!m) return "host:port such as 127.0.0.1:8443 ([::1]:8443 for IPv6)";
  const host = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  const port = Number(m[2]);
  if (port > 65535) return "a port between 0 and 65535";
  if (m[1].startsWith("[") && parseIp(host)?.family !== "IPv6") {
    return "an IPv6 address inside [brackets]";
  }
  if (!m[1].startsWith("[") && !parseIp(host) && !isHostname(host)) {
    return "host:port with an IP address or host name";
  }
  return { host, port };
}

export function isHostname(v: string): boolean {
  return /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
    .test(v);
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const ip = parseIp(host);
  if (!ip) return false;
  return ip.family === "IPv4" ? ip.value >> 24n === 127n : ip.value === 1n;
}
