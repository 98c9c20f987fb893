/**
 * The embedded FiberLB's LoadBalancerService: the contract of proto/fiberlb.proto over the
 * durable Store, driving the DataPlane. Checks and the in-memory update of one call run without
 * an await in between, so concurrent calls can never both pass a uniqueness check.
 */
import type { LoadBalancer, Pool } from "../fiberlb/client.ts";
import { AddressSet, firstFree, type IpPool } from "../fiberlb/pools.ts";
import { type AsyncImpl, GrpcError, Status } from "../grpc/mod.ts";
import type { DataPlane } from "./dataplane.ts";
import { LbTable, type Req } from "./lb_table.ts";
import type { LbRecord, ListenerRecord, PoolRecord, Store } from "./store.ts";
import { childrenOf } from "./templates.ts";
import * as v from "./validate.ts";
import { exists, newId, notFound, page, sameLabels, visible } from "./records.ts";

export interface ServiceOptions {
  store: Store;
  dataplane?: DataPlane;
  /** Addresses handed out when CreateLoadBalancer leaves external_ip empty. */
  addressPool?: IpPool;
}

export class FiberlbService {
  readonly calls = new Map<string, number>();
  readonly #store: Store;
  readonly #lbs: LbTable;
  readonly #pool?: IpPool;

  constructor(opts: ServiceOptions) {
    this.#store = opts.store;
    this.#lbs = new LbTable(opts.store, opts.dataplane);
    this.#pool = opts.addressPool;
  }

  /** Handlers for unaryHandlers(); each call is counted by method name. */
  handlers(): AsyncImpl {
    const impl: Record<string, (req: Req) => Promise<unknown>> = {
      CreateLoadBalancer: (r) => this.createLoadBalancer(r),
      GetLoadBalancer: (r) => Promise.resolve(this.#lbs.render(this.#lbs.find(r))),
      ListLoadBalancers: (r) => Promise.resolve(this.list(r)),
      UpdateLoadBalancer: (r) => this.updateLoadBalancer(r),
      DeleteLoadBalancer: (r) => this.deleteLoadBalancer(r),
      CreateListener: (r) => this.createListener(r),
      UpdateListener: (r) => this.updateListener(r),
      DeleteListener: (r) => this.deleteChild(r, "listener"),
      CreatePool: (r) => this.createPool(r),
      GetPool: (r) => Promise.resolve(this.#lbs.renderPool(...this.#lbs.child(r, "pool"))),
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

  list(r: Req): { load_balancers: LoadBalancer[]; next_page_token: string } {
    const { items, token } = page(this.#store.all(), r);
    return { load_balancers: items.map((lb) => this.#lbs.render(lb)), next_page_token: token };
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
      return this.#lbs.render(existing);
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
    const why = this.#lbs.ipConflict(lb, ip, lb.listeners);
    if (why) throw exists(why);
    await this.#lbs.commit(lb.id, undefined, lb);
    return this.#lbs.render(lb);
  }

  async updateLoadBalancer(r: Req): Promise<LoadBalancer> {
    const prev = this.#lbs.find({ id: r.id ?? "-", org_id: r.org_id, project_id: r.project_id });
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
    const why = this.#lbs.ipConflict(next, next.external_ip, next.listeners);
    if (why) throw exists(why);
    await this.#lbs.commit(prev.id, prev, next);
    return this.#lbs.render(next);
  }

  async deleteLoadBalancer(r: Req): Promise<Record<never, never>> {
    const scope = v.tenant(r);
    const lb = this.#store.get(v.id("id", r.id, "lb"));
    if (lb && visible(lb, scope)) await this.#lbs.commit(lb.id, lb, undefined);
    return {};
  }

  async createListener(r: Req): Promise<unknown> {
    const prev = this.#lbs.parentOf(r);
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
        return this.#lbs.render(prev).listeners.find((x) => x.id === same.id);
      }
      throw exists(`listener ${name} exists with a different spec`);
    }
    if (prev.listeners.some((x) => x.protocol === protocol && x.port === port)) {
      throw exists(`${protocol}/${port} already has a listener on load balancer ${prev.name}`);
    }
    const why = this.#lbs.ipConflict(prev, prev.external_ip, [l]);
    if (why) throw exists(why);
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.listeners.push(l);
    await this.#lbs.commit(prev.id, prev, next);
    return this.#lbs.render(next).listeners.find((x) => x.id === l.id);
  }

  async updateListener(r: Req): Promise<unknown> {
    const [prev, cur] = this.#lbs.child(r, "listener");
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
    const why = this.#lbs.ipConflict(prev, prev.external_ip, [l]);
    if (why) throw exists(why);
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.listeners = next.listeners.map((x) => x.id === l.id ? l : x);
    await this.#lbs.commit(prev.id, prev, next);
    return this.#lbs.render(next).listeners.find((x) => x.id === l.id);
  }

  async createPool(r: Req): Promise<Pool> {
    const prev = this.#lbs.parentOf(r);
    const name = v.name("name", r.name);
    const spec = v.poolSpec(r);
    const same = prev.pools.find((p) => p.name === name);
    if (same) {
      const { id: _i, name: _n, revision: _r, ...cur } = same;
      if (JSON.stringify(cur) === JSON.stringify(spec)) return this.#lbs.renderPool(prev, same);
      throw exists(`pool ${name} exists with a different spec`);
    }
    const pool: PoolRecord = { id: newId("pool"), name, ...spec, revision: 1 };
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.pools.push(pool);
    await this.#lbs.commit(prev.id, prev, next);
    return this.#lbs.renderPool(next, pool);
  }

  async updatePool(r: Req): Promise<Pool> {
    const [prev, cur] = this.#lbs.child(r, "pool");
    const pool: PoolRecord = {
      id: cur.id,
      name: cur.name,
      ...v.poolSpec(r),
      revision: cur.revision + 1,
    };
    const next = { ...structuredClone(prev), revision: prev.revision + 1 };
    next.pools = next.pools.map((p) => p.id === pool.id ? pool : p);
    await this.#lbs.commit(prev.id, prev, next);
    return this.#lbs.renderPool(next, pool);
  }

  async deleteChild(r: Req, kind: "listener" | "pool"): Promise<Record<never, never>> {
    const found = this.#lbs.lookupChild(r, kind);
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
    await this.#lbs.commit(prev.id, prev, next);
    return {};
  }
}
