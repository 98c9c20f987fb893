/**
 * The embedded FiberLB's LoadBalancerService: the contract of proto/fiberlb.proto over the
 * durable Store, driving the DataPlane. Checks and the in-memory update of one call run without
 * an await in between, so concurrent calls can never both pass a uniqueness check.
 */
import type { LoadBalancer, Pool } from "../fiberlb/client.ts";
import { AddressSet, firstFree, type IpPool } from "../fiberlb/pools.ts";
import { type AsyncImpl, GrpcError, Status } from "../grpc/mod.ts";
import type { DataPlane } from "./dataplane.ts";
import type { LbRecord, ListenerRecord, PoolRecord, Store } from "./store.ts";
import { childrenOf } from "./templates.ts";
import * as v from "./validate.ts";
import { exists, ipConflict, newId, notFound, page, sameLabels, visible } from "./records.ts";

type Req = Record<string, unknown>;

export interface ServiceOptions {
  store: Store;
  dataplane?: DataPlane;
  /** Addresses handed out when CreateLoadBalancer leaves external_ip empty. */
  addressPool?: IpPool;
}

export class FiberlbService {
  readonly calls = new Map<string, number>();
  readonly #store: Store;
  readonly #dp?: DataPlane;
  readonly #pool?: IpPool;

  constructor(opts: ServiceOptions) {
    this.#store = opts.store;
    this.#dp = opts.dataplane;
    this.#pool = opts.addressPool;
  }

