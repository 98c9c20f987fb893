/**
 * The difference between a desired load balancer and FiberLB's copy, as the smallest list of
 * calls: whole-pool updates (never member by member), listeners by name, and the Service status
 * the controller should write. Pure.
 */
import type { KubeObject } from "../kube/api.ts";
import type { HealthCheck, LoadBalancer, Pool, PoolMember } from "./client.ts";
import type { DesiredLb, DesiredListener, DesiredPool } from "./desired.ts";

export interface LbPlan {
  /** Metadata (description, labels, sharing key) differs. */
  updateLb: boolean;
  createPools: DesiredPool[];
  updatePools: Array<{ id: string; pool: DesiredPool }>;
  createListeners: DesiredListener[];
  updateListeners: Array<{ id: string; listener: DesiredListener }>;
  deleteListeners: string[];
  deletePools: string[];
}

export function isEmptyPlan(p: LbPlan): boolean {
  return !p.updateLb && p.createPools.length + p.updatePools.length + p.createListeners.length +
          p.updateListeners.length + p.deleteListeners.length + p.deletePools.length === 0;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a), kb = Object.keys(b ?? {});
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

function memberKey(m: PoolMember): string {
  return `${m.address}|${m.port}|${m.weight || 1}`;
}

function sameMembers(a: PoolMember[], b: PoolMember[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map(memberKey));
  return b.every((m) => set.has(memberKey(m)));
}

function sameHealthCheck(a: HealthCheck, b: HealthCheck | undefined): boolean {
  return !!b && a.type === b.type && a.path === b.path && a.interval_ms === b.interval_ms &&
    a.timeout_ms === b.timeout_ms && a.retries === b.retries && a.port === b.port;
}

export function samePool(d: DesiredPool, a: Pool): boolean {
  return d.algorithm === a.algorithm && d.session_affinity === a.session_affinity &&
    d.affinity_timeout_seconds === a.affinity_timeout_seconds &&
    sameHealthCheck(d.health_check, a.health_check) && sameMembers(d.members, a.members);
}

/** Calls that turn `actual` (same name, tenant and address) into `desired`. */
export function planLoadBalancer(desired: DesiredLb, actual: LoadBalancer): LbPlan {
  const plan: LbPlan = {
    updateLb: actual.description !== desired.description ||
      actual.ip_sharing_key !== desired.sharingKey || !sameLabels(desired.labels, actual.labels),
    createPools: [],
    updatePools: [],
    createListeners: [],
    updateListeners: [],
    deleteListeners: [],
    deletePools: [],
  };
  const poolsByName = new Map(actual.pools.map((p) => [p.name, p]));
  const poolNameById = new Map(actual.pools.map((p) => [p.id, p.name]));
  for (const d of desired.pools) {
    const a = poolsByName.get(d.name);
    if (!a) plan.createPools.push(d);
    else if (!samePool(d, a)) plan.updatePools.push({ id: a.id, pool: d });
  }
  const wantedPools = new Set(desired.pools.map((p) => p.name));
  plan.deletePools = actual.pools.filter((p) => !wantedPools.has(p.name)).map((p) => p.id);

  const listenersByName = new Map(actual.listeners.map((l) => [l.name, l]));
  for (const d of desired.listeners) {
    const a = listenersByName.get(d.name);
    if (!a) plan.createListeners.push(d);
    else if (a.protocol !== d.protocol || a.port !== d.port) {
      plan.deleteListeners.push(a.id);
      plan.createListeners.push(d);
    } else if (poolNameById.get(a.default_pool_id) !== d.pool) {
      plan.updateListeners.push({ id: a.id, listener: d });
    }
  }
  const wantedListeners = new Set(desired.listeners.map((l) => l.name));
  plan.deleteListeners.push(
    ...actual.listeners.filter((l) => !wantedListeners.has(l.name)).map((l) => l.id),
  );
  return plan;
}

export const CONDITION_TYPE = "fiberlb.plasmacloud.io/LoadBalancerReady";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * The Service's conditions with ours set. lastTransitionTime only moves when the status flips;
 * other controllers' conditions are kept.
 */
export function withCondition(
  svc: KubeObject,
  ready: boolean,
  reason: string,
  message: string,
  now: string,
): Condition[] {
  const existing = (svc.status?.conditions ?? []) as Condition[];
  const ours = existing.find((c) => c.type === CONDITION_TYPE);
  const status = ready ? "True" : "False";
  const next: Condition = {
    type: CONDITION_TYPE,
    status,
    reason,
    message,
    lastTransitionTime: ours && ours.status === status ? ours.lastTransitionTime : now,
  };
  if (svc.metadata.generation !== undefined) next.observedGeneration = svc.metadata.generation;
  return [...existing.filter((c) => c.type !== CONDITION_TYPE), next];
}
