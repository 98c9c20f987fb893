/**
 * Per-kind behaviour of the real registry strategies that controllers observe: defaulting,
 * status reset on create, ClusterIP and NodePort allocation for Services.
 */
import type { FieldCause } from "./errors.ts";
import type { ResourceDef } from "./registry.ts";
import type { Obj } from "./store.ts";

export interface HookContext {
  /** All stored objects of a storage key (`/services`, `storage.k8s.io/storageclasses`). */
  objects(storage: string): Iterable<Obj>;
}

type Create = (obj: Obj, ctx: HookContext) => FieldCause[];
type Update = (obj: Obj, old: Obj, ctx: HookContext) => FieldCause[];

const SERVICE_CIDR_BASE = (10 << 24) | (43 << 16); // 10.43.0.0/16, k3s's default
const NODE_PORT_MIN = 30000, NODE_PORT_MAX = 32767;

function ipString(n: number) {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function ipNumber(ip: string): number {
  const [a, b, c, d] = ip.split(".").map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function usedClusterIPs(ctx: HookContext, self?: Obj): Set<number> {
  const used = new Set<number>();
  for (const s of ctx.objects("/services")) {
    if (self && s.metadata.uid === self.metadata.uid) continue;
    if (s.spec?.clusterIP && s.spec.clusterIP !== "None") used.add(ipNumber(s.spec.clusterIP));
  }
  return used;
}

function usedNodePorts(ctx: HookContext, self?: Obj): Set<number> {
  const used = new Set<number>();
  for (const s of ctx.objects("/services")) {
    if (self && s.metadata.uid === self.metadata.uid) continue;
    for (const p of s.spec?.ports ?? []) if (p.nodePort) used.add(p.nodePort);
  }
  return used;
}

function defaultService(svc: Obj, ctx: HookContext, old?: Obj): FieldCause[] {
  const causes: FieldCause[] = [];
  const spec = svc.spec ??= {};
  const type = spec.type ??= "ClusterIP";
  if (!["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].includes(type)) {
    return [{
      field: "spec.type",
      message: `Unsupported value: "${type}"`,
      reason: "FieldValueNotSupported",
    }];
  }
  spec.sessionAffinity ??= "None";
  if (type !== "ExternalName") {
    spec.internalTrafficPolicy ??= "Cluster";
    const oldIP = old?.spec?.clusterIP;
    if (!spec.clusterIP && oldIP) spec.clusterIP = oldIP;
    if (oldIP && spec.clusterIP !== oldIP) {
      causes.push({
        field: "spec.clusterIP",
        message: `Invalid value: "${spec.clusterIP}": field is immutable`,
      });
    }
    // Scanning every Service is only needed to allocate or to check a new address: updates
    // that keep theirs stay O(1), as the real registry's bitmap allocator is.
    const used = () => usedClusterIPs(ctx, old);
    if (!spec.clusterIP) {
      const taken = used();
      for (let n = 10; n < 65534; n++) {
        if (!taken.has((SERVICE_CIDR_BASE + n) >>> 0)) {
          spec.clusterIP = ipString(SERVICE_CIDR_BASE + n);
          break;
        }
      }
    } else if (spec.clusterIP !== "None" && !old && used().has(ipNumber(spec.clusterIP))) {
      causes.push({
        field: "spec.clusterIP",
        message: `Invalid value: "${spec.clusterIP}": provided IP is already allocated`,
      });
    }
    spec.clusterIPs = [spec.clusterIP];
    spec.ipFamilies ??= ["IPv4"];
    spec.ipFamilyPolicy ??= "SingleStack";
  }
  if (type === "NodePort" || type === "LoadBalancer") spec.externalTrafficPolicy ??= "Cluster";
  if (type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
  const wantNodePorts = type === "NodePort" ||
    (type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false);
  let scanned: Set<number> | undefined;
  const usedPorts = () => scanned ??= usedNodePorts(ctx, old);
  const kept = new Set<number>(
    (old?.spec?.ports ?? []).map((o: Obj["spec"]) => o.nodePort).filter(Boolean),
  );
  const mine = new Set<number>();
  const ports = spec.ports ?? [];
  if (ports.length > 1 && ports.some((p: Obj["spec"]) => !p.name)) {
    causes.push({
      field: "spec.ports[0].name",
      message: "Required value",
      reason: "FieldValueRequired",
    });
  }
  for (const [i, p] of ports.entries()) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      causes.push({
        field: `spec.ports[${i}].port`,
        message: `Invalid value: ${p.port}: must be between 1 and 65535, inclusive`,
      });
    }
    p.protocol ??= "TCP";
    p.targetPort ??= p.port;
    if (!wantNodePorts) {
      if (type === "ClusterIP" || type === "ExternalName") delete p.nodePort;
      continue;
    }
    if (!p.nodePort) {
      const prev = (old?.spec?.ports ?? []).find((o: Obj["spec"]) =>
        o.port === p.port && (o.protocol ?? "TCP") === p.protocol && o.nodePort
      );
      if (prev) p.nodePort = prev.nodePort;
    }
    if (!p.nodePort) {
      for (let n = NODE_PORT_MIN; n <= NODE_PORT_MAX; n++) {
        if (!usedPorts().has(n) && !mine.has(n)) {
          p.nodePort = n;
          break;
        }
      }
    } else if (mine.has(p.nodePort) || (!kept.has(p.nodePort) && usedPorts().has(p.nodePort))) {
      causes.push({
        field: `spec.ports[${i}].nodePort`,
        message: `Invalid value: ${p.nodePort}: provided port is already allocated`,
      });
    }
    mine.add(p.nodePort);
  }
  return causes;
}

const CREATE: Record<string, Create> = {
  "/namespaces": (o) => {
    o.spec = { ...o.spec, finalizers: o.spec?.finalizers ?? ["kubernetes"] };
    o.status = { phase: "Active" };
    return [];
  },
  "/pods": (o) => {
    o.status = { phase: "Pending", qosClass: "BestEffort" };
    const containers = o.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0) {
      return [{
        field: "spec.containers",
        message: "Required value",
        reason: "FieldValueRequired",
      }];
    }
    const causes: FieldCause[] = [];
    for (const [i, c] of containers.entries()) {
      if (!c?.name) {
        causes.push({
          field: `spec.containers[${i}].name`,
          message: "Required value",
          reason: "FieldValueRequired",
        });
      }
      if (!c?.image) {
        causes.push({
          field: `spec.containers[${i}].image`,
          message: "Required value",
          reason: "FieldValueRequired",
        });
      }
    }
    o.spec.restartPolicy ??= "Always";
    o.spec.dnsPolicy ??= "ClusterFirst";
    return causes;
  },
  "/services": (o, ctx) => {
    o.status = { loadBalancer: {} };
    return defaultService(o, ctx);
  },
  "/persistentvolumeclaims": (o) => {
    o.status = { phase: "Pending" };
    if (o.spec) o.spec.volumeMode ??= "Filesystem";
    return [];
  },
  "/persistentvolumes": (o) => {
    o.status = { phase: "Pending" };
    if (o.spec) {
      o.spec.volumeMode ??= "Filesystem";
      o.spec.persistentVolumeReclaimPolicy ??= "Retain";
    }
    return [];
  },
  "/resourcequotas": (o) => {
    delete o.status;
    return [];
  },
  "storage.k8s.io/volumeattachments": (o) => {
    o.status = { attached: false };
    return [];
  },
  "storage.k8s.io/storageclasses": (o) => {
    o.reclaimPolicy ??= "Delete";
    o.volumeBindingMode ??= "Immediate";
    return [];
  },
};

const UPDATE: Record<string, Update> = {
  "/namespaces": (o, old) => {
    o.spec = old.spec;
    return [];
  },
  "/services": (o, old, ctx) => defaultService(o, ctx, old),
};

export function prepareCreate(def: ResourceDef, obj: Obj, ctx: HookContext): FieldCause[] {
  if (def.custom && def.status) delete obj.status;
  return CREATE[def.storage]?.(obj, ctx) ?? [];
}

export function prepareUpdate(
  def: ResourceDef,
  obj: Obj,
  old: Obj,
  ctx: HookContext,
): FieldCause[] {
  return UPDATE[def.storage]?.(obj, old, ctx) ?? [];
}
