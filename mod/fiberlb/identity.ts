/**
 * Who a Service is to the controller: its key, whether it is ours, its tenant, its ports, and the
 * names and labels of its FiberLB objects. Pure.
 */
import type { KubeObject } from "../kube/api.ts";
import { ANNOTATIONS, FINALIZER, TENANT_LABELS } from "./annotations.ts";

export const LABELS = {
  cluster: "k8shost.plasmacloud.io/cluster",
  service: "k8shost.plasmacloud.io/service",
  uid: "k8shost.plasmacloud.io/uid",
};

export interface Settings {
  clusterId: string;
  loadBalancerClass: string;
  memberMode: "node" | "pod";
}

export type ProblemReason =
  | "InvalidAnnotation"
  | "NoIPPool"
  | "IPPoolNotFound"
  | "RequestedIPNotInPool"
  | "IPConflict"
  | "IPExhausted"
  | "UnsupportedProtocol"
  | "FiberLBError";

export interface Problem {
  reason: ProblemReason;
  message: string;
}

export function serviceKey(svc: KubeObject): string {
  return `${svc.metadata.namespace}/${svc.metadata.name}`;
}

/** A LoadBalancer Service of our class (or of no class). */
export function isServed(svc: KubeObject, loadBalancerClass: string): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  const cls = svc.spec?.loadBalancerClass;
  return cls === undefined || cls === null || cls === "" || cls === loadBalancerClass;
}

/** Something of ours is attached to the Service and must be cleaned up when it stops being ours. */
export function hasOurRecord(svc: KubeObject): boolean {
  const a = svc.metadata.annotations ?? {};
  return (svc.metadata.finalizers ?? []).includes(FINALIZER) ||
    a[ANNOTATIONS.allocatedIp] !== undefined || a[ANNOTATIONS.loadBalancerId] !== undefined;
}

export function lbName(clusterId: string, namespace: string, name: string): string {
  // Namespaces and Service names are DNS labels: a dot cannot appear in either.
  return `k8s.${clusterId}.${namespace}.${name}`;
}

export function ownerLabels(clusterId: string, svc: KubeObject): Record<string, string> {
  return {
    [LABELS.cluster]: clusterId,
    [LABELS.service]: serviceKey(svc),
    [LABELS.uid]: svc.metadata.uid ?? "",
  };
}

export interface Tenant {
  orgId: string;
  projectId: string;
}

export function tenantOf(namespace: KubeObject | undefined): Tenant {
  const l = namespace?.metadata.labels ?? {};
  return { orgId: l[TENANT_LABELS.org] ?? "", projectId: l[TENANT_LABELS.project] ?? "" };
}

export const tenantKey = (t: Tenant) => `${t.orgId}/${t.projectId}`;

export interface ServicePort {
  name: string;
  protocol: string;
  port: number;
  nodePort?: number;
}

export function servicePorts(svc: KubeObject): ServicePort[] {
  return ((svc.spec?.ports ?? []) as Array<Record<string, unknown>>).map((p) => ({
    name: (p.name as string) ?? "",
    protocol: (p.protocol as string) ?? "TCP",
    port: Number(p.port),
    nodePort: p.nodePort === undefined ? undefined : Number(p.nodePort),
  }));
}

export function portKeys(svc: KubeObject): string[] {
  return servicePorts(svc).map((p) => `${p.protocol}/${p.port}`);
}
