/** Owner-reference bookkeeping for background garbage collection. */
import { keyOf, type Obj } from "./store.ts";

export class OwnerIndex {
  /** owner uid → dependents as `storage\0key` */
  private readonly dependents = new Map<string, Set<string>>();
  /** uid → `storage\0key` of every live object */
  private readonly uids = new Map<string, string>();
  /** owners deleted with propagationPolicy=Orphan */
  private readonly orphaned = new Set<string>();

  add(storage: string, o: Obj) {
    const ref = `${storage}\u0000${keyOf(o)}`;
    this.uids.set(o.metadata.uid!, ref);
    for (const r of o.metadata.ownerReferences ?? []) {
      let s = this.dependents.get(r.uid);
      if (!s) this.dependents.set(r.uid, s = new Set());
      s.add(ref);
    }
  }

  remove(o: Obj) {
    const ref = this.uids.get(o.metadata.uid!);
    if (!ref) return;
    this.uids.delete(o.metadata.uid!);
    for (const r of o.metadata.ownerReferences ?? []) this.dependents.get(r.uid)?.delete(ref);
  }

  exists(uid: string) {
    return this.uids.has(uid);
  }

  orphan(uid: string) {
    this.orphaned.add(uid);
  }

  /**
   * Called when the owner `uid` is gone: its dependents as [storage, key] pairs, unless it was
   * deleted with propagationPolicy=Orphan.
   */
  takeDependents(uid: string): Array<[string, string]> {
    const deps = this.dependents.get(uid);
    this.dependents.delete(uid);
    if (this.orphaned.delete(uid) || !deps) return [];
    return [...deps].map((d) => d.split("\u0000") as [string, string]);
  }
}
