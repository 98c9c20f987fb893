/**
 * CHECK's comparison, the pure half of check.ts: what prevResult promises, what was observed,
 * and every difference between the two.
 */
import { type CniError, cniError, ERR } from "../../cni/spec.ts";
import { parseIp, parseIpWithPrefix } from "./ipam/cidr.ts";
import type { CniResult, CniRoute } from "./result.ts";

/** What CHECK expects to find, read from prevResult. */
export interface Expected {
  ifname: string;
  mac?: string;
  mtu?: number;
  addresses: string[];
  routes: CniRoute[];
}

export function expectedFromPrev(
  prev: CniResult,
  ifname: string,
  netns: string,
): Expected | CniError {
  const idx = prev.interfaces.findIndex((i) => i.name === ifname && i.sandbox === netns);
  if (idx < 0) {
    return cniError(ERR.checkFailed, `prevResult lists no interface ${ifname} in ${netns}`);
  }
  const iface = prev.interfaces[idx];
  return {
    ifname,
    mac: iface.mac,
    mtu: iface.mtu,
    addresses: prev.ips.filter((ip) => ip.interface === idx).map((ip) => ip.address),
    routes: prev.routes,
  };
}

export interface Observed {
  /** Pod interface, undefined when missing. */
  link?: { mac?: string; mtu: number; up: boolean };
  /** Addresses on the pod interface with prefix. */
  addresses: string[];
  /** Routes in the pod's main table, `dst` normalised (`default` → 0.0.0.0/0 or ::/0). */
  routes: Array<{ dst: string; gw?: string }>;
  /** Problems on the host side reported by the attacher. */
  hostProblems: string[];
  /** Address the IPAM lease holds for this key (without prefix), undefined when none. */
  leasedIp?: string;
}

/**
 * Everything ADD set up and prevResult promises that is missing or different. Routes may have
 * been changed by later plugins, so only routes through our gateway are required.
 */
export function checkProblems(exp: Expected, obs: Observed, ourGateway?: string): string[] {
  const out: string[] = [];
  if (!obs.link) return [`interface ${exp.ifname} is missing`, ...obs.hostProblems];
  if (!obs.link.up) out.push(`interface ${exp.ifname} is down`);
  if (exp.mac && obs.link.mac?.toLowerCase() !== exp.mac.toLowerCase()) {
    out.push(`interface ${exp.ifname} has MAC ${obs.link.mac}, expected ${exp.mac}`);
  }
  if (exp.mtu !== undefined && obs.link.mtu !== exp.mtu) {
    out.push(`interface ${exp.ifname} has MTU ${obs.link.mtu}, expected ${exp.mtu}`);
  }
  const have = new Set(obs.addresses.map(canonicalAddress));
  for (const a of exp.addresses) {
    if (!have.has(canonicalAddress(a))) out.push(`interface ${exp.ifname} lacks address ${a}`);
    const ip = a.split("/")[0];
    if (obs.leasedIp === undefined) out.push(`no IPAM lease holds ${ip}`);
    else if (canonicalIp(obs.leasedIp) !== canonicalIp(ip)) {
      out.push(`IPAM lease holds ${obs.leasedIp}, not ${ip}`);
    }
  }
  for (const r of exp.routes) {
    if (!ourGateway || r.gw !== ourGateway) continue;
    const found = obs.routes.some((o) =>
      canonicalAddress(o.dst) === canonicalAddress(r.dst) &&
      (!r.gw || canonicalIp(o.gw ?? "") === canonicalIp(r.gw))
    );
    if (!found) out.push(`route ${r.dst} via ${r.gw} is missing`);
  }
  return [...out, ...obs.hostProblems];
}

function canonicalIp(s: string): string {
  const ip = parseIp(s);
  return ip ? `${ip.family}:${ip.value}` : s;
}

function canonicalAddress(s: string): string {
  if (s === "default") return "default";
  const p = parseIpWithPrefix(s);
  if (!p) return canonicalIp(s);
  if (p.prefix === 0) return "default";
  return `${p.ip.family}:${p.ip.value}/${p.prefix}`;
}
