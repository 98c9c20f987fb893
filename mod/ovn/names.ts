/**
 * Names and identifiers of the OVN topology (spec: PrismNET CNI, OVN Topology): one logical
 * switch `k8s-<namespace>` per namespace joined to the router `k8s-cluster-router`, one
 * logical switch port `<pod-name>-<container-id>` per pod interface. Everything k8shost
 * writes carries `external_ids` that say whose it is, so a resync can find it again.
 */
import { Address4, Address6 } from "ip-address";

export const CLUSTER_ROUTER = "k8s-cluster-router";
export const OWNER_KEY = "k8shost.io/owner";
export const OWNER_PRISMNET = "prismnet";

/** external_ids keys on logical switch ports and OVS interfaces. */
export const EXT = {
  namespace: "k8shost.io/namespace",
  pod: "k8shost.io/pod",
  podUid: "k8shost.io/pod-uid",
  containerId: "k8shost.io/container-id",
  ifname: "k8shost.io/ifname",
  node: "k8shost.io/node",
  subnet: "k8shost.io/subnet",
  gateway: "k8shost.io/gateway",
} as const;

export const switchName = (namespace: string) => `k8s-${namespace}`;
/** The router's port facing a namespace switch. */
export const routerPortName = (namespace: string) => `rtos-k8s-${namespace}`;
/** The switch's port facing the router. */
export const switchRouterPortName = (namespace: string) => `stor-k8s-${namespace}`;

/** The pod's logical switch port; also the OVS interface's external_ids:iface-id. */
export function podPortName(podName: string, containerId: string, ifname = "eth0"): string {
  const base = `${podName}-${containerId}`;
  return ifname === "eth0" ? base : `${base}-${ifname}`;
}

/** `10.244.1.5/24` → { ip, prefix, cidr: "10.244.1.0/24", v6 }. Throws on anything else. */
export function parseAddress(addressWithPrefix: string) {
  const v6 = addressWithPrefix.includes(":");
  if (!addressWithPrefix.includes("/") || !(v6 ? Address6 : Address4).isValid(addressWithPrefix)) {
    throw new TypeError(`"${addressWithPrefix}" is not an address with a prefix length`);
  }
  const a = v6 ? new Address6(addressWithPrefix) : new Address4(addressWithPrefix);
  const prefix = a.subnetMask;
  const network = a.startAddress().correctForm();
  return { ip: a.correctForm(), prefix, cidr: `${network}/${prefix}`, v6 };
}

/** The subnet's first host address: the gateway PrismNET's IPAM hands out (offset 1). */
export function defaultGateway(cidr: string): string {
  const { cidr: net, v6 } = parseAddress(cidr);
  const a = v6 ? new Address6(net) : new Address4(net);
  const next = a.startAddress().bigInt() + 1n;
  return v6 ? Address6.fromBigInt(next).correctForm() : Address4.fromBigInt(next).correctForm();
}

/**
 * The router port's MAC: `0a:58` and the IPv4 gateway's four bytes (stable and readable), or
 * for IPv6 four bytes of a hash of the gateway. Locally administered, unicast.
 */
export function routerMac(gateway: string): string {
  let bytes: number[];
  if (!gateway.includes(":")) {
    bytes = gateway.split(".").map(Number);
  } else {
    let h = 0x811c9dc5;
    for (const ch of new Address6(gateway).canonicalForm()) {
      h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
    }
    bytes = [h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  }
  return ["0a", "58", ...bytes.map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

/** Logical_Switch_Port.addresses / port_security entry: `"MAC IP [IP...]"`. */
export function lspAddress(mac: string, ips: string[]): string {
  return [mac.toLowerCase(), ...ips].join(" ");
}
