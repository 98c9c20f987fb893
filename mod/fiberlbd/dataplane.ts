/**
 * Keeps the host's proxies equal to the stored load balancers: one proxy per listener on
 * external_ip:port, one PoolRuntime (health, balancer) per pool, external IPs made local through
 * the VipManager. Each load balancer is synced on its own serialized chain; a listener that
 * cannot be bound is reported (LISTENER_ERROR + message) and retried.
 */
import type { ListenerStatus, MemberHealth } from "../fiberlb/client.ts";
import type { Logger } from "../log/mod.ts";
import { PoolRuntime } from "./pool_runtime.ts";
import { type Proxy, TcpProxy, UdpProxy } from "./proxy.ts";
import type { LbRecord, ListenerRecord } from "./store.ts";
import type { VipManager } from "./vip.ts";

interface RunningListener {
  lbId: string;
  sig: string;
  poolId: string;
  proxy?: Proxy;
  status: ListenerStatus;
  message: string;
}

export interface DataPlaneOptions {
  log: Logger;
  /** Absent: external IPs must already be local. */
  vip?: VipManager;
  /** Current record of a load balancer, for retries. */
  lookup: (id: string) => LbRecord | undefined;
  retryMs?: number;
  udpIdleMs?: number;
}

export class DataPlane {
  readonly #pools = new Map<string, PoolRuntime>();
  readonly #listeners = new Map<string, RunningListener>();
  readonly #lbs = new Map<string, { ip: string; listeners: Set<string>; pools: Set<string> }>();
  readonly #ipUsers = new Map<string, Set<string>>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #retries = new Map<string, ReturnType<typeof setTimeout>>();
  #stopped = false;

  constructor(private readonly opts: DataPlaneOptions) {}

