/**
 * Converging one FiberLB load balancer on its desired form: created straight away when none is
 * known (creation is idempotent by name), else read by name; stale copies of the same Service
 * (another tenant or name) and a copy on the wrong address are deleted; then the smallest plan
 * of whole-object calls. Returns FiberLB's view after the changes.
 */
import { Status } from "../grpc/mod.ts";
import { type FiberlbClient, grpcCode, type LoadBalancer } from "./client.ts";
import type { DesiredLb } from "./desired.ts";
import { planLoadBalancer } from "./plan.ts";

/** FiberLB refused the address: something this controller has not listed holds it. */
export class AddressRefused extends Error {}

export interface ApplyContext {
  client: FiberlbClient;
  /** Load balancers known per Service key (id → tenant). */
  known: Map<string, Map<string, { org_id: string; project_id: string }>>;
  remember(key: string, lb: LoadBalancer): void;
  forget(key: string, id: string): void;
  count?(what: string): void;
}

function create(ctx: ApplyContext, want: DesiredLb): Promise<LoadBalancer> {
  ctx.count?.("CreateLoadBalancer");
  return ctx.client.createLoadBalancer({
    name: want.name,
    description: want.description,
    external_ip: want.externalIp,
    ip_sharing_key: want.sharingKey,
    labels: want.labels,
    org_id: want.tenant.orgId,
    project_id: want.tenant.projectId,
    // The whole shape in one atomic call; an existing one is converged by the plan below.
    pools: want.pools,
    listeners: want.listeners.map((l) => ({
      name: l.name,
      protocol: l.protocol,
      port: l.port,
      default_pool_name: l.pool,
    })),
  });
}

export async function applyLoadBalancer(
  ctx: ApplyContext,
  key: string,
  want: DesiredLb,
): Promise<LoadBalancer> {
  const c = ctx.client;
  const t = { org_id: want.tenant.orgId, project_id: want.tenant.projectId };
  let actual: LoadBalancer | undefined;
  if (!ctx.known.has(key)) {
    actual = await create(ctx, want).catch((err) => {
      if (grpcCode(err) !== Status.ALREADY_EXISTS) throw err;
      return undefined;
    });
  }
  actual ??= await c.findLoadBalancer({ name: want.name, ...t });
  for (const [id, tenant] of ctx.known.get(key) ?? []) {
    if (id === actual?.id) continue;
    await c.deleteLoadBalancer({ id, ...tenant });
    ctx.forget(key, id);
  }
  if (actual && actual.external_ip !== want.externalIp) {
    await c.deleteLoadBalancer({ id: actual.id, ...t });
    ctx.forget(key, actual.id);
    actual = undefined;
  }
  if (!actual) {
    try {
      actual = await create(ctx, want);
    } catch (err) {
      if (grpcCode(err) !== Status.ALREADY_EXISTS) throw err;
      throw new AddressRefused(`FiberLB refused ${want.externalIp}: ${(err as Error).message}`);
    }
  }
  ctx.remember(key, actual);
  const plan = planLoadBalancer(want, actual);
  if (plan.updateLb) {
    await c.updateLoadBalancer({
      id: actual.id,
      description: want.description,
      labels: want.labels,
      ip_sharing_key: want.sharingKey,
      ...t,
    });
  }
  const poolIds = new Map(actual.pools.map((p) => [p.name, p.id]));
  for (const { name, ...spec } of plan.createPools) {
    poolIds.set(
      name,
      (await c.createPool({ load_balancer_id: actual.id, name, ...spec, ...t })).id,
    );
  }
  for (const { id, pool: { name: _, ...spec } } of plan.updatePools) {
    await c.updatePool({ pool_id: id, ...spec, ...t });
    ctx.count?.("UpdatePool");
  }
  // FiberLB's answers to the listener calls complete the view (with each listener's status).
  const listeners = new Map(actual.listeners.map((l) => [l.id, l]));
  for (const id of plan.deleteListeners) {
    await c.deleteListener({ id, ...t });
    listeners.delete(id);
  }
  for (const { id, listener: l } of plan.updateListeners) {
    const pool = poolIds.get(l.pool)!;
    listeners.set(
      id,
      await c.updateListener({
        id,
        protocol: l.protocol,
        port: l.port,
        default_pool_id: pool,
        ...t,
      }),
    );
  }
  for (const l of plan.createListeners) {
    const made = await c.createListener({
      load_balancer_id: actual.id,
      name: l.name,
      protocol: l.protocol,
      port: l.port,
      default_pool_id: poolIds.get(l.pool)!,
      ...t,
    });
    listeners.set(made.id, made);
  }
  for (const id of plan.deletePools) await c.deletePool({ id, ...t });
  return { ...actual, listeners: [...listeners.values()] };
}
