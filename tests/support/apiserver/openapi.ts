/**
 * OpenAPI v3 discovery, reduced to what kubectl reads: per group-version, the paths of every
 * resource with its `x-kubernetes-group-version-kind` and the query parameters the server
 * accepts (kubectl checks for `fieldValidation` to choose server-side validation over
 * client-side schema validation). Schemas are open (`x-kubernetes-preserve-unknown-fields`).
 */
import type { Registry, ResourceDef } from "./registry.ts";

const QUERY = ["dryRun", "fieldManager", "fieldValidation", "pretty"].map((name) => ({
  name,
  in: "query",
  schema: { type: "string", uniqueItems: true },
}));
const LIST_QUERY = [
  "allowWatchBookmarks",
  "continue",
  "fieldSelector",
  "labelSelector",
  "limit",
  "resourceVersion",
  "resourceVersionMatch",
  "sendInitialEvents",
  "timeoutSeconds",
  "watch",
].map((name) => ({ name, in: "query", schema: { type: "string" } }));

function gvPath(group: string, version: string) {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).toUpperCase().padStart(16, "0");
}

function schemaName(d: ResourceDef) {
  const g = d.group ? d.group.split(".").reverse().join(".") : "io.k8s.api.core";
  return `${g}.${d.version}.${d.kind}`;
}

function paths(d: ResourceDef) {
  const gvk = { group: d.group, version: d.version, kind: d.kind };
  const ref = { $ref: `#/components/schemas/${schemaName(d)}` };
  const ok = { "200": { description: "OK", content: { "application/json": { schema: ref } } } };
  const op = (action: string, params: unknown[]) => ({
    operationId: `${action}${d.kind}`,
    parameters: params,
    responses: ok,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
  });
  const base = `/${gvPath(d.group, d.version)}${d.namespaced ? "/namespaces/{namespace}" : ""}`;
  const out: Record<string, unknown> = {
    [`${base}/${d.plural}`]: {
      get: op("list", LIST_QUERY),
      post: op("post", QUERY),
      delete: op("deletecollection", LIST_QUERY),
    },
    [`${base}/${d.plural}/{name}`]: {
      get: op("get", []),
      put: op("put", QUERY),
      patch: op("patch", [...QUERY, { name: "force", in: "query", schema: { type: "boolean" } }]),
      delete: op("delete", [{ name: "dryRun", in: "query", schema: { type: "string" } }]),
    },
  };
  if (d.status) {
    out[`${base}/${d.plural}/{name}/status`] = {
      get: op("get", []),
      put: op("put", QUERY),
      patch: op("patch", QUERY),
    };
  }
  return out;
}

export function openapiV3Index(reg: Registry) {
  const out: Record<string, { serverRelativeURL: string }> = {};
  for (const [group, versions] of reg.groups()) {
    for (const v of versions) {
      const p = gvPath(group, v);
      const h = hash(JSON.stringify(reg.byGroupVersion(group, v)));
      out[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${h}` };
    }
  }
  return { paths: out };
}

export function openapiV3Group(reg: Registry, path: string): unknown {
  const segs = path.split("/");
  const [group, version] = segs[0] === "api" ? ["", segs[1]] : [segs[1], segs[2]];
  const defs = version ? reg.byGroupVersion(group, version) : [];
  if (!defs.length) return undefined;
  const schemas: Record<string, unknown> = {};
  for (const d of defs) {
    schemas[schemaName(d)] = {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
      "x-kubernetes-group-version-kind": [{ group: d.group, version: d.version, kind: d.kind }],
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0" },
    paths: Object.assign({}, ...defs.map(paths)),
    components: { schemas },
  };
}
