/**
 * Makes the embedded DNS server reachable at the cluster DNS IP that kubelet hands to pods:
 * a selector-less Service `kube-dns` in kube-system whose ClusterIP is networking.clusterDNS,
 * plus one EndpointSlice per server node naming that node's address and the server's port.
 * kube-proxy then carries pod queries to 10.96.0.10:53 to a FlashDNS server. (k3s's CoreDNS,
 * which would own that Service, is disabled whenever FlashDNS serves the domain.)
 */
import type { KubeApi, KubeObject } from "../kube/api.ts";
import { isAlreadyExists, isConflict, RESOURCES } from "../kube/mod.ts";
import { isIPv4, isIPv6 } from "./records.ts";
import { SERVICE_NAME_LABEL } from "./kube_objects.ts";

export const DNS_SERVICE = { name: "kube-dns", namespace: "kube-system" };
export const MANAGED_BY = "k8shost-flashdns";

export function dnsService(clusterIp: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...DNS_SERVICE,
      labels: {
        "k8s-app": "kube-dns",
        "kubernetes.io/name": "FlashDNS",
        "app.kubernetes.io/managed-by": MANAGED_BY,
      },
    },
    spec: {
      type: "ClusterIP",
      clusterIP: clusterIp,
      clusterIPs: [clusterIp],
      ports: [
        { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
        { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
      ],
    },
  };
}

export function dnsEndpointSlice(nodeName: string, nodeIp: string, port: number): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `kube-dns-flashdns-${nodeName}`.slice(0, 253),
      namespace: DNS_SERVICE.namespace,
      labels: {
        [SERVICE_NAME_LABEL]: DNS_SERVICE.name,
        "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
      },
    },
    addressType: isIPv6(nodeIp) ? "IPv6" : "IPv4",
    endpoints: [{ addresses: [nodeIp], conditions: { ready: true }, nodeName }],
    ports: [
      { name: "dns", port, protocol: "UDP" },
      { name: "dns-tcp", port, protocol: "TCP" },
    ],
  };
}

/** The node's InternalIP (first of the family present), from its Node object. */
export async function nodeAddress(api: KubeApi, nodeName: string): Promise<string | undefined> {
  const node = await api.tryGet<KubeObject>(RESOURCES.nodes, nodeName);
  const addrs: Array<{ type: string; address: string }> = node?.status?.addresses ?? [];
  return addrs.find((a) => a.type === "InternalIP" && (isIPv4(a.address) || isIPv6(a.address)))
    ?.address;
}

async function ensure(
  api: KubeApi,
  ref: typeof RESOURCES.services,
  want: KubeObject,
  same: (have: KubeObject) => boolean,
) {
  const have = await api.tryGet<KubeObject>(ref, want.metadata.name!, want.metadata.namespace);
  if (!have) {
    try {
      await api.create(ref, want);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    return;
  }
  if (same(have)) return;
  try {
    await api.replace(ref, {
      ...have,
      ...want,
      metadata: { ...have.metadata, labels: want.metadata.labels },
    });
  } catch (e) {
    if (!isConflict(e)) throw e; // Someone else wrote it; the next publish converges.
  }
}

/** Creates or repairs the Service and this node's EndpointSlice. Idempotent. */
export async function publishDnsEndpoint(
  api: KubeApi,
  o: { clusterIp: string; nodeName: string; nodeIp: string; port: number },
): Promise<void> {
  const svc = dnsService(o.clusterIp);
  await ensure(api, RESOURCES.services, svc, (have) =>
    have.spec?.clusterIP === o.clusterIp &&
    JSON.stringify(
        have.spec?.ports?.map((
          p: { name: string; port: number; protocol: string },
        ) => [p.name, p.port, p.protocol]),
      ) ===
      JSON.stringify(
        svc.spec.ports.map((
          p: { name: string; port: number; protocol: string },
        ) => [p.name, p.port, p.protocol]),
      ));
  const slice = dnsEndpointSlice(o.nodeName, o.nodeIp, o.port);
  await ensure(
    api,
    RESOURCES.endpointSlices,
    slice,
    (have) =>
      JSON.stringify([have.endpoints, have.ports]) ===
        JSON.stringify([slice.endpoints, slice.ports]),
  );
}

/** Removes this node's EndpointSlice so the Service stops sending queries here. */
export async function unpublishDnsEndpoint(api: KubeApi, nodeName: string): Promise<void> {
  const name = dnsEndpointSlice(nodeName, "127.0.0.1", 53).metadata.name!;
  try {
    await api.delete(RESOURCES.endpointSlices, name, DNS_SERVICE.namespace);
  } catch {
    // Absent already, or the API is gone during shutdown: nothing to do.
  }
}
