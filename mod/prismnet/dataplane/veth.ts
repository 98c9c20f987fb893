/**
 * The pod side: a veth pair whose pod end is created directly inside CNI_NETNS under
 * CNI_IFNAME (one `ip link add` does create, name, MAC, MTU, move and attach), then one batch
 * inside the namespace for address, link up and routes.
 */
import type { CniRoute } from "../result.ts";
import {
  deleteLink,
  ip,
  ipBatch,
  IpCommandError,
  ipJsonIfExists,
  type LinkInfo,
} from "../netlink/ip.ts";
import type { HostAttacher } from "./types.ts";

export interface VethPlan {
  hostVeth: string;
  hostMac: string;
  ifname: string;
  podMac: string;
  netns: string;
  mtu: number;
}

export class DataplaneError extends Error {}

export async function createVeth(p: VethPlan, attacher: HostAttacher): Promise<void> {
  const argv = [
    "link",
    "add",
    "name",
    p.hostVeth,
    "address",
    p.hostMac,
    "mtu",
    String(p.mtu),
    ...attacher.linkAddOptions(),
    "up",
    "type",
    "veth",
    "peer",
    "name",
    p.ifname,
    "address",
    p.podMac,
    "mtu",
    String(p.mtu),
    "netns",
    p.netns,
  ]; // deno-fmt-ignore
  try {
    await ip(argv);
  } catch (e) {
    if (!(e instanceof IpCommandError)) throw e;
    if (e.netnsMissing || /Invalid "netns" value|No such file/.test(e.stderr)) {
      throw new DataplaneError(`network namespace ${p.netns} cannot be entered: ${e.stderr.trim()}`);
    }
    if (!e.exists) throw new DataplaneError(e.message);
    // A leftover host end of this very attachment (same derived name) is ours to replace; an
    // interface already named CNI_IFNAME inside the pod is not.
    if (await deleteLink(p.hostVeth)) {
      try {
        await ip(argv);
        return;
      } catch (again) {
        throw new DataplaneError(again instanceof Error ? again.message : String(again));
      }
    }
    throw new DataplaneError(`interface ${p.ifname} already exists in ${p.netns}`);
  }
}

export interface PodAddressing {
  netns: string;
  ifname: string;
  /** With prefix. */
  address: string;
  routes: CniRoute[];
}

export async function configurePod(p: PodAddressing): Promise<void> {
  const v6 = p.address.includes(":");
  const lines = [
    `addr add ${p.address} dev ${p.ifname}${v6 ? " nodad" : ""}`,
    `link set dev ${p.ifname} up`,
    // `replace`: a route another network already installed is taken over, not an error.
    ...p.routes.map((r) => `route replace ${r.dst} ${r.gw ? `via ${r.gw} ` : ""}dev ${p.ifname}`),
  ];
  try {
    await ipBatch(lines, p.netns);
  } catch (e) {
    throw new DataplaneError(e instanceof Error ? e.message : String(e));
  }
}

/** Removes the pair through its host end (the pod end goes with it). True if it existed. */
export async function removeVeth(
  hostVeth: string,
  attacher: HostAttacher,
  who: { network: string; containerId: string; ifname: string },
): Promise<boolean> {
  await attacher.detach(hostVeth, who);
  return await deleteLink(hostVeth);
}

export async function hostLink(name: string): Promise<LinkInfo | undefined> {
  return (await ipJsonIfExists<LinkInfo>(["link", "show", "dev", name]))?.[0];
}

interface AddrLink extends LinkInfo {
  addr_info: Array<{ local: string; prefixlen: number; family: string }>;
}

/** The pod interface and its addresses and routes, as CHECK compares them. */
export async function observePod(netns: string, ifname: string, v6 = false) {
  const [addrs, routes] = await Promise.all([
    ipJsonIfExists<AddrLink>(["addr", "show", "dev", ifname], netns),
    ipJsonIfExists<{ dst: string; gateway?: string }>([
      v6 ? "-6" : "-4",
      "route",
      "show",
      "dev",
      ifname,
    ], netns),
  ]);
  const link = addrs?.[0];
  return {
    link: link ? { mac: link.address, mtu: link.mtu, up: link.flags.includes("UP") } : undefined,
    addresses: link ? link.addr_info.map((a) => `${a.local}/${a.prefixlen}`) : [],
    routes: (routes ?? []).map((r) => ({ dst: r.dst, gw: r.gateway })),
  };
}
