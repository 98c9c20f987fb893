/**
 * The API semantics over the store: create/get/list/update/patch/delete with the status
 * subresource, optimistic concurrency, finalizers, namespace termination, owner-reference
 * garbage collection and CRD-defined resources.
 */
import {
  matchFieldRequirements,
  matchLabelRequirements,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from "../../../mod/kube/selectors.ts";
import { deepEqual } from "../../../mod/kube/status.ts";
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  invalid,
  namespaceNotFound,
  notFound,
} from "./errors.ts";
import { OwnerIndex } from "./owners.ts";
import { applyJsonPatch, jsonMerge, strategicMerge } from "./patch.ts";
import { Registry, type ResourceDef } from "./registry.ts";
import { type EventType, keyOf, type ListPage, type Obj, Store } from "./store.ts";
import { generateSuffix, nowTime } from "./validation.ts";
import { apiVersionOf, checkCreateBody, finishCreate, isObj, nextForUpdate } from "./writes.ts";

export { apiVersionOf };

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
}

export type PatchKind = "merge" | "strategic" | "json";

export class Cluster {
  readonly registry = new Registry();
  readonly store: Store;
  private readonly owners = new OwnerIndex();

  constructor(opts: { historyLimit?: number } = {}) {
    this.store = new Store(opts.historyLimit);
    const ns = this.registry.find("", "v1", "namespaces")!;
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      this.create(ns, undefined, { metadata: { name } });
    }
  }

  private dry = false;

  /** Runs fn as `?dryRun=All`: validated and answered like the real thing, nothing stored. */
  dryRun<T>(fn: () => T): T {
    this.dry = true;
    try {
      return fn();
    } finally {
      this.dry = false;
    }
  }

  def(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.registry.find(group, version, plural);
  }

  private out(def: ResourceDef, o: Obj): Obj {
    const av = apiVersionOf(def);
    return o.apiVersion === av ? o : { ...o, apiVersion: av };
  }

  private key(def: ResourceDef, ns: string | undefined, name: string) {
    return def.namespaced ? `${ns}/${name}` : name;
  }

  private mustGet(def: ResourceDef, ns: string | undefined, name: string): Obj {
    const o = this.store.get(def.storage, this.key(def, ns, name));
    if (!o) throw notFound(def, name);
    return o;
  }

  matcher(q: ListQuery): (o: Obj) => boolean {
    try {
      const labels = parseLabelSelector(q.labelSelector);
      const fields = parseFieldSelector(q.fieldSelector);
      if (!labels.length && !fields.length) return () => true;
      return (o) =>
        matchLabelRequirements(labels, o.metadata.labels) && matchFieldRequirements(fields, o);
    } catch (e) {
      if (e instanceof SelectorError) throw badRequest(e.message);
      throw e;
    }
  }

  get(def: ResourceDef, ns: string | undefined, name: string): Obj {
    return this.out(def, this.mustGet(def, ns, name));
  }

  list(def: ResourceDef, ns: string | undefined, q: ListQuery): ListPage {
    const page = this.store.list(def.storage, {
      namespace: def.namespaced ? ns : undefined,
      matches: this.matcher(q),
      limit: q.limit,
      continue: q.continue,
      atRv: q.resourceVersionMatch === "Exact" ? this.exactRv(q.resourceVersion) : undefined,
    });
    page.items = page.items.map((o) => this.out(def, o));
    return page;
  }

  private exactRv(rv: string | undefined): number {
    const n = Number(rv);
    if (!rv || !Number.isInteger(n) || n <= 0) {
      throw badRequest(`resourceVersionMatch=Exact needs a resourceVersion, got "${rv ?? ""}"`);
    }
    return n;
  }

  watch(
    def: ResourceDef,
    ns: string | undefined,
    q: ListQuery,
    send: (type: EventType, obj: Obj) => void,
    close?: () => void,
  ): () => void {
    return this.store.watch({
      storage: def.storage,
      namespace: def.namespaced ? ns : undefined,
      matches: this.matcher(q),
      send: (t, o) => send(t, this.out(def, o)),
      close,
    }, q.resourceVersion);
  }

  create(def: ResourceDef, ns: string | undefined, input: unknown): Obj {
    const body = checkCreateBody(def, ns, input);
    const m = body.metadata;
    if (def.namespaced) {
      const nsObj = this.store.get("/namespaces", ns!);
      if (!nsObj) throw namespaceNotFound(ns!);
      if (nsObj.metadata.deletionTimestamp) {
        throw new ApiError(
          403,
          "Forbidden",
          `${def.plural} "${m.name ?? m.generateName}" is forbidden: unable to create new ` +
            `content in namespace ${ns} because it is being terminated`,
          { name: m.name, kind: def.plural },
        );
      }
    }
    if (!m.name) {
      if (!m.generateName) {
        throw invalid(def, "", [{
          field: "metadata.name",
          message: "Required value: name or generateName is required",
          reason: "FieldValueRequired",
        }]);
      }
      do m.name = `${m.generateName}${generateSuffix()}`; while (
        this.store.get(def.storage, keyOf(body))
      );
    }
    const causes = finishCreate(def, body, this);
    if (causes.length) throw invalid(def, m.name, causes);
    if (this.store.get(def.storage, keyOf(body))) throw alreadyExists(def, m.name);
    if (this.dry) return this.out(def, body);
    if (body.kind === "CustomResourceDefinition" && !def.custom) this.registry.registerCrd(body);
    this.store.commit("ADDED", def.storage, body);
    this.owners.add(def.storage, body);
    return this.out(def, body);
  }

  /** Objects of a storage key, for hooks. */
  *objects(storage: string): Iterable<Obj> {
    yield* this.store.table(storage).values();
  }

  update(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    body: unknown,
    sub?: "status",
  ): Obj {
    const old = this.mustGet(def, ns, name);
    const next = nextForUpdate(def, old, name, body, sub, this);
    if (deepEqual(next, old)) return this.out(def, old);
    if (this.dry) return this.out(def, next);
    if (this.deletable(next)) return this.remove(def, next);
    if (next.kind === "CustomResourceDefinition" && !def.custom) this.registry.registerCrd(next);
    this.store.commit("MODIFIED", def.storage, next, old);
    this.owners.remove(old);
    this.owners.add(def.storage, next);
    return this.out(def, next);
  }

  patch(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    kind: PatchKind,
    patch: unknown,
    sub?: "status",
  ): Obj {
    const old = this.mustGet(def, ns, name);
    if (kind === "strategic" && def.custom) {
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
      );
    }
    if (kind !== "json" && !isObj(patch)) throw badRequest("a merge patch must be a JSON object");
    const base = structuredClone(old);
    const patched = kind === "json"
      ? applyJsonPatch(base, patch)
      : kind === "merge"
      ? jsonMerge(base, patch)
      : strategicMerge(base, patch, def.kind);
    if (!isObj(patched)) {
      throw invalid(def, name, [{
        field: "",
        message: "Invalid value: patch result is not an object",
      }]);
    }
    if (!isObj(patched.metadata)) patched.metadata = {};
    return this.update(def, ns, name, patched, sub);
  }

  private deletable(o: Obj): boolean {
    if (!o.metadata.deletionTimestamp || (o.metadata.finalizers ?? []).length) return false;
    return o.kind !== "Namespace" || !(o.spec?.finalizers ?? []).length;
  }

  delete(def: ResourceDef, ns: string | undefined, name: string, opts: DeleteOptions = {}): Obj {
    const old = this.mustGet(def, ns, name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw conflict(
        def,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(
        def,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    if (old.metadata.deletionTimestamp) return this.out(def, old);
    const marked: Obj = {
      ...old,
      metadata: { ...old.metadata, deletionTimestamp: nowTime(), deletionGracePeriodSeconds: 0 },
    };
    if (this.dry) return this.out(def, marked);
    if (opts.propagationPolicy === "Orphan") this.owners.orphan(old.metadata.uid!);
    if (def.storage === "/namespaces") return this.terminateNamespace(def, marked, old);
    if (!this.deletable(marked)) {
      this.store.commit("MODIFIED", def.storage, marked, old);
      return this.out(def, marked);
    }
    return this.remove(def, marked);
  }

  deleteCollection(def: ResourceDef, ns: string | undefined, q: ListQuery): Obj[] {
    const items =
      this.list(def, ns, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector }).items;
    return items.map((o) => this.delete(def, o.metadata.namespace, o.metadata.name!));
  }

  private remove(def: ResourceDef, o: Obj): Obj {
    const prev = this.store.get(def.storage, keyOf(o));
    const dead: Obj = { ...o, metadata: { ...o.metadata } };
    this.store.commit("DELETED", def.storage, dead, prev);
    this.owners.remove(dead);
    if (dead.kind === "CustomResourceDefinition" && !def.custom) this.dropCrd(dead);
    if (def.namespaced) this.finishNamespace(dead.metadata.namespace!);
    this.collectDependents(dead.metadata.uid!);
    return this.out(def, dead);
  }

  private dropCrd(crd: Obj) {
    const defs = this.registry.unregisterCrd(crd.metadata.name!);
    if (!defs.length) return;
    for (const o of [...this.store.table(defs[0].storage).values()]) this.remove(defs[0], o);
    this.store.dropStorage(defs[0].storage);
  }

  private namespacedDefs(): ResourceDef[] {
    const seen = new Set<string>();
    return this.registry.all().filter((d) =>
      d.namespaced && !seen.has(d.storage) && seen.add(d.storage)
    );
  }

  private terminateNamespace(def: ResourceDef, marked: Obj, old: Obj): Obj {
    marked.status = { ...old.status, phase: "Terminating" };
    this.store.commit("MODIFIED", def.storage, marked, old);
    const name = marked.metadata.name!;
    for (const d of this.namespacedDefs()) {
      for (const o of [...this.store.table(d.storage).values()]) {
        if (o.metadata.namespace === name && !o.metadata.deletionTimestamp) {
          this.delete(d, name, o.metadata.name!);
        }
      }
    }
    this.finishNamespace(name);
    return this.out(def, this.store.get(def.storage, name) ?? marked);
  }

  /** The namespace controller's last step: once a terminating namespace is empty, finalize it. */
  private finishNamespace(ns: string) {
    const nsObj = this.store.get("/namespaces", ns);
    if (!nsObj?.metadata.deletionTimestamp) return;
    for (const d of this.namespacedDefs()) {
      for (const o of this.store.table(d.storage).values()) if (o.metadata.namespace === ns) return;
    }
    const def = this.registry.find("", "v1", "namespaces")!;
    if ((nsObj.spec?.finalizers ?? []).length) {
      const next = { ...nsObj, spec: { ...nsObj.spec, finalizers: [] } };
      if (this.deletable(next)) this.remove(def, next);
      else this.store.commit("MODIFIED", def.storage, next, nsObj);
    } else if (this.deletable(nsObj)) this.remove(def, nsObj);
  }

  /** Background garbage collection: dependents all of whose owners are gone are deleted. */
  private collectDependents(uid: string) {
    for (const [storage, key] of this.owners.takeDependents(uid)) {
      const o = this.store.get(storage, key);
      if (!o || o.metadata.deletionTimestamp) continue;
      if ((o.metadata.ownerReferences ?? []).some((r) => this.owners.exists(r.uid))) continue;
      const def = this.registry.all().find((d) => d.storage === storage);
      if (def) this.delete(def, o.metadata.namespace, o.metadata.name!);
    }
  }
}
