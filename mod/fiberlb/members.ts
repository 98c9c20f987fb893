/**
 * Pool members, pure: the ready endpoints of a Service port (pod IP + targetPort), or the ready
 * nodes on its nodePort, as EndpointSlices and Nodes say.
 */
import type { KubeObject } from "../kube/api.ts";
import type { PoolMember } from "./client.ts";
import type { ServicePort } from "./identity.ts";
import { canonicalIp } from "./pools.ts";

/** The Service's EndpointSlices (label kubernetes.io/service-name, same namespace). */
export function slicesOf(svc: KubeObject, slices: KubeObject[]): KubeObject[] {
  return slices.filter((s) =>
    s.metadata.namespace === svc.metadata.namespace &&
    s.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name
  );
}

interface ReadyEndpoint {
  address: string;
  port: number;
  nodeName?: string;
}

function readyEndpoints(svc: KubeObject, port: ServicePort, slices: KubeObject[]): ReadyEndpoint[] {
  const out: ReadyEndpoint[] = [];
  for (const slice of slicesOf(svc, slices)) {
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const sp = (slice.ports ?? []).find((p: Record<string, unknown>) =>
      ((p.name as string) ?? "") === port.name &&
      ((p.protocol as string) ?? "TCP") === port.protocol
    );
    if (!sp || !Number.isInteger(sp.port)) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const ip = canonicalIp(address);
        if (ip) out.push({ address: ip, port: sp.port, nodeName: ep.nodeName });
      }
    }
  }
  return out;
}

function uniqueSorted(members: PoolMember[]): PoolMember[] {
  const seen = new Map<string, PoolMember>();
  for (const m of members) seen.set(`${m.address}|${m.port}`, m);
  return [...seen.values()].sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port);
}

export function podMembers(svc: KubeObject, port: ServicePort, slices: KubeObject[]): PoolMember[] {
  return uniqueSorted(
    readyEndpoints(svc, port, slices).map((e) => ({ address: e.address, port: e.port, weight: 1 })),
  );
}

function nodeReady(node: KubeObject): boolean {
  return (node.status?.conditions ?? []).some((c: Record<string, string>) =>
    c.type === "Ready" && c.status === "True"
  );
}

function nodeAddress(node: KubeObject): string | undefined {
  const addrs = (node.status?.addresses ?? []) as Array<{ type: string; address: string }>;
  const pick = addrs.find((a) => a.type === "InternalIP") ??
    addrs.find((a) => a.type === "ExternalIP");
  return pick && canonicalIp(pick.address);
}

/** Ready nodes (minus those excluded from load balancers) on the port's nodePort. */
export function nodeMembers(
  svc: KubeObject,
  port: ServicePort,
  slices: KubeObject[],
  nodes: KubeObject[],
): PoolMember[] {
  if (!port.nodePort) return [];
  let eligible = nodes.filter((n) =>
    nodeReady(n) &&
    n.metadata.labels?.["node.kubernetes.io/exclude-from-external-load-balancers"] === undefined
  );
  if (svc.spec?.externalTrafficPolicy === "Local") {
    const hosting = new Set(readyEndpoints(svc, port, slices).map((e) => e.nodeName));
    eligible = eligible.filter((n) => hosting.has(n.metadata.name));
  }
  return uniqueSorted(eligible.flatMap((n) => {
    const address = nodeAddress(n);
    return address ? [{ address, port: port.nodePort!, weight: 1 }] : [];
  }));
}
