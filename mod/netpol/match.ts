/**
 * OVN match expressions (ovn-sb(5) Logical_Flow match syntax) for NetworkPolicy rules. OVN
 * refuses `&&` and `||` mixed without parentheses, so every compound term is parenthesized;
 * an address set that does not exist makes the whole ACL unparsable, so only sets the
 * controller also creates are referenced.
 */
import { Address4, Address6 } from "ip-address";

export type Side = "src" | "dst";

/** Joins with `&&`; a term with a top-level `||` is parenthesized. */
export const and = (terms: string[]) =>
  terms.map((t) => (terms.length > 1 && hasTop(t, "||") ? `(${t})` : t)).join(" && ");
/** Joins with `||`; a term with a top-level `&&` is parenthesized. */
export const or = (terms: string[]) =>
  terms.map((t) => (terms.length > 1 && hasTop(t, "&&") ? `(${t})` : t)).join(" || ");

function hasTop(t: string, op: "&&" | "||"): boolean {
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === "(" || c === "{") depth++;
    else if (c === ")" || c === "}") depth--;
    else if (depth === 0 && t.startsWith(op, i)) return true;
  }
  return false;
}

export const isV6 = (cidrOrIp: string) => cidrOrIp.includes(":");

/** A CIDR in canonical network form, or undefined when it is not one. */
export function canonicalCidr(cidr: string): string | undefined {
  if (!cidr.includes("/")) return undefined;
  if (isV6(cidr)) {
    if (!Address6.isValid(cidr)) return undefined;
    const a = new Address6(cidr);
    return `${a.startAddress().correctForm()}/${a.subnetMask}`;
  }
  if (!Address4.isValid(cidr)) return undefined;
  const a = new Address4(cidr);
  return `${a.startAddress().correctForm()}/${a.subnetMask}`;
}

/** Whether a canonical CIDR contains an address (of the same family); parsed CIDRs cached. */
export function cidrContains(cidr: string, ip: string): boolean {
  if (isV6(cidr) !== isV6(ip)) return false;
  let c = cidrCache.get(cidr);
  if (!c) {
    const [net, bits] = cidr.split("/");
    const width = isV6(cidr) ? 128n : 32n;
    c = { shift: width - BigInt(Number(bits)), net: 0n };
    c.net = ipBits(net) >> c.shift;
    cidrCache.set(cidr, c);
  }
  return ipBits(ip) >> c.shift === c.net;
}

const cidrCache = new Map<string, { shift: bigint; net: bigint }>();

function ipBits(ip: string): bigint {
  if (!isV6(ip)) return ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  return new Address6(ip).bigInt();
}

/** `ip4.src == 10.0.0.0/8 && ip4.src != {10.1.0.0/16}` (except narrowed to the same family). */
export function ipBlockMatch(side: Side, cidr: string, except: string[]): string {
  const f = isV6(cidr) ? "ip6" : "ip4";
  const ex = except.filter((e) => isV6(e) === isV6(cidr));
  const base = `${f}.${side} == ${cidr}`;
  return ex.length ? `${base} && ${f}.${side} != {${ex.join(", ")}}` : base;
}

/** `ip4.src == $set_v4 || ip6.src == $set_v6` for a pair of per-family address sets. */
export function addressSetMatch(side: Side, v4Set: string, v6Set: string): string {
  return `ip4.${side} == $${v4Set} || ip6.${side} == $${v6Set}`;
}

export function ipMatch(side: Side, ip: string): string {
  return `${isV6(ip) ? "ip6" : "ip4"}.${side} == ${ip}`;
}

const PROTO: Record<string, string> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/** `tcp`, `tcp && tcp.dst == 80` or `tcp && tcp.dst >= 80 && tcp.dst <= 90`. */
export function portMatch(protocol: string, port?: number, endPort?: number): string {
  const p = PROTO[protocol];
  if (!p) throw new TypeError(`unsupported protocol ${protocol}`);
  if (port === undefined) return p;
  if (endPort !== undefined && endPort > port) {
    return `${p} && ${p}.dst >= ${port} && ${p}.dst <= ${endPort}`;
  }
  return `${p} && ${p}.dst == ${port}`;
}

export const isProtocol = (p: string) => p in PROTO;
