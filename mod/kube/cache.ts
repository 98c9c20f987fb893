/** The informer's store: objects by key, indexed by namespace and by label key/value. */
import type { KubeObject } from "./api.ts";
import { objectKey } from "./resources.ts";
import { matchLabelRequirements, parseLabelSelector } from "./selectors.ts";

export class IndexedCache<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly byNs = new Map<string, Set<string>>();
  /** label key → label value → object keys */
  private readonly byLabel = new Map<string, Map<string, Set<string>>>();

  get size() {
    return this.items.size;
  }
  get(key: string): T | undefined {
    return this.items.get(key);
  }
  keys(): IterableIterator<string> {
    return this.items.keys();
  }
  values(): T[] {
    return [...this.items.values()];
  }

  /** Stores obj, returning what it replaced. */
  set(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    this.index(key, obj);
    return old;
  }

  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  byNamespace(ns: string): T[] {
    return [...(this.byNs.get(ns) ?? [])].map((k) => this.items.get(k)!);
  }

  byLabels(selector: string, namespace?: string): T[] {
    const reqs = parseLabelSelector(selector);
    // Narrow to the smallest equality bucket; other requirements are checked per object.
    let best: Set<string> | undefined;
    for (const r of reqs) {
      if (r.op !== "=" && !(r.op === "in" && r.values.length === 1)) continue;
      const set = this.byLabel.get(r.key)?.get(r.values[0]) ?? new Set<string>();
      if (!best || set.size < best.size) best = set;
    }
    const candidates: Iterable<string> = best ??
      (namespace !== undefined ? this.byNs.get(namespace) ?? [] : this.items.keys());
    const out: T[] = [];
    for (const k of candidates) {
      const o = this.items.get(k)!;
      if (namespace !== undefined && (o.metadata.namespace ?? "") !== namespace) continue;
      if (matchLabelRequirements(reqs, o.metadata.labels)) out.push(o);
    }
    return out;
  }

  private index(key: string, obj: T) {
    const ns = obj.metadata.namespace ?? "";
    let s = this.byNs.get(ns);
    if (!s) this.byNs.set(ns, s = new Set());
    s.add(key);
    for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
      let vals = this.byLabel.get(k);
      if (!vals) this.byLabel.set(k, vals = new Map());
      let keys = vals.get(v);
      if (!keys) vals.set(v, keys = new Set());
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T) {
    const ns = obj.metadata.namespace ?? "";
    const s = this.byNs.get(ns);
    s?.delete(key);
    if (s && s.size === 0) this.byNs.delete(ns);
    for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
      const vals = this.byLabel.get(k);
      const keys = vals?.get(v);
      keys?.delete(key);
      if (keys && keys.size === 0) vals!.delete(v);
      if (vals && vals.size === 0) this.byLabel.delete(k);
    }
  }
}
