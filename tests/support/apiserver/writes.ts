/**
 * What a create or an update turns a request body into, before anything is stored: the
 * metadata the server owns, the status rules of the status subresource, generation, defaulting
 * hooks and every validation cause (a 422 lists them all).
 */
import { deepEqual } from "../../../mod/kube/status.ts";
import { crdCauses, crdStatus } from "./crd.ts";
import { badRequest, conflict, type FieldCause, invalid, notFound } from "./errors.ts";
import { type HookContext, prepareCreate, prepareUpdate } from "./hooks.ts";
import type { ResourceDef } from "./registry.ts";
import { applyRootSchema } from "./schema.ts";
import type { Obj } from "./store.ts";
import { metadataCauses, nameCauses, nowTime } from "./validation.ts";

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function apiVersionOf(def: ResourceDef) {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

const isCrd = (def: ResourceDef) => def.plural === "customresourcedefinitions" && !def.custom;

/** Everything but metadata and status: what a generation counts changes of. */
function specPart(o: Obj) {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

const MISMATCHED_NS =
  "the namespace of the provided object does not match the namespace sent on the request";

/** Checks kind/apiVersion/namespace of a create body and normalises its metadata in place. */
export function checkCreateBody(def: ResourceDef, ns: string | undefined, body: unknown): Obj {
  if (!isObj(body)) throw badRequest("the request body must be a JSON object");
  const av = apiVersionOf(def);
  if (body.kind && body.kind !== def.kind) {
    throw badRequest(
      `the kind in the data (${body.kind}) does not match the expected kind (${def.kind})`,
    );
  }
  if (body.apiVersion && body.apiVersion !== av) {
    throw badRequest(
      `the API version in the data (${body.apiVersion}) does not match the expected API ` +
        `version (${av})`,
    );
  }
  body.apiVersion = av;
  body.kind = def.kind;
  const m: Obj["metadata"] = body.metadata = isObj(body.metadata) ? body.metadata : {};
  if (def.namespaced) {
    if (m.namespace && m.namespace !== ns) throw badRequest(MISMATCHED_NS);
    m.namespace = ns;
  } else delete m.namespace;
  const owned = m as Record<string, unknown>;
  for (const f of ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"]) {
    delete owned[f];
  }
  delete m.selfLink;
  delete m.managedFields;
  return body;
}

/** Stamps server-owned metadata and returns every reason the new object is invalid. */
export function finishCreate(def: ResourceDef, body: Obj, ctx: HookContext): FieldCause[] {
  const m = body.metadata;
  m.uid = crypto.randomUUID();
  m.creationTimestamp = nowTime();
  if (body.spec !== undefined || def.custom) m.generation = 1;
  else delete m.generation;
  const causes = [
    ...nameCauses(def, m.name!),
    ...metadataCauses(body),
    ...prepareCreate(def, body, ctx),
  ];
  if (isCrd(def)) {
    causes.push(...crdCauses(body));
    if (!causes.length) body.status = crdStatus(body);
  }
  if (def.custom) {
    const r = applyRootSchema(body, def.schema);
    for (const k of Object.keys(body)) delete body[k];
    Object.assign(body, r.obj);
    causes.push(...r.causes);
  }
  return causes;
}

/** The object an update (PUT, or a patch's result) would store; throws 400/404/409/422. */
export function nextForUpdate(
  def: ResourceDef,
  old: Obj,
  name: string,
  body: unknown,
  sub: "status" | undefined,
  ctx: HookContext,
): Obj {
  if (!isObj(body)) throw badRequest("the request body must be a JSON object");
  const bm = (isObj(body.metadata) ? body.metadata : {}) as Obj["metadata"];
  if (bm.name !== undefined && bm.name !== name) {
    throw badRequest(
      `the name of the object (${bm.name}) does not match the name on the URL (${name})`,
    );
  }
  if (def.namespaced && bm.namespace && bm.namespace !== old.metadata.namespace) {
    throw badRequest(MISMATCHED_NS);
  }
  if (bm.resourceVersion && bm.resourceVersion !== old.metadata.resourceVersion) {
    throw conflict(def, name);
  }
  let next: Obj;
  const causes: FieldCause[] = [];
  if (sub === "status") {
    if (!def.status) throw notFound(def, name);
    next = { ...old, metadata: { ...old.metadata } };
    if (body.status === undefined) delete next.status;
    else next.status = body.status;
  } else {
    const m = old.metadata;
    next = { ...body, apiVersion: apiVersionOf(def), kind: def.kind };
    next.metadata = {
      ...bm,
      name,
      namespace: m.namespace,
      uid: m.uid,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
      deletionGracePeriodSeconds: m.deletionGracePeriodSeconds,
      generation: m.generation,
    };
    const nm = next.metadata as Record<string, unknown>;
    for (const [k, v] of Object.entries(nm)) if (v === undefined) delete nm[k];
    delete next.metadata.managedFields;
    delete next.metadata.selfLink;
    if (def.status) {
      if (old.status === undefined) delete next.status;
      else next.status = old.status;
    }
    if (m.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f) => !m.finalizers?.includes(f));
      if (added.length) {
        causes.push({
          field: "metadata.finalizers",
          message: "Forbidden: no new finalizers can be added if the object is being deleted, " +
            `found new finalizers ${JSON.stringify(added)}`,
          reason: "FieldValueForbidden",
        });
      }
    }
    causes.push(...metadataCauses(next), ...prepareUpdate(def, next, old, ctx));
    if (isCrd(def)) {
      causes.push(...crdCauses(next));
      if (
        old.spec?.names?.plural !== next.spec?.names?.plural || old.spec?.group !== next.spec?.group
      ) {
        causes.push({
          field: "spec",
          message: "Invalid value: group and names.plural are immutable",
        });
      }
      if (!causes.length) next.status = crdStatus(next);
    }
    if (m.generation !== undefined && !deepEqual(specPart(next), specPart(old))) {
      next.metadata.generation = m.generation + 1;
    }
  }
  if (def.custom) {
    const r = applyRootSchema(next, def.schema);
    next = r.obj as Obj;
    causes.push(...r.causes);
  }
  if (causes.length) throw invalid(def, name, causes);
  next.metadata.resourceVersion = old.metadata.resourceVersion;
  return next;
}
