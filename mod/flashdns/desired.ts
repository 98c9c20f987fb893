/**
 * The records the cluster should have, as a pure function of Services, EndpointSlices and Pods,
 * following the Kubernetes DNS-Based Service Discovery specification (schema 1.0.1) and the
 * PlasmaCloud hierarchy. No I/O: everything here is exhaustively unit-tested.
 */
import type { KubeObject } from "../kube/api.ts";
import {
  canonicalIp,
  dashedIp,
  isIPv4,
  isIPv6,
  normalizeName,
  type RecordSet,
  type RecordType,
  reverseName,
  setKey,
} from "./records.ts";

/** The schema version served in `dns-version.<domain>` TXT. */
export const DNS_SCHEMA_VERSION = "1.0.1";
export const TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints";
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
export const REVERSE_V4 = "in-addr.arpa";
export const REVERSE_V6 = "ip6.arpa";

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

export interface DesiredContext {
  /** Cluster domain, e.g. `cluster.local`. */
  domain: string;
  ttl: number;
  /** Value of the `owner` label, e.g. `k8shost/default`. */
  owner: string;
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

/**
 * Labels that mark a set as ours and say which object it came from; for an object in a tenant's
 * namespace also `org_id`/`project_id` (the names IAM and the other contracts use), so FlashDNS
 * can attribute the record to the tenant.
 */
export function ownerLabels(
  ctx: DesiredContext,
  kind: string,
  namespace: string,
  name: string,
  tenant?: Tenant,
): Record<string, string> {
  return {
    owner: ctx.owner,
    "k8s-kind": kind,
    "k8s-namespace": namespace,
    "k8s-name": name,
    ...(tenant?.orgId ? { org_id: tenant.orgId } : {}),
    ...(tenant?.projectId ? { project_id: tenant.projectId } : {}),
  };
}

/** Collects values per (zone, name, type); the first contributor's labels win. */
class SetBuilder {
  private sets = new Map<string, RecordSet>();
  constructor(private ctx: DesiredContext, private labels: Record<string, string>) {}

  add(zone: string, name: string, type: RecordType, value: string) {
    const key = setKey({ zone, name, type });
    let s = this.sets.get(key);
    if (!s) {
      this.sets.set(
        key,
        s = { zone, name, type, values: [], ttl: this.ctx.ttl, labels: this.labels },
      );
    }
    if (!s.values.includes(value)) s.values.push(value);
  }
  /** An A or AAAA value for a name in the cluster zone, by the address family. */
  addAddress(name: string, ip: string) {
    this.add(this.ctx.domain, name, isIPv4(ip) ? "A" : "AAAA", canonicalIp(ip));
  }
  addPtr(ip: string, target: string) {
    const rev = reverseName(ip);
    const zone = isIPv4(ip) ? REVERSE_V4 : REVERSE_V6;
    this.add(zone, rev.slice(0, -(zone.length + 1)), "PTR", `${target}.${this.ctx.domain}.`);
  }
  /** Sets whose name is not a valid DNS name (e.g. `fd00--` from an IPv6 ending in `::`) drop. */
  result(): RecordSet[] {
    return [...this.sets.values()].filter((s) => validName(s.name))
      .map((s) => ({ ...s, values: [...s.values].sort() }));
  }
}

function validName(name: string): boolean {
  try {
    return normalizeName(name) === name;
  } catch {
    return false;
  }
}

const isIp = (s: unknown): s is string => typeof s === "string" && (isIPv4(s) || isIPv6(s));

function isHeadless(svc: Service): boolean {
  return svc.spec?.clusterIP === "None";
}

function clusterIps(svc: Service): string[] {
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : [svc.spec?.clusterIP];
  return ips.filter(isIp);
}

function protoLabel(protocol: string | undefined): string {
  return `_${(protocol ?? "TCP").toLowerCase()}`;
}

/** A DNS label is at most 63 characters; K8s names already obey, but a bad one is skipped. */
function validLabel(s: string | undefined): s is string {
  return typeof s === "string" && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s);
}

/**
 * The records one Service contributes, given the EndpointSlices labelled with its name and the
 * tenant of its namespace (if any).
 */
