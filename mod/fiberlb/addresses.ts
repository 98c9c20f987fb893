/**
 * Address decisions, pure: the pool a Service draws from, the address it should hold, and who
 * holds what after a restart, rebuilt from the durable records.
 */
import type { KubeObject } from "../kube/api.ts";
import { AllocationTable, type Holder } from "./allocations.ts";
import { ANNOTATIONS, FINALIZER, type LbOptions } from "./annotations.ts";
import type { LoadBalancer } from "./client.ts";
import {
  LABELS,
  portKeys,
  type Problem,
  serviceKey,
  type Tenant,
  tenantKey,
  tenantOf,
} from "./identity.ts";
import {
  canonicalIp,
  DEFAULT_POOL,
  type Family,
  firstFree,
  type IpPool,
  poolContains,
  poolSize,
} from "./pools.ts";

export function holderFor(svc: KubeObject, options: LbOptions, tenant: Tenant): Holder {
  return {
    key: serviceKey(svc),
    sharingKey: options.sharingKey,
    tenant: tenantKey(tenant),
    ports: portKeys(svc),
  };
}

/**
 * The pool a Service draws from: its annotation, else its namespace's (annotation, then label
 * `fiberlb.plasmacloud.io/ip-pool`), else the default pool. A namespace that names a pool binds
 * its Services to it: a Service there cannot pick another tenant's addresses.
 */
export function selectPool(
  options: LbOptions,
  namespace: KubeObject | undefined,
  pools: Map<string, IpPool>,
): { pool: IpPool } | { problem: Problem } {
  const nsPool = namespace?.metadata.annotations?.[ANNOTATIONS.ipPool] ??
    namespace?.metadata.labels?.[ANNOTATIONS.ipPool];
  const nsName = namespace?.metadata.name ?? "";
  if (nsPool !== undefined && options.pool !== undefined && options.pool !== nsPool) {
    return {
      problem: {
        reason: "InvalidAnnotation",
        message:
          `${ANNOTATIONS.ipPool}: "${options.pool}" — namespace ${nsName} is bound to pool "${nsPool}"`,
      },
    };
  }
  const name = options.pool ?? nsPool ?? DEFAULT_POOL;
  const pool = pools.get(name);
  if (pool) return { pool };
  if (options.pool === undefined && nsPool === undefined) {
    return {
      problem: {
        reason: "NoIPPool",
        message: "no default external IP pool is configured (fiberlb.externalIpPool)",
      },
    };
  }
  const known = [...pools.keys()].join(", ") || "none";
  const by = options.pool !== undefined
    ? `annotation ${ANNOTATIONS.ipPool}`
    : `namespace ${nsName}`;
  return {
    problem: {
      reason: "IPPoolNotFound",
      message: `pool "${name}" named by ${by} is not configured (known: ${known})`,
    },
  };
}

export function preferredFamily(svc: KubeObject): Family | undefined {
  const f = svc.spec?.ipFamilies?.[0];
  return f === "IPv6" ? 6 : f === "IPv4" ? 4 : undefined;
}

export type AddressDecision =
  | { ip: string; how: "kept" | "requested" | "shared" | "allocated" }
  | { problem: Problem };

/**
 * The address `holder` should hold. Keeps a valid current address; honours a request; joins a
 * Service of the same sharing key when the ports allow; else takes the pool's first free address.
 */
export function decideAddress(
  holder: Holder,
  options: LbOptions,
  pool: IpPool,
  table: AllocationTable,
  family?: Family,
): AddressDecision {
  const current = table.ipOf(holder.key);
  const requested = options.requestedIp;
  if (requested !== undefined) {
    if (!poolContains(pool, requested)) {
      return {
        problem: {
          reason: "RequestedIPNotInPool",
          message: `requested IP ${requested} is not in pool "${pool.name}"`,
        },
      };
    }
    const why = table.conflict(requested, holder);
    if (why) {
      return {
        problem: {
          reason: "IPConflict",
          message: `requested IP ${requested} is unavailable: ${why}`,
        },
      };
    }
    return { ip: requested, how: current === requested ? "kept" : "requested" };
  }
  if (current !== undefined && poolContains(pool, current) && !table.conflict(current, holder)) {
    return { ip: current, how: "kept" };
  }
  const shared = table.shareable(holder, (ip) => poolContains(pool, ip));
  if (shared !== undefined) return { ip: shared, how: "shared" };
  const free = firstFree(pool, table.used, family);
  if (free !== undefined) return { ip: free, how: "allocated" };
  return {
    problem: {
      reason: "IPExhausted",
      message: `pool "${pool.name}" has no free address (${
        poolSize(pool)
      } addresses, all assigned)`,
    },
  };
}

/**
 * Rebuilds who holds what from the durable records: FiberLB first (it refuses double
 * assignments, so it is authoritative), then the Services' allocated-ip annotations, oldest
 * Service first. A Service whose record collides is reported and gets a fresh address later.
 */
export function rebuildAllocations(
  clusterId: string,
  lbs: LoadBalancer[],
  services: KubeObject[],
  namespaces: (name: string) => KubeObject | undefined,
): { table: AllocationTable; conflicts: Array<{ key: string; ip: string; reason: string }> } {
  const table = new AllocationTable();
  const conflicts: Array<{ key: string; ip: string; reason: string }> = [];
  for (const lb of lbs) {
    const ip = canonicalIp(lb.external_ip);
    if (!ip) continue;
    let key = lb.labels?.[LABELS.cluster] === clusterId ? lb.labels[LABELS.service] : undefined;
    if (!key || table.ipOf(key) !== undefined) key = `fiberlb:${lb.id}`;
    const holder: Holder = {
      key,
      sharingKey: lb.ip_sharing_key,
      tenant: `${lb.org_id}/${lb.project_id}`,
      ports: lb.listeners.map((l) => `${l.protocol}/${l.port}`),
    };
    const why = table.conflict(ip, holder);
    if (why) conflicts.push({ key, ip, reason: why });
    else table.assign(ip, holder);
  }
  const recorded = services
    .map((svc) => ({ svc, ip: recordedIp(svc) }))
    .filter((r): r is { svc: KubeObject; ip: string } => r.ip !== undefined)
    .sort((a, b) =>
      (a.svc.metadata.creationTimestamp ?? "").localeCompare(
        b.svc.metadata.creationTimestamp ?? "",
      ) ||
      serviceKey(a.svc).localeCompare(serviceKey(b.svc))
    );
  for (const { svc, ip } of recorded) {
    const key = serviceKey(svc);
    if (table.ipOf(key) !== undefined) continue;
    const a = svc.metadata.annotations ?? {};
    const holder: Holder = {
      key,
      sharingKey: a[ANNOTATIONS.allowSharedIp] ?? "",
      tenant: tenantKey(tenantOf(namespaces(svc.metadata.namespace ?? ""))),
      ports: portKeys(svc),
    };
    const why = table.conflict(ip, holder);
    if (why) conflicts.push({ key, ip, reason: why });
    else table.assign(ip, holder);
  }
  return { table, conflicts };
}

/** The address the Service's own record says it holds (annotation, else our status). */
export function recordedIp(svc: KubeObject): string | undefined {
  const a = svc.metadata.annotations?.[ANNOTATIONS.allocatedIp];
  if (a !== undefined) return canonicalIp(a);
  if (!(svc.metadata.finalizers ?? []).includes(FINALIZER)) return undefined;
  const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
  return typeof ip === "string" ? canonicalIp(ip) : undefined;
}
