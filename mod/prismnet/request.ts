/**
 * The CNI request as prismnet reads it, validated without touching the system: the network
 * configuration from stdin and the pod's identity from CNI_ARGS. Pure.
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
import { type CniDns, type CniResult, parseResult } from "./result.ts";

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