export function serviceRecords(
  svc: Service,
  slices: EndpointSlice[],
  ctx: DesiredContext,
  tenant?: Tenant,
): RecordSet[] {
  const ns = svc.metadata.namespace ?? "default";
  const name = svc.metadata.name ?? "";
  if (!validLabel(name) || !validLabel(ns) || svc.metadata.deletionTimestamp) return [];
  const b = new SetBuilder(ctx, ownerLabels(ctx, "Service", ns, name, tenant));
  const base = `${name}.${ns}.svc`;

  if (svc.spec?.type === "ExternalName") {
    try {
      const target = normalizeName(svc.spec.externalName ?? "", "externalName");
      if (target !== "") b.add(ctx.domain, base, "CNAME", `${target}.`);
    } catch {
      // An invalid externalName cannot be served; the Service gets no record.
    }
    return b.result();
  }

  if (!isHeadless(svc)) {
    const ips = clusterIps(svc);
    if (ips.length === 0) return []; // ClusterIP not allocated yet.
    for (const ip of ips) {
      b.addAddress(base, ip);
      b.addPtr(ip, base);
    }
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
      if (isIp(ing.ip)) b.addAddress(base, ing.ip);
    }
    for (const p of svc.spec?.ports ?? []) {
      if (!validLabel(p.name)) continue; // Unnamed ports have no SRV record.
      b.add(
        ctx.domain,
        `_${p.name}.${protoLabel(p.protocol)}.${base}`,
        "SRV",
        `0 100 ${p.port} ${base}.${ctx.domain}.`,
      );
    }
    return b.result();
  }

  const publishNotReady = svc.spec?.publishNotReadyAddresses === true ||
    svc.metadata.annotations?.[TOLERATE_UNREADY] === "true";
  interface Ep {
    ip: string;
    host: string;
    ports: Array<{ name: string; port: number; protocol?: string }>;
  }
  const eps: Ep[] = [];
  for (const slice of slices) {
    if (slice.addressType === "FQDN") continue;
    const ports = (slice.ports ?? []).flatMap((p) =>
      validLabel(p.name) && typeof p.port === "number"
        ? [{ name: p.name, port: p.port, protocol: p.protocol }]
        : []
    );
    for (const ep of slice.endpoints ?? []) {
      // A nil ready condition means ready (EndpointSlice API semantics).
      if (ep.conditions?.ready === false && !publishNotReady) continue;
      for (const ip of ep.addresses ?? []) {
        if (!isIp(ip)) continue;
        const host = validLabel(ep.hostname) ? ep.hostname : dashedIp(ip);
        eps.push({ ip, host, ports });
      }
    }
  }
  // SRV weights share 100 among the targets of one port name.
  const perPort = new Map<string, number>();
  for (const ep of eps) {
    for (const p of ep.ports) {
      perPort.set(srvName(p, base), (perPort.get(srvName(p, base)) ?? 0) + 1);
    }
  }
  for (const ep of eps) {
    const hostName = `${ep.host}.${base}`;
    b.addAddress(base, ep.ip);
    b.addAddress(hostName, ep.ip);
    b.addPtr(ep.ip, hostName);
    for (const p of ep.ports) {
      const srv = srvName(p, base);
      const weight = Math.max(1, Math.floor(100 / perPort.get(srv)!));
      b.add(ctx.domain, srv, "SRV", `0 ${weight} ${p.port} ${hostName}.${ctx.domain}.`);
    }
  }
  return b.result();
}

function srvName(p: { name: string; protocol?: string }, base: string): string {
  return `_${p.name}.${protoLabel(p.protocol)}.${base}`;
}

/**
 * Pod records: `<dashed-ip>.<ns>.pod.<domain>` (K8s DNS spec 2.6) and `<dashed-ip>.pod.<domain>`
 * (the PlasmaCloud hierarchy), one per pod IP. Finished pods have released their IPs; host
 * network pods share the node's IP, which is not theirs to name.
 */
export function podRecords(pod: Pod, ctx: DesiredContext, tenant?: Tenant): RecordSet[] {
  const ns = pod.metadata.namespace ?? "default";
  const name = pod.metadata.name ?? "";
  const phase = pod.status?.phase;
  if (!validLabel(ns) || phase === "Succeeded" || phase === "Failed" || pod.spec?.hostNetwork) {
    return [];
  }
  const ips = pod.status?.podIPs?.length ? pod.status.podIPs.map((p) => p.ip) : [pod.status?.podIP];
  const b = new SetBuilder(ctx, ownerLabels(ctx, "Pod", ns, name, tenant));
  for (const ip of ips) {
    if (!isIp(ip)) continue;
    b.addAddress(`${dashedIp(ip)}.${ns}.pod`, ip);
    b.addAddress(`${dashedIp(ip)}.pod`, ip);
  }
  return b.result();
}

/** `dns-version.<domain>` TXT with the schema version. */
export function clusterRecords(ctx: DesiredContext): RecordSet[] {
  const b = new SetBuilder(ctx, ownerLabels(ctx, "Cluster", "", ""));
  b.add(ctx.domain, "dns-version", "TXT", DNS_SCHEMA_VERSION);
  return b.result();
}

/**
 * Merges contributions: sets with the same key (two headless Services naming one IP, two pods
 * sharing an IP) become one set with every value; the contributor sorting first by its labels
 * lends its labels, so the result does not depend on input order.
 */
export function mergeRecordSets(contributions: Iterable<RecordSet>): RecordSet[] {
  const out = new Map<string, RecordSet>();
  for (const s of contributions) {
    const key = setKey(s);
    const have = out.get(key);
    if (!have) {
      out.set(key, { ...s, values: [...s.values] });
      continue;
    }
    have.values = [...new Set([...have.values, ...s.values])];
    have.ttl = Math.min(have.ttl, s.ttl);
    if (labelOrder(s.labels) < labelOrder(have.labels)) have.labels = s.labels;
  }
  return [...out.values()].map((s) => ({ ...s, values: s.values.sort() }))
    .sort((a, b) => setKey(a) < setKey(b) ? -1 : setKey(a) > setKey(b) ? 1 : 0);
}

function labelOrder(l: Record<string, string>): string {
  return `${l["k8s-kind"]}/${l["k8s-namespace"]}/${l["k8s-name"]}`;
}

export interface ClusterObjects {
  services: Service[];
  endpointSlices: EndpointSlice[];
  pods: Pod[];
  /** Namespaces, for the tenant labels of the records of objects in them. */
  namespaces?: KubeObject[];
}

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

/** The complete desired record set of a cluster. */
export function desiredRecords(objs: ClusterObjects, ctx: DesiredContext): RecordSet[] {
  const bySvc = slicesByService(objs.endpointSlices);
  const tenants = new Map((objs.namespaces ?? []).map((n) => [n.metadata.name, tenantOf(n)]));
  const tenant = (o: KubeObject) => tenants.get(o.metadata.namespace ?? "default");
  const all: RecordSet[] = [...clusterRecords(ctx)];
  for (const svc of objs.services) {
    const key = `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`;
    all.push(...serviceRecords(svc, bySvc.get(key) ?? [], ctx, tenant(svc)));
  }
  for (const pod of objs.pods) all.push(...podRecords(pod, ctx, tenant(pod)));
  return mergeRecordSets(all);
}
