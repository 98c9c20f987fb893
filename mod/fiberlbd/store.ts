/**
 * Durable state of the embedded FiberLB: one JSON file per load balancer (with its listeners and
 * pools) under `<dataDir>/fiberlb/lbs/`. A change rewrites only its load balancer's file, written
 * to a temporary file, synced and renamed over the old one, so a crash leaves either the old or
 * the new version and never a torn one. Writes of one file are coalesced: a caller waits for a
 * write that includes its change.
 */
import type { Affinity, Algorithm, HealthCheck, Protocol } from "../fiberlb/client.ts";

export interface MemberRecord {
  address: string;
  port: number;
  weight: number;
}

export interface PoolRecord {
  id: string;
  name: string;
  algorithm: Algorithm;
  session_affinity: Affinity;
  affinity_timeout_seconds: number;
  health_check: HealthCheck;
  members: MemberRecord[];
  revision: number;
}

export interface ListenerRecord {
  id: string;
  name: string;
  protocol: Protocol;
  port: number;
  default_pool_id: string;
}

export interface LbRecord {
  id: string;
  name: string;
  description: string;
  external_ip: string;
  org_id: string;
  project_id: string;
  ip_sharing_key: string;
  labels: Record<string, string>;
  create_time: string;
  revision: number;
  listeners: ListenerRecord[];
  pools: PoolRecord[];
}

const ID = /^lb-[0-9a-f]{16}$/;

export class Store {
  readonly #dir: string;
  readonly #lbs = new Map<string, LbRecord>();
  readonly #writers = new Map<string, { running: Promise<void>; next?: Promise<void> }>();
  // Indexes, so that no call scans every load balancer.
  readonly #byName = new Map<string, Set<string>>();
  readonly #byIp = new Map<string, Set<string>>();
  readonly #byChild = new Map<string, string>();
  #sorted?: LbRecord[];

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens (creating) the state directory and loads every load balancer. */
  static async open(dir: string): Promise<Store> {
    const store = new Store(dir);
    await Deno.mkdir(`${dir}/lbs`, { recursive: true, mode: 0o700 });
    for await (const entry of Deno.readDir(`${dir}/lbs`)) {
      const path = `${dir}/lbs/${entry.name}`;
      if (entry.name.includes(".tmp-")) {
        await Deno.remove(path).catch(() => {}); // a write interrupted by a crash
        continue;
      }
      const id = entry.name.replace(/\.json$/, "");
      if (!entry.isFile || !ID.test(id)) continue;
      const rec = JSON.parse(await Deno.readTextFile(path)) as LbRecord;
      if (rec.id !== id) throw new Error(`${path}: holds load balancer ${rec.id}, expected ${id}`);
      store.#index(rec);
    }
    return store;
  }

  get dir(): string {
    return this.#dir;
  }

  /** Every load balancer, ordered by id (the listing order). */
  all(): LbRecord[] {
    this.#sorted ??= [...this.#lbs.values()].sort((
      a,
      b,
    ) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.#sorted;
  }

  get(id: string): LbRecord | undefined {
    return this.#lbs.get(id);
  }

  /** Load balancers named `name` (in any tenant). */
  named(name: string): LbRecord[] {
    return [...(this.#byName.get(name) ?? [])].map((id) => this.#lbs.get(id)!);
  }

  /** Load balancers on external IP `ip`. */
  onIp(ip: string): LbRecord[] {
    return [...(this.#byIp.get(ip) ?? [])].map((id) => this.#lbs.get(id)!);
  }

  /** The load balancer holding listener or pool `id`. */
  parentOf(childId: string): LbRecord | undefined {
    const id = this.#byChild.get(childId);
    return id === undefined ? undefined : this.#lbs.get(id);
  }

  /** Replaces the record in memory at once; resolves when it is durable. */
  put(rec: LbRecord): Promise<void> {
    this.#unindex(rec.id);
    this.#index(rec);
    return this.#flush(rec.id);
  }

  delete(id: string): Promise<void> {
    this.#unindex(id);
    return this.#flush(id);
  }

  #index(rec: LbRecord): void {
    this.#sorted = undefined;
    this.#lbs.set(rec.id, rec);
    const add = (m: Map<string, Set<string>>, k: string) => {
      let set = m.get(k);
      if (!set) m.set(k, set = new Set());
      set.add(rec.id);
    };
    add(this.#byName, rec.name);
    add(this.#byIp, rec.external_ip);
    for (const c of [...rec.listeners, ...rec.pools]) this.#byChild.set(c.id, rec.id);
  }

  #unindex(id: string): void {
    const rec = this.#lbs.get(id);
    if (!rec) return;
    this.#lbs.delete(id);
    this.#sorted = undefined;
    const drop = (m: Map<string, Set<string>>, k: string) => {
      const set = m.get(k);
      set?.delete(id);
      if (set?.size === 0) m.delete(k);
    };
    drop(this.#byName, rec.name);
    drop(this.#byIp, rec.external_ip);
    for (const c of [...rec.listeners, ...rec.pools]) this.#byChild.delete(c.id);
  }

  /** Waits for every pending write. */
  async settle(): Promise<void> {
    while (this.#writers.size > 0) {
      await Promise.all([...this.#writers.values()].map((w) => w.next ?? w.running));
    }
  }

  #flush(id: string): Promise<void> {
    const w = this.#writers.get(id);
    if (!w) {
      const running = this.#write(id).finally(() => this.#advance(id));
      this.#writers.set(id, { running });
      return running;
    }
    // A write is in flight with an older snapshot: one more write after it covers every caller.
    w.next ??= w.running.catch(() => {}).then(() => this.#write(id));
    return w.next;
  }

  #advance(id: string): void {
    const w = this.#writers.get(id)!;
    if (!w.next) {
      this.#writers.delete(id);
      return;
    }
    const running = w.next.finally(() => this.#advance(id));
    running.catch(() => {});
    this.#writers.set(id, { running });
  }

  async #write(id: string): Promise<void> {
    const path = `${this.#dir}/lbs/${id}.json`;
    const rec = this.#lbs.get(id);
    if (!rec) {
      await Deno.remove(path).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
      return;
    }
    const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(rec)));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  }
}
