/**
 * What an attachment should look like, decided without touching the system: the network
 * configuration as prismnet reads it, the pod's identity from CNI_ARGS, deterministic names and
 * MACs, the ADD result, and CHECK's comparison of prevResult with what is observed. Pure.
 */
import {
  type CniEnv,
  type CniError,
  cniError,
  ERR,
  isCniError,
  parseCniArgs,
} from "../../cni/spec.ts";
import { parseCidr, parseIp, parseIpWithPrefix } from "./ipam/cidr.ts";
import { type CniDns, type CniResult, type CniRoute, parseResult } from "./result.ts";

export interface GcAttachment {
  containerId: string;
  ifname: string;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  mtu?: number;
  dns: CniDns;
  /** Routes to install in the pod (ipam.routes); default: a default route via the gateway. */
  routes?: Array<{ dst: string; gw?: string }>;
  requestedIps: string[];
  requestedMac?: string;
  prevResult?: CniResult;
  /** GC: the attachments the runtime still knows; undefined when absent. */
  validAttachments?: GcAttachment[];
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

export function parseNetConf(c: Record<string, unknown>): NetConf | CniError {
  const bad = (key: string, why: string) =>
    cniError(
      ERR.invalidConfig,
      `invalid network configuration: ${key}`,
      `${JSON.stringify(c[key.split(".")[0]])}: ${why}`,
    );
  const conf: NetConf = {
    cniVersion: c.cniVersion as string,
    name: c.name as string,
    dns: {},
    requestedIps: [],
  };
  if (c.mtu !== undefined) {
    if (typeof c.mtu !== "number" || !Number.isInteger(c.mtu) || c.mtu < 576 || c.mtu > 65535) {
      return bad("mtu", "expected an integer 576..65535");
    }
    conf.mtu = c.mtu;
  }
  if (c.dns !== undefined) {
    const parsed = parseResult({ dns: c.dns }, conf.cniVersion);
    if (isCniError(parsed) || typeof c.dns !== "object") return bad("dns", "expected a DNS object");
    conf.dns = parsed.dns;
  }
  const ipam = c.ipam as Record<string, unknown> | undefined;
  if (ipam !== undefined && (typeof ipam !== "object" || ipam === null)) {
    return bad("ipam", "expected an object");
  }
  if (ipam?.routes !== undefined) {
    if (!Array.isArray(ipam.routes)) return bad("ipam.routes", "expected a list");
    const routes: Array<{ dst: string; gw?: string }> = [];
    for (const r of ipam.routes as Array<Record<string, unknown>>) {
      if (typeof r?.dst !== "string" || !parseCidr(r.dst, true)) {
        return bad("ipam.routes", "dst must be a CIDR");
      }
      if (r.gw !== undefined && (typeof r.gw !== "string" || !parseIp(r.gw))) {
        return bad("ipam.routes", "gw must be an IP");
      }
      routes.push(r.gw ? { dst: r.dst, gw: r.gw as string } : { dst: r.dst });
    }
    conf.routes = routes;
  }
  const rc = c.runtimeConfig as Record<string, unknown> | undefined;
  if (rc !== undefined && (typeof rc !== "object" || rc === null)) {
    return bad("runtimeConfig", "expected an object");
  }
  if (rc?.ips !== undefined) {
    if (
      !Array.isArray(rc.ips) ||
      !rc.ips.every((x) => typeof x === "string" && (parseIp(x) || parseIpWithPrefix(x)))
    ) {
      return bad("runtimeConfig.ips", "expected a list of addresses (optionally with prefix)");
    }
    conf.requestedIps = (rc.ips as string[]).map((x) => x.split("/")[0]);
  }
  if (rc?.mac !== undefined) {
    const mac = typeof rc.mac === "string" ? rc.mac.toLowerCase() : "";
    if (!MAC.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1) {
      return bad("runtimeConfig.mac", "expected a unicast MAC address");
    }
    conf.requestedMac = mac;
  }
  if (c.prevResult !== undefined) {
    const prev = parseResult(c.prevResult, conf.cniVersion);
    if (isCniError(prev)) return prev;
    conf.prevResult = prev;
  }
  // CNI 1.1 named the key cni.dev/attachments first and libcni sends both; accept either.
  const gc = c["cni.dev/valid-attachments"] ?? c["cni.dev/attachments"];
  if (gc !== undefined) {
    if (!Array.isArray(gc)) return bad("cni.dev/valid-attachments", "expected a list");
    const list: GcAttachment[] = [];
    for (const a of gc as Array<Record<string, unknown>>) {
      if (typeof a?.containerID !== "string" || typeof a?.ifname !== "string") {
        return bad("cni.dev/valid-attachments", "entries need containerID and ifname");
      }
      list.push({ containerId: a.containerID, ifname: a.ifname });
    }
    conf.validAttachments = list;
  }
  return conf;
}

export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
  /** CNI_ARGS `IP=` / `MAC=` (the conventions podman's CNI backend uses for --ip/--mac-address). */
  ip?: string;
  mac?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Pod identity from CNI_ARGS. Kubelet always sends a valid namespace with the pod UID; other
 * runtimes (podman passes its container name) land in `default` when theirs is not a DNS label.
 */
export function podIdentity(env: Pick<CniEnv, "args">): PodIdentity | CniError {
  const args = parseCniArgs(env.args);
  if (isCniError(args)) return args;
  let namespace = args.K8S_POD_NAMESPACE || "default";
  if (!DNS_LABEL.test(namespace)) {
    if (args.K8S_POD_UID) {
      return cniError(
        ERR.invalidEnv,
        "invalid K8S_POD_NAMESPACE in CNI_ARGS",
        JSON.stringify(namespace),
      );
    }
    namespace = "default";
  }
  const who: PodIdentity = {
    namespace,
    name: args.K8S_POD_NAME ?? "",
    uid: args.K8S_POD_UID ?? "",
  };
  if (args.IP) {
    const ip = args.IP.split("/")[0];
    if (!parseIp(ip)) {
      return cniError(ERR.invalidEnv, "invalid IP in CNI_ARGS", JSON.stringify(args.IP));
    }
    who.ip = ip;
  }
  if (args.MAC) {
    const mac = args.MAC.toLowerCase();
    if (!MAC.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1) {
      return cniError(ERR.invalidEnv, "invalid MAC in CNI_ARGS", JSON.stringify(args.MAC));
    }
    who.mac = mac;
  }
  return who;
}

/** FNV-1a, 64 bit: stable short names from long ids. */
export function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

const hex16 = (h: bigint) => h.toString(16).padStart(16, "0");

/** The host end's name: `kh` + 13 hex digits of the attachment key (15 bytes, IFNAMSIZ-1). */
export function hostVethName(containerId: string, ifname: string): string {
  return "kh" + hex16(fnv1a64(`${containerId}\0${ifname}`)).slice(0, 13);
}

export const HOST_VETH = /^kh[0-9a-f]{13}$/;

/** A locally administered unicast MAC derived from `seed`. */
export function macFrom(seed: string): string {
  const h = hex16(fnv1a64(seed)).slice(0, 12);
  const bytes = h.match(/../g)!.map((x) => parseInt(x, 16));
  bytes[0] = (bytes[0] & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** File-name-safe id of an attachment record. */
export function attachmentId(network: string, containerId: string, ifname: string): string {
  return hex16(fnv1a64(`${network}\0${containerId}\0${ifname}`));
}

/** The routes a pod gets: configured ones (gateway filled in) or one default route. */
export function podRoutes(conf: NetConf, address: string, gateway: string): CniRoute[] {
  const v6 = address.includes(":");
  const wanted = conf.routes ?? [{ dst: v6 ? "::/0" : "0.0.0.0/0" }];
  return wanted
    .filter((r) => r.dst.includes(":") === v6)
    .map((r) => ({ dst: r.dst, gw: r.gw ?? gateway }));
}

export interface AttachmentPlan {
  bridge: string;
  bridgeMac: string;
  hostVeth: string;
  hostMac: string;
  ifname: string;
  podMac: string;
  netns: string;
  mtu: number;
  address: string;
  gateway: string;
  routes: CniRoute[];
  dns: CniDns;
}

/** Our part of the ADD result: bridge, host veth, pod interface; the address on the pod end. */
export function attachmentResult(cniVersion: string, p: AttachmentPlan): CniResult {
  return {
    cniVersion,
    interfaces: [
      { name: p.bridge, mac: p.bridgeMac },
      { name: p.hostVeth, mac: p.hostMac },
      { name: p.ifname, mac: p.podMac, mtu: p.mtu, sandbox: p.netns },
    ],
    ips: [{ address: p.address, gateway: p.gateway, interface: 2 }],
    routes: p.routes,
    dns: p.dns,
  };
}

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
