/** Status-subresource patching and finalizer helpers, all retrying on 409 Conflict. */
import type { KubeApi, KubeObject, ResourceRef } from "./api.ts";
import { isConflict, isNotFound } from "./errors.ts";

const MAX_ATTEMPTS = 5;

/** JSON equality with key order ignored. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** RFC 7386 merge of patch into target (a new value; inputs untouched). */
export function jsonMerge(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === "object" &&
      !Array.isArray(target)
    ? { ...(target as Record<string, unknown>) }
    : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = jsonMerge(out[k], v);
  }
  return out;
}

/**
 * Merge-patches `status` onto the object's status subresource. Skips the write when the merge
 * would change nothing; on a conflict re-reads the object and tries again.
 */
export async function patchStatus<T extends KubeObject>(
  api: KubeApi,
  ref: ResourceRef,
  obj: T,
  status: unknown,
): Promise<T> {
  let current: T = obj;
  for (let attempt = 1;; attempt++) {
    if (deepEqual(jsonMerge(current.status ?? {}, status), current.status ?? {})) return current;
    try {
      return await api.patch<T>(ref, current.metadata.name!, {
        metadata: { resourceVersion: current.metadata.resourceVersion },
        status,
      }, { namespace: current.metadata.namespace, type: "merge", subresource: "status" });
    } catch (e) {
      if (!isConflict(e) || attempt >= MAX_ATTEMPTS) throw e;
      current = await api.get<T>(ref, current.metadata.name!, current.metadata.namespace);
    }
  }
}

/** Annotation values to set (null: remove). */
export type AnnotationChanges = Record<string, string | null>;

function annotationsChanged(obj: KubeObject, changes: AnnotationChanges): boolean {
  const a = obj.metadata.annotations ?? {};
  return Object.entries(changes).some(([k, v]) => (v === null ? k in a : a[k] !== v));
}

/**
 * One merge patch of finalizers and annotations, guarded by the resourceVersion so a
 * concurrent writer's finalizer is never dropped; re-reads and retries on a conflict.
 */
async function updateMetadata<T extends KubeObject>(
  api: KubeApi,
  ref: ResourceRef,
  obj: T,
  change: (finalizers: string[]) => string[] | undefined,
  annotations: AnnotationChanges = {},
): Promise<T> {
  let current: T = obj;
  for (let attempt = 1;; attempt++) {
    const finalizers = change(current.metadata.finalizers ?? []);
    const annotate = annotationsChanged(current, annotations);
    if (!finalizers && !annotate) return current;
    try {
      return await api.patch<T>(ref, current.metadata.name!, {
        metadata: {
          resourceVersion: current.metadata.resourceVersion,
          ...(finalizers ? { finalizers } : {}),
          ...(annotate ? { annotations } : {}),
        },
      }, { namespace: current.metadata.namespace, type: "merge" });
    } catch (e) {
      if (!isConflict(e) || attempt >= MAX_ATTEMPTS) throw e;
      current = await api.get<T>(ref, current.metadata.name!, current.metadata.namespace);
    }
  }
}

/** Adds finalizer `name` (no-op when present). Returns the updated object. */
export function addFinalizer<T extends KubeObject>(
  api: KubeApi,
  ref: ResourceRef,
  obj: T,
  name: string,
): Promise<T> {
  return claimWithAnnotations(api, ref, obj, name, {});
}

/**
 * Adds finalizer `name` and applies annotation changes in a single write (none when both are
 * already in place). Returns the updated object.
 */
export function claimWithAnnotations<T extends KubeObject>(
  api: KubeApi,
  ref: ResourceRef,
  obj: T,
  name: string,
  annotations: AnnotationChanges,
): Promise<T> {
  return updateMetadata(
    api,
    ref,
    obj,
    (f) => f.includes(name) ? undefined : [...f, name],
    annotations,
  );
}

/**
 * Removes finalizer `name` (no-op when absent). Returns the updated object; when that was the
 * last finalizer of an object being deleted the server removes it, and a 404 on the way means
 * it is already gone, so the object passed in is returned.
 */
export async function removeFinalizer<T extends KubeObject>(
  api: KubeApi,
  ref: ResourceRef,
  obj: T,
  name: string,
): Promise<T> {
  try {
    return await updateMetadata(api, ref, obj, (f) => {
      const next = f.filter((x) => x !== name);
      return next.length === f.length ? undefined : next;
    });
  } catch (e) {
    if (isNotFound(e)) return obj;
    throw e;
  }
}

export function hasFinalizer(obj: KubeObject, name: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(name);
}