  /** Handlers for unaryHandlers(); each call is counted by method name. */
  handlers(): AsyncImpl {
    const impl: Record<string, (req: Req) => Promise<unknown>> = {
      CreateLoadBalancer: (r) => this.createLoadBalancer(r),
      GetLoadBalancer: (r) => Promise.resolve(this.render(this.#findLb(r))),
      ListLoadBalancers: (r) => Promise.resolve(this.list(r)),
      UpdateLoadBalancer: (r) => this.updateLoadBalancer(r),
      DeleteLoadBalancer: (r) => this.deleteLoadBalancer(r),
      CreateListener: (r) => this.createListener(r),
      UpdateListener: (r) => this.updateListener(r),
      DeleteListener: (r) => this.deleteChild(r, "listener"),
      CreatePool: (r) => this.createPool(r),
      GetPool: (r) => Promise.resolve(this.#renderPool(...this.#child(r, "pool"))),
      UpdatePool: (r) => this.updatePool(r),
      DeletePool: (r) => this.deleteChild(r, "pool"),
    };
    const out: AsyncImpl = {};
    for (const [method, fn] of Object.entries(impl)) {
      // async: a synchronous throw must become a rejected promise (its gRPC status), not UNKNOWN.
      out[method] = async (req: Req) => {
        this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
        return await fn(req);
      };
    }
    return out;
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
      pools: lb.pools.map((p) => this.#renderPool(lb, p)),
    };
  }

  #renderPool(lb: LbRecord, p: PoolRecord): Pool {
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
  async #commit(id: string, prev: LbRecord | undefined, next: LbRecord | undefined): Promise<void> {
    try {
      await (next ? this.#store.put(next) : this.#store.delete(id));
    } catch (err) {
      await (prev ? this.#store.put(prev) : this.#store.delete(id)).catch(() => {});
      throw new GrpcError(Status.UNAVAILABLE, `state not saved: ${(err as Error).message}`);
    }
    await this.#dp?.sync(id);
  }

  #findLb(r: Req): LbRecord {
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

  list(r: Req): { load_balancers: LoadBalancer[]; next_page_token: string } {
    const { items, token } = page(this.#store.all(), r);
    return { load_balancers: items.map((lb) => this.render(lb)), next_page_token: token };
  }

  #ipConflict(lb: LbRecord, ip: string, listeners: ListenerRecord[]): string | undefined {
    return ipConflict(this.#store.onIp(ip), lb, ip, listeners);
  }

  async createLoadBalancer(r: Req): Promise<LoadBalancer> {
    const scope = v.tenant(r);
    const name = v.name("name", r.name);
    const spec = {
      description: v.text("description", r.description, 1024),
      ip_sharing_key: v.sharingKey(r.ip_sharing_key),
      labels: v.labels(r.labels),
    };
    let ip = r.external_ip ? v.ip("external_ip", r.external_ip) : "";
    const children = childrenOf(r);
    const existing = this.#store.named(name).find((lb) =>
      lb.org_id === scope.org_id && lb.project_id === scope.project_id
    );
    if (existing) {
      const same = (ip === "" || ip === existing.external_ip) &&
        existing.description === spec.description &&
        existing.ip_sharing_key === spec.ip_sharing_key && sameLabels(existing.labels, spec.labels);
      if (!same) {
        throw exists(
          `load balancer ${name} exists with a different spec (external_ip ${existing.external_ip})`,
        );
      }
      return this.render(existing);
    }
    if (ip === "") {
      if (!this.#pool) {
        throw v.invalid("external_ip", "", "an address (this FiberLB has no address pool)");
      }
      ip = firstFree(this.#pool, AddressSet.of(this.#store.all().map((lb) => lb.external_ip))) ??
        "";
      if (!ip) {
        throw new GrpcError(
          Status.RESOURCE_EXHAUSTED,
          `address pool ${this.#pool.name} is exhausted`,
        );
      }
    }
    const lb: LbRecord = {
      id: newId("lb"),
      name,
      ...scope,
      ...spec,
      external_ip: ip,
      create_time: new Date().toISOString(),
      revision: 1,
      ...children,
    };
    const why = this.#ipConflict(lb, ip, lb.listeners);
    if (why) throw exists(why);
    await this.#commit(lb.id, undefined, lb);
    return this.render(lb);
  }

  async updateLoadBalancer(r: Req): Promise<LoadBalancer> {
    const prev = this.#findLb({ id: r.id ?? "-", org_id: r.org_id, project_id: r.project_id });
    const next: LbRecord = {
      ...structuredClone(prev),
      description: v.text("description", r.description, 1024),
      labels: v.labels(r.labels),
      ip_sharing_key: v.sharingKey(r.ip_sharing_key),
      revision: prev.revision + 1,
    };
    if (r.external_ip) next.external_ip = v.ip("external_ip", r.external_ip);
    if (next.external_ip !== prev.external_ip && prev.listeners.length > 0) {
      throw new GrpcError(
        Status.FAILED_PRECONDITION,
        "external_ip cannot change while listeners exist",
      );
    }
    const why = this.#ipConflict(next, next.external_ip, next.listeners);
    if (why) throw exists(why);
    await this.#commit(prev.id, prev, next);
    return this.render(next);
  }

  async deleteLoadBalancer(r: Req): Promise<Record<never, never>> {
    const scope = v.tenant(r);
    const lb = this.#store.get(v.id("id", r.id, "lb"));
    if (lb && visible(lb, scope)) await this.#commit(lb.id, lb, undefined);
    return {};
  }

  /** The load balancer holding listener/pool `r.id`, and that child. */
  #child(r: Req, kind: "listener"): [LbRecord, ListenerRecord];
  #child(r: Req, kind: "pool"): [LbRecord, PoolRecord];
  #child(r: Req, kind: "listener" | "pool"): [LbRecord, ListenerRecord | PoolRecord] {
    const found = this.#lookupChild(r, kind);
    if (!found) throw notFound(kind, String(r.id ?? r.pool_id));
    return found;
  }

  #lookupChild(
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

  #parentLb(r: Req): LbRecord {
    return this.#findLb({
      id: r.load_balancer_id || "-",
      org_id: r.org_id,
      project_id: r.project_id,
    });
  }

  async createListener(r: Req): Promise<unknown> {
    const prev = this.#parentLb(r);
    const protocol = v.protocol(r.protocol);
    const port = v.port("port", r.port);
    const name = v.name("name", r.name, true) || `${protocol.toLowerCase()}-${port}`;
    const pool = r.default_pool_id ? v.id("default_pool_id", r.default_pool_id, "pool") : "";
    if (pool && !prev.pools.some((p) => p.id === pool)) {
      throw notFound(`pool of load balancer ${prev.name}:`, pool);
    }
    const l: ListenerRecord = { id: newId("ls"), name, protocol, port, default_pool_id: pool };
    const same = prev.listeners.find((x) => x.name === name);
    if (same) {
      if (same.protocol === protocol && same.port === port && same.default_pool_id === pool) {
        return this.render(prev).listeners.find((x) => x.id === same.id);
      }
      throw exists(`listener ${name} exists with a different spec`);
    }
    if (prev.listeners.some((x) => x.protocol === protocol && x.port === port)) {
      throw exists(`${protocol}/${port} already has a listener on load balancer ${prev.name}`);
    }
    const why = this.#ipConflict(prev, prev.external_ip, [l]);
    if (why) throw exists(why);
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.listeners.push(l);
    await this.#commit(prev.id, prev, next);
    return this.render(next).listeners.find((x) => x.id === l.id);
  }

  async updateListener(r: Req): Promise<unknown> {
    const [prev, cur] = this.#child(r, "listener");
    const l: ListenerRecord = {
      ...cur,
      protocol: v.protocol(r.protocol),
      port: v.port("port", r.port),
      default_pool_id: r.default_pool_id ? v.id("default_pool_id", r.default_pool_id, "pool") : "",
    };
    if (l.default_pool_id && !prev.pools.some((p) => p.id === l.default_pool_id)) {
      throw notFound("pool", l.default_pool_id);
    }
    if (
      prev.listeners.some((x) => x.id !== l.id && x.protocol === l.protocol && x.port === l.port)
    ) {
      throw exists(`${l.protocol}/${l.port} already has a listener on load balancer ${prev.name}`);
    }
    const why = this.#ipConflict(prev, prev.external_ip, [l]);
    if (why) throw exists(why);
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.listeners = next.listeners.map((x) => x.id === l.id ? l : x);
    await this.#commit(prev.id, prev, next);
    return this.render(next).listeners.find((x) => x.id === l.id);
  }

  async createPool(r: Req): Promise<Pool> {
    const prev = this.#parentLb(r);
    const name = v.name("name", r.name);
    const spec = v.poolSpec(r);
    const same = prev.pools.find((p) => p.name === name);
    if (same) {
      const { id: _i, name: _n, revision: _r, ...cur } = same;
      if (JSON.stringify(cur) === JSON.stringify(spec)) return this.#renderPool(prev, same);
      throw exists(`pool ${name} exists with a different spec`);
    }
    const pool: PoolRecord = { id: newId("pool"), name, ...spec, revision: 1 };
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.pools.push(pool);
    await this.#commit(prev.id, prev, next);
    return this.#renderPool(next, pool);
  }

  async updatePool(r: Req): Promise<Pool> {
    const [prev, cur] = this.#child(r, "pool");
    const pool: PoolRecord = {
      id: cur.id,
      name: cur.name,
      ...v.poolSpec(r),
      revision: cur.revision + 1,
    };
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.pools = next.pools.map((p) => p.id === pool.id ? pool : p);
    await this.#commit(prev.id, prev, next);
    return this.#renderPool(next, pool);
  }

  async deleteChild(r: Req, kind: "listener" | "pool"): Promise<Record<never, never>> {
    const found = this.#lookupChild(r, kind);
    if (!found) return {};
    const [prev, c] = found;
    if (kind === "pool" && prev.listeners.some((l) => l.default_pool_id === c.id)) {
      throw new GrpcError(
        Status.FAILED_PRECONDITION,
        `pool ${c.name} is the default pool of a listener`,
      );
    }
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    if (kind === "pool") next.pools = next.pools.filter((p) => p.id !== c.id);
    else next.listeners = next.listeners.filter((l) => l.id !== c.id);
    await this.#commit(prev.id, prev, next);
    return {};
  }
}