  /**
   * Brings load balancer `id` to its current stored record (absent: deleted); resolves when
   * applied. The record is read when the sync runs, so syncs can never apply stale state.
   */
  sync(id: string): Promise<void> {
    const prev = this.#chains.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.#stopped ? undefined : this.#apply(id, this.opts.lookup(id)))
      .catch((err) => this.opts.log.error("data plane sync failed", { lb: id, error: err }));
    this.#chains.set(id, next);
    next.finally(() => {
      if (this.#chains.get(id) === next) this.#chains.delete(id);
    });
    return next;
  }

  listenerStatus(id: string): { status: ListenerStatus; message: string } {
    const l = this.#listeners.get(id);
    return l
      ? { status: l.status, message: l.message }
      : { status: "LISTENER_PENDING", message: "" };
  }

  memberHealth(poolId: string, address: string, port: number): MemberHealth {
    return this.#pools.get(poolId)?.healthOf(address, port) ?? "MEMBER_HEALTH_UNKNOWN";
  }

  pool(id: string): PoolRuntime | undefined {
    return this.#pools.get(id);
  }

  proxyOf(listenerId: string): Proxy | undefined {
    return this.#listeners.get(listenerId)?.proxy;
  }

  async #apply(id: string, lb: LbRecord | undefined): Promise<void> {
    clearTimeout(this.#retries.get(id));
    this.#retries.delete(id);
    const prev = this.#lbs.get(id) ?? { ip: "", listeners: new Set(), pools: new Set() };
    const now = {
      ip: lb?.external_ip ?? "",
      listeners: new Set<string>(),
      pools: new Set<string>(),
    };

    for (const p of lb?.pools ?? []) {
      now.pools.add(p.id);
      const rt = this.#pools.get(p.id);
      if (rt) rt.update(p);
      else this.#pools.set(p.id, new PoolRuntime(p.id, p));
    }
    for (const l of lb?.listeners ?? []) now.listeners.add(l.id);
    for (const lid of prev.listeners) {
      if (!now.listeners.has(lid)) await this.#stopListener(lid);
    }
    for (const pid of prev.pools) {
      if (!now.pools.has(pid)) {
        await this.#pools.get(pid)?.close();
        this.#pools.delete(pid);
      }
    }
    if (prev.ip && prev.ip !== now.ip) await this.#dropIpUser(prev.ip, id);
    if (lb) this.#lbs.set(id, now);
    else this.#lbs.delete(id);
    if (!lb) return;

    if (!this.#ipUsers.has(now.ip)) this.#ipUsers.set(now.ip, new Set());
    this.#ipUsers.get(now.ip)!.add(id);
    let vipError = "";
    try {
      await this.opts.vip?.ensure(now.ip);
    } catch (err) {
      vipError = (err as Error).message;
    }
    let failed = false;
    for (const l of lb.listeners) {
      if (!(await this.#startListener(lb, l, vipError))) failed = true;
    }
    if (failed && !this.#stopped) {
      this.#retries.set(id, setTimeout(() => this.sync(id), this.opts.retryMs ?? 5_000));
    }
  }

  async #startListener(lb: LbRecord, l: ListenerRecord, vipError: string): Promise<boolean> {
    const sig = `${l.protocol}|${lb.external_ip}|${l.port}`;
    let run = this.#listeners.get(l.id);
    if (run && run.sig !== sig) {
      await this.#stopListener(l.id);
      run = undefined;
    }
    if (!run) {
      run = {
        lbId: lb.id,
        sig,
        poolId: l.default_pool_id,
        status: "LISTENER_PENDING",
        message: "",
      };
      this.#listeners.set(l.id, run);
    }
    run.poolId = l.default_pool_id;
    if (run.proxy) return true;
    if (vipError) {
      [run.status, run.message] = ["LISTENER_ERROR", vipError];
      return false;
    }
    const entry = run;
    const pool = () => this.#pools.get(entry.poolId);
    const log = this.opts.log.with({ listener: l.id, ip: lb.external_ip, port: l.port });
    try {
      if (l.protocol === "UDP") {
        const proxy = new UdpProxy(lb.external_ip, l.port, pool, log, this.opts.udpIdleMs);
        await proxy.start();
        run.proxy = proxy;
      } else if (l.protocol === "TCP") {
        const proxy = new TcpProxy(lb.external_ip, l.port, pool, log);
        proxy.start();
        run.proxy = proxy;
      } else {
        throw new Error(`protocol ${l.protocol} is not served by the embedded L4 data plane`);
      }
      [run.status, run.message] = ["LISTENER_ACTIVE", ""];
      return true;
    } catch (err) {
      const msg = `cannot listen on ${lb.external_ip}:${l.port}/${l.protocol}: ${
        (err as Error).message
      }`;
      if (run.message !== msg) log.warn("listener not bound", { error: msg });
      [run.status, run.message] = ["LISTENER_ERROR", msg];
      return false;
    }
  }

  async #stopListener(id: string): Promise<void> {
    const run = this.#listeners.get(id);
    this.#listeners.delete(id);
    await run?.proxy?.stop();
  }

  async #dropIpUser(ip: string, lbId: string): Promise<void> {
    const users = this.#ipUsers.get(ip);
    users?.delete(lbId);
    if (users && users.size > 0) return;
    this.#ipUsers.delete(ip);
    await this.opts.vip?.release(ip).catch((err) =>
      this.opts.log.warn("cannot remove external IP", { ip, error: err })
    );
  }

  /** Releases addresses adopted from a previous run that no load balancer uses any more. */
  async releaseUnused(): Promise<void> {
    for (const ip of this.opts.vip?.owned() ?? []) {
      if (!this.#ipUsers.has(ip)) await this.opts.vip?.release(ip);
    }
  }

  /** Stops every proxy and probe. External IPs stay (the next run adopts them). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#retries.values()) clearTimeout(t);
    this.#retries.clear();
    await Promise.allSettled([...this.#chains.values()]);
    await Promise.allSettled([...this.#listeners.keys()].map((id) => this.#stopListener(id)));
    await Promise.allSettled([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
    this.#lbs.clear();
  }
}
