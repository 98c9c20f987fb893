/**
 * The record sets each source contributes, per the Kubernetes DNS-Based Service Discovery
 * specification (schema 1.0.1) and the PlasmaCloud hierarchy: a Service (ClusterIP names and
 * SRV, one name per ready endpoint when headless, a CNAME for an ExternalName, the PTRs back),
 * a Pod, and the cluster itself.
 */
import {
  type EndpointSlice,
  type Pod,
  type Service,
  type Tenant,
  TOLERATE_UNREADY,
} from "./kube_objects.ts";
import {
  type DesiredContext,
  isIp,
  ownerLabels,
  SetBuilder,
  validLabel,
} from "./record_builder.ts";
import { dashedIp, normalizeName, type RecordSet } from "./records.ts";

/** The schema version served in `dns-version.<domain>` TXT. */
export const DNS_SCHEMA_VERSION = "1.0.1";

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
