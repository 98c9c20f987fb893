/**
 * The load balancers of the embedded FiberLB as its service sees them: lookups scoped to the
 * caller's tenant, records rendered with the data plane's view of them, and commits that reach
 * the durable Store first and the data plane second.
 */
import type { LoadBalancer, Pool } from "../fiberlb/client.ts";
import { GrpcError, Status } from "../grpc/mod.ts";
import type { DataPlane } from "./dataplane.ts";
import type { LbRecord, ListenerRecord, PoolRecord, Store } from "./store.ts";
import * as v from "./validate.ts";
import { ipConflict, notFound, visible } from "./records.ts";

export type Req = Record<string, unknown>;

export class LbTable {
  readonly #store: Store;
  readonly #dp?: DataPlane;

  constructor(store: Store, dataplane?: DataPlane) {
    this.#store = store;
    this.#dp = dataplane;
  }

  render(lb: LbRecord): LoadBalancer {
    return {
      ...lb,
      revision: String(lb.revision),
      listeners: lb.listeners.map((l) => ({
        ...l,
        load_balancer_id: lb.id,
        ...(this.#dp?.listenerStatus(l.id) ?? { status: "LISTENER_PENDING" as const, message: "" }),
      })).map(({ message, ...l }) => ({ ...l, status_message: message })),
      pools: lb.pools.map((p) => this.renderPool(lb, p)),
    };
  }

  renderPool(lb: LbRecord, p: PoolRecord): Pool {
    return {
      ...p,
      load_balancer_id: lb.id,
      revision: String(p.revision),
      members: p.members.map((m) => ({
        ...m,
        health: this.#dp?.memberHealth(p.id, m.address, m.port) ?? "MEMBER_HEALTH_UNKNOWN",
      })),
    };
  }

  /** Stores `next` (undefined: delete) and applies it to the data plane; undoes on a failed write. */
  async commit(id: string, prev: LbRecord | undefined, next: LbRecord | undefined): Promise<void> {
    try {
      await (next ? this.#store.put(next) : this.#store.delete(id));
    } catch (err) {
      await (prev ? this.#store.put(prev) : this.#store.delete(id)).catch(() => {});
      throw new GrpcError(Status.UNAVAILABLE, `state not saved: ${(err as Error).message}`);
    }
    await this.#dp?.sync(id);
  }

  /** The load balancer `r.id`, or else the one named `r.name`, among those `r`'s tenant sees. */
  find(r: Req): LbRecord {
    const scope = v.tenant(r);
    if (r.id) {
      const lb = this.#store.get(v.id("id", r.id, "lb"));
      if (!lb || !visible(lb, scope)) throw notFound("load balancer", String(r.id));
      return lb;
    }
    const name = v.name("name", r.name);
    const found = this.#store.named(name).filter((lb) => visible(lb, scope));
    if (found.length === 0) throw notFound("load balancer named", name);
    if (found.length > 1) {
      throw new GrpcError(
        Status.FAILED_PRECONDITION,
        `name ${name} exists in several tenants; set org_id and project_id`,
      );
    }
    return found[0];
  }

  /** The load balancer a listener or pool request names by `load_balancer_id`. */
  parentOf(r: Req): LbRecord {
    return this.find({
      id: r.load_balancer_id || "-",
      org_id: r.org_id,
      project_id: r.project_id,
    });
  }

  /** The load balancer holding listener/pool `r.id`, and that child. */
  child(r: Req, kind: "listener"): [LbRecord, ListenerRecord];
  child(r: Req, kind: "pool"): [LbRecord, PoolRecord];
  child(r: Req, kind: "listener" | "pool"): [LbRecord, ListenerRecord | PoolRecord] {
    const found = this.lookupChild(r, kind);
    if (!found) throw notFound(kind, String(r.id ?? r.pool_id));
    return found;
  }

  lookupChild(
    r: Req,
    kind: "listener" | "pool",
  ): [LbRecord, ListenerRecord | PoolRecord] | undefined {
    const scope = v.tenant(r);
    const id = v.id(
      kind === "pool" && r.pool_id ? "pool_id" : "id",
      r.id || r.pool_id,
      kind === "pool" ? "pool" : "ls",
    );
    const lb = this.#store.parentOf(id);
    const c = lb && (kind === "pool" ? lb.pools : lb.listeners).find((x) => x.id === id);
    return lb && c && visible(lb, scope) ? [lb, c] : undefined;
  }

  ipConflict(lb: LbRecord, ip: string, listeners: ListenerRecord[]): string | undefined {
    return ipConflict(this.#store.onIp(ip), lb, ip, listeners);
  }
}
