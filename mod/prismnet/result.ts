/**
 * CNI results: the 1.1.0 shape used inside the daemon, reading prevResults of any supported
 * version, chaining onto a previous result, and printing exactly what each version allows.
 * Pure.
 */
import { type CniError, cniError, compareVersions, ERR } from "../../cni/spec.ts";
import { parseIp, parseIpWithPrefix } from "./ipam/cidr.ts";

export interface CniInterface {
  name: string;
  mac?: string;
  /** 1.1.0+ */
  mtu?: number;
  sandbox?: string;
  /** 1.1.0+ */
  socketPath?: string;
  /** 1.1.0+ */
  pciID?: string;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  /** 1.1.0+: mtu, advmss, priority, table, scope. */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
}

const str = (v: unknown): v is string => typeof v === "string";
const int = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const strList = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every(str) ? v as string[] : undefined;

/** Reads a result of any supported version (e.g. a prevResult) into the internal shape. */
export function parseResult(raw: unknown, cniVersion: string): CniResult | CniError {
  const bad = (what: string) => cniError(ERR.decodingFailure, "invalid prevResult", what);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad("not an object");
  const r = raw as Record<string, unknown>;
  const interfaces: CniInterface[] = [];
  for (const [i, x] of (Array.isArray(r.interfaces) ? r.interfaces : []).entries()) {
    const o = x as Record<string, unknown>;
    if (typeof o !== "object" || o === null || !str(o.name)) {
      return bad(`interfaces[${i}] has no name`);
    }
    interfaces.push({
      name: o.name,
      ...(str(o.mac) ? { mac: o.mac } : {}),
      ...(int(o.mtu) ? { mtu: o.mtu } : {}),
      ...(str(o.sandbox) && o.sandbox !== "" ? { sandbox: o.sandbox } : {}),
      ...(str(o.socketPath) ? { socketPath: o.socketPath } : {}),
      ...(str(o.pciID) ? { pciID: o.pciID } : {}),
    });
  }
  const ips: CniIpConfig[] = [];
  for (const [i, x] of (Array.isArray(r.ips) ? r.ips : []).entries()) {
    const o = x as Record<string, unknown>;
    if (typeof o !== "object" || o === null || !str(o.address) || !parseIpWithPrefix(o.address)) {
      return bad(`ips[${i}].address is not an address with prefix`);
    }
    if (o.gateway !== undefined && (!str(o.gateway) || !parseIp(o.gateway))) {
      return bad(`ips[${i}].gateway`);
    }
    if (
      o.interface !== undefined &&
      (!int(o.interface) || o.interface < 0 || o.interface >= interfaces.length)
    ) {
      return bad(
        `ips[${i}].interface ${JSON.stringify(o.interface)} is not an index into interfaces`,
      );
    }
    ips.push({
      address: o.address,
      ...(str(o.gateway) ? { gateway: o.gateway } : {}),
      ...(int(o.interface) ? { interface: o.interface } : {}),
    });
  }
  const routes: CniRoute[] = [];
  for (const [i, x] of (Array.isArray(r.routes) ? r.routes : []).entries()) {
    const o = x as Record<string, unknown>;
    if (typeof o !== "object" || o === null || !str(o.dst)) return bad(`routes[${i}] has no dst`);
    const route: CniRoute = { dst: o.dst };
    if (str(o.gw)) route.gw = o.gw;
    for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
      if (int(o[k])) route[k] = o[k] as number;
    }
    routes.push(route);
  }
  const d = (typeof r.dns === "object" && r.dns !== null ? r.dns : {}) as Record<string, unknown>;
  const dns: CniDns = {};
  if (strList(d.nameservers)?.length) dns.nameservers = d.nameservers as string[];
  if (str(d.domain) && d.domain) dns.domain = d.domain;
  if (strList(d.search)?.length) dns.search = d.search as string[];
  if (strList(d.options)?.length) dns.options = d.options as string[];
  return {
    cniVersion: str(r.cniVersion) ? r.cniVersion : cniVersion,
    interfaces,
    ips,
    routes,
    dns,
  };
}

/**
 * Puts `ours` after what earlier plugins in the chain produced: their interfaces, addresses
 * and routes stay first, our interface indexes shift past theirs, and our DNS wins when set.
 */
export function chainResult(prev: CniResult | undefined, ours: CniResult): CniResult {
  if (!prev) return ours;
  const shift = prev.interfaces.length;
  return {
    cniVersion: ours.cniVersion,
    interfaces: [...prev.interfaces, ...ours.interfaces],
    ips: [
      ...prev.ips,
      ...ours.ips.map((ip) =>
        ip.interface === undefined ? ip : { ...ip, interface: ip.interface + shift }
      ),
    ],
    routes: [...prev.routes, ...ours.routes],
    dns: Object.keys(ours.dns).length ? ours.dns : prev.dns,
  };
}

/** The result as the given spec version prints it (older versions lose newer fields). */
export function renderResult(r: CniResult, cniVersion: string): Record<string, unknown> {
  const v11 = compareVersions(cniVersion, "1.1.0") >= 0;
  const v10 = compareVersions(cniVersion, "1.0.0") >= 0;
  const interfaces = r.interfaces.map((i) => {
    const o: Record<string, unknown> = { name: i.name };
    if (i.mac) o.mac = i.mac;
    if (v11 && i.mtu !== undefined) o.mtu = i.mtu;
    if (i.sandbox) o.sandbox = i.sandbox;
    if (v11 && i.socketPath) o.socketPath = i.socketPath;
    if (v11 && i.pciID) o.pciID = i.pciID;
    return o;
  });
  const ips = r.ips.map((ip) => {
    const o: Record<string, unknown> = {};
    if (!v10) o.version = ip.address.includes(":") ? "6" : "4";
    if (ip.interface !== undefined) o.interface = ip.interface;
    o.address = ip.address;
    if (ip.gateway) o.gateway = ip.gateway;
    return o;
  });
  const routes = r.routes.map((rt) => {
    const o: Record<string, unknown> = { dst: rt.dst };
    if (rt.gw) o.gw = rt.gw;
    if (v11) {
      for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
        if (rt[k] !== undefined) o[k] = rt[k];
      }
    }
    return o;
  });
  const out: Record<string, unknown> = { cniVersion, interfaces, ips };
  if (routes.length) out.routes = routes;
  out.dns = { ...r.dns };
  return out;
}
