/**
 * Versioned object storage: one cluster-wide, monotonically increasing resourceVersion, a
 * bounded event history (compaction makes old versions 410 Gone), watchers fed at commit time,
 * and consistent paginated lists (pages after the first are served from the first page's
 * snapshot, reconstructed from the history, like etcd's MVCC reads).
 */
import type { KubeObject } from "../../../mod/kube/api.ts";
import { expired } from "./errors.ts";

export type Obj = KubeObject;
export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface HistoryEvent {
  rv: number;
  storage: string;
  key: string;
  type: EventType;
  /** The object as committed (for DELETED: last state, carrying the deletion's RV). */
  obj: Obj;
  /** The state before (MODIFIED/DELETED). */
  prev?: Obj;
}

export interface Watcher {
  storage: string;
  namespace?: string;
  matches(o: Obj): boolean;
  send(type: EventType, obj: Obj): void;
  /** Ends the watch from the server side (its resource stopped being served). */
  close?(): void;
}

export interface ListPage {
  items: Obj[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export function keyOf(o: Obj): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name!;
}

function firstAbove(keys: string[], key: string, inclusive: boolean): number {
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (inclusive ? keys[mid] < key : keys[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Store {
  rv = 1;
  /** Events with rv ≤ this may be missing from the history. */
  compactedThrough = 0;
  private history: HistoryEvent[] = [];
  private readonly tables = new Map<string, Map<string, Obj>>();
  private readonly sortedKeys = new Map<string, string[]>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(public historyLimit = 10_000) {}

  table(storage: string): Map<string, Obj> {
    let t = this.tables.get(storage);
    if (!t) this.tables.set(storage, t = new Map());
    return t;
  }

  get(storage: string, key: string): Obj | undefined {
    return this.tables.get(storage)?.get(key);
  }

  /** Stamps the next resourceVersion on obj and commits the change. */
  commit(type: EventType, storage: string, obj: Obj, prev?: Obj): Obj {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    const key = keyOf(obj);
    const t = this.table(storage);
    if (type === "DELETED") t.delete(key);
    else t.set(key, obj);
    if (type !== "MODIFIED") this.sortedKeys.delete(storage);
    const ev: HistoryEvent = { rv, storage, key, type, obj, prev };
    this.history.push(ev);
    if (this.history.length > this.historyLimit + Math.max(100, this.historyLimit >> 3)) {
      const drop = this.history.length - this.historyLimit;
      this.compactedThrough = this.history[drop - 1].rv;
      this.history = this.history.slice(drop);
    }
    for (const w of this.watchers.get(storage) ?? []) this.deliver(w, ev);
    return obj;
  }

  /** Forgets all history: every resourceVersion before now becomes too old to watch from. */
  compact() {
    this.history = [];
    this.compactedThrough = this.rv;
  }

  /** Drops a whole storage and ends its watches (a deleted CRD's resource). */
  dropStorage(storage: string) {
    this.tables.delete(storage);
    this.sortedKeys.delete(storage);
    for (const w of [...(this.watchers.get(storage) ?? [])]) w.close?.();
    this.watchers.delete(storage);
  }

  private deliver(w: Watcher, ev: HistoryEvent) {
    if (w.namespace !== undefined && ev.obj.metadata.namespace !== w.namespace) return;
    const now = w.matches(ev.obj);
    if (ev.type !== "MODIFIED") {
      if (now) w.send(ev.type, ev.obj);
      return;
    }
    const before = ev.prev ? w.matches(ev.prev) : false;
    if (now) w.send(before ? "MODIFIED" : "ADDED", ev.obj);
    else if (before) {
      // Left the watcher's selection: it sees a deletion of the old state at the new version.
      const gone = {
        ...ev.prev!,
        metadata: { ...ev.prev!.metadata, resourceVersion: String(ev.rv) },
      };
      w.send("DELETED", gone);
    }
  }

  /**
   * Registers a watcher. From "0"/"" it first gets ADDED for every current object; from a
   * version it gets every later event (410 Gone if the history no longer reaches back).
   */
  watch(w: Watcher, fromRv: string | undefined): () => void {
    if (fromRv && fromRv !== "0") {
      const from = Number(fromRv);
      if (!Number.isInteger(from) || from < 0) {
        throw expired(`invalid resource version "${fromRv}"`);
      }
      if (from < this.compactedThrough) {
        throw expired(`too old resource version: ${from} (${this.compactedThrough + 1})`);
      }
      let i = this.history.length;
      while (i > 0 && this.history[i - 1].rv > from) i--;
      for (; i < this.history.length; i++) {
        if (this.history[i].storage === w.storage) this.deliver(w, this.history[i]);
      }
    } else {
      for (const o of this.table(w.storage).values()) {
        if (w.namespace !== undefined && o.metadata.namespace !== w.namespace) continue;
        if (w.matches(o)) w.send("ADDED", o);
      }
    }
    let set = this.watchers.get(w.storage);
    if (!set) this.watchers.set(w.storage, set = new Set());
    set.add(w);
    return () => set!.delete(w);
  }

  /** The storage's objects as they were at `rv`. */
  private snapshot(storage: string, rv: number): Map<string, Obj> {
    if (rv < this.compactedThrough) {
      throw expired(
        `The resourceVersion ${rv} is too old to display a consistent list result ` +
          `(compacted through ${this.compactedThrough}); start a new list.`,
      );
    }
    const snap = new Map(this.table(storage));
    const touched = new Set<string>();
    for (const ev of this.history) {
      if (ev.rv <= rv || ev.storage !== storage || touched.has(ev.key)) continue;
      touched.add(ev.key);
      if (ev.type === "ADDED") snap.delete(ev.key);
      else snap.set(ev.key, ev.prev!);
    }
    return snap;
  }

  private sorted(storage: string): string[] {
    let keys = this.sortedKeys.get(storage);
    if (!keys) {
      keys = [...this.table(storage).keys()].sort();
      this.sortedKeys.set(storage, keys);
    }
    return keys;
  }

  list(
    storage: string,
    opts: {
      namespace?: string;
      matches(o: Obj): boolean;
      limit?: number;
      continue?: string;
      /** Serve the state at exactly this version (resourceVersionMatch=Exact). */
      atRv?: number;
    },
  ): ListPage {
    let snapRv = this.rv;
    let after: string | undefined;
    if (opts.atRv !== undefined && !opts.continue) {
      if (opts.atRv > this.rv) throw expired(`resource version ${opts.atRv} is in the future`);
      snapRv = opts.atRv;
    }
    if (opts.continue) {
      let tok: { rv: number; start: string };
      try {
        tok = JSON.parse(atob(opts.continue));
        if (typeof tok.rv !== "number" || typeof tok.start !== "string") throw new Error();
      } catch {
        throw Object.assign(expired("continue key is not valid"), {
          code: 400,
          reason: "BadRequest",
        });
      }
      snapRv = tok.rv;
      after = tok.start;
    }
    let source: Map<string, Obj>;
    let keys: string[];
    if (snapRv === this.rv) {
      source = this.table(storage);
      keys = this.sorted(storage);
    } else {
      source = this.snapshot(storage, snapRv);
      keys = [...source.keys()].sort();
    }
    const prefix = opts.namespace !== undefined ? `${opts.namespace}/` : "";
    let i = after !== undefined ? firstAbove(keys, after, false) : 0;
    if (prefix) i = Math.max(i, firstAbove(keys, prefix, true));
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    const items: Obj[] = [];
    let last = "";
    for (; i < keys.length && items.length < limit; i++) {
      const k = keys[i];
      if (prefix && !k.startsWith(prefix)) break;
      last = k;
      const o = source.get(k)!;
      if (opts.matches(o)) items.push(o);
    }
    const page: ListPage = { items, resourceVersion: String(snapRv) };
    const more = i < keys.length && (!prefix || keys[i].startsWith(prefix));
    if (items.length >= limit && more) {
      page.continue = btoa(JSON.stringify({ rv: snapRv, start: last }));
    }
    return page;
  }
}
