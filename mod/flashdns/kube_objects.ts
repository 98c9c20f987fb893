/**
 * What FlashDNS reads of the cluster: the fields of Services, EndpointSlices and Pods its
 * records come from, and the tenant a namespace's labels name.
 */
import type { KubeObject } from "../kube/api.ts";

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}
export interface Service extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    ports?: ServicePort[];
    publishNotReadyAddresses?: boolean;
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}
/** The annotation that meant publishNotReadyAddresses before that field existed; still honoured. */
export const TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

export interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: Array<{
    addresses: string[];
    hostname?: string;
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  }>;
  ports?: Array<{ name?: string; port?: number; protocol?: string }>;
}
export interface Pod extends KubeObject {
  spec?: { hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; podIPs?: Array<{ ip: string }> };
}

/** The PlasmaCloud tenant owning a namespace, from the labels tenancy puts on it. */
export interface Tenant {
  orgId: string;
  projectId: string;
}
export const TENANT_NAMESPACE_LABELS = {
  org: "plasmacloud.io/org-id",
  project: "plasmacloud.io/project-id",
};

export function tenantOf(namespace: KubeObject | undefined): Tenant | undefined {
  const l = namespace?.metadata.labels ?? {};
  const t = {
    orgId: l[TENANT_NAMESPACE_LABELS.org] ?? "",
    projectId: l[TENANT_NAMESPACE_LABELS.project] ?? "",
  };
  return t.orgId || t.projectId ? t : undefined;
}

export interface ClusterObjects {
  services: Service[];
  endpointSlices: EndpointSlice[];
  pods: Pod[];
  /** Namespaces, for the tenant labels of the records of objects in them. */
  namespaces?: KubeObject[];
}

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** Groups EndpointSlices by `ns/service` via the kubernetes.io/service-name label. */
export function slicesByService(slices: EndpointSlice[]): Map<string, EndpointSlice[]> {
  const out = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${s.metadata.namespace ?? "default"}/${svc}`;
    const list = out.get(key) ?? [];
    list.push(s);
    out.set(key, list);
  }
  return out;
}
