/**
 * Durable state of the embedded FiberLB under `<dataDir>/fiberlb/`: the load balancers (each with
 * its listeners and pools) in a snapshot plus a group-committed journal (journal.ts). A change is
 * visible in memory at once and durable when its promise resolves; a crash keeps every
 * acknowledged change. State written by earlier versions (one file per load balancer under
 * `lbs/`) is carried into the journal on open.
 */
import { Journal } from "./journal.ts";
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

function parseRecord(raw: unknown): LbRecord {
  const r = raw as LbRecord;
  if (
    typeof r !== "object" || r === null || typeof r.id !== "string" || !ID.test(r.id) ||
    !Array.isArray(r.listeners) || !Array.isArray(r.pools)
  ) {
    throw new Error(`not a load balancer record: ${JSON.stringify(raw).slice(0, 120)}`);
  }
  return r;
}

export class Store {
  readonly #journal: Journal<LbRecord>;
  readonly #lbs: Map<string, LbRecord>;
  // Indexes, so that no call scans every load balancer.
  readonly #byName = new Map<string, Set<string>>();
  readonly #byIp = new Map<string, Set<string>>();
  readonly #byChild = new Map<string, string>();
  #sorted?: LbRecord[];

  private constructor(journal: Journal<LbRecord>, lbs: Map<string, LbRecord>) {
    this.#journal = journal;
    this.#lbs = lbs;
    for (const rec of lbs.values()) this.#index(rec);
  }

  /** Opens (creating) the state directory and loads every load balancer. */
  static async open(dir: string, opts: { compactAfter?: number } = {}): Promise<Store> {
    const { journal, records } = await Journal.open(dir, { parse: parseRecord, ...opts });
    const store = new Store(journal, records);
    await store.#adoptLegacy(`${dir}/lbs`);
    return store;
  }

  get dir(): string {
    return this.#journal.dir;
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
    this.#lbs.set(rec.id, rec);
    this.#index(rec);
    return this.#journal.append({ put: rec });
  }

  delete(id: string): Promise<void> {
    this.#unindex(id);
    this.#lbs.delete(id);
    return this.#journal.append({ del: id });
  }

  #index(rec: LbRecord): void {
    this.#sorted = undefined;
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

  /** Journal batches synced so far (a burst of changes shares them). */
  get syncs(): number {
    return this.#journal.syncs;
  }

  /** Waits for every pending write. */
  settle(): Promise<void> {
    return this.#journal.settle();
  }

  /** Waits for pending writes and closes the journal. */
  close(): Promise<void> {
    return this.#journal.close();
  }

  /** Moves one-file-per-load-balancer state into the journal, then removes it. */
  async #adoptLegacy(legacy: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(legacy));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    for (const e of entries) {
      const id = e.name.replace(/\.json$/, "");
      if (!e.isFile || !ID.test(id) || this.#lbs.has(id)) continue;
      const rec = parseRecord(JSON.parse(await Deno.readTextFile(`${legacy}/${e.name}`)));
      if (rec.id !== id) throw new Error(`${legacy}/${e.name}: holds load balancer ${rec.id}`);
      await this.put(rec);
    }
    await Deno.remove(legacy, { recursive: true });
  }
}
