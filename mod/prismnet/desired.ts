/**
 * What an attachment should look like, decided without touching the system: deterministic names
 * and MACs, the pod's routes and the ADD result. Pure. The request it starts from is read in
 * request.ts; CHECK's comparison is in check_compare.ts.
 */
import type { NetConf } from "./request.ts";
import type { CniDns, CniResult, CniRoute } from "./result.ts";

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
