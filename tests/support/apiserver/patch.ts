/**
 * The three PATCH flavours: JSON merge (RFC 7386), JSON patch (RFC 6902) and strategic merge
 * with the merge keys of the built-in types that controllers patch.
 */
import { jsonMerge } from "../../../mod/kube/status.ts";
import { deepEqual } from "../../../mod/kube/status.ts";
import { ApiError, badRequest } from "./errors.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

export { jsonMerge };

function isObj(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// ---- JSON patch ----

function unescape(tok: string) {
  return tok.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(p: unknown): string[] {
  if (typeof p !== "string" || (p !== "" && !p.startsWith("/"))) {
    throw badRequest(`invalid JSON pointer "${p}"`);
  }
  return p === "" ? [] : p.slice(1).split("/").map(unescape);
}

function unprocessable(msg: string) {
  return new ApiError(
    422,
    "Invalid",
    `the server rejected our request due to an error in our request: ${msg}`,
  );
}

function getAt(doc: Json, path: string[]): Json {
  let cur = doc;
  for (const t of path) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= cur.length) {
        throw unprocessable(`path /${path.join("/")} not found`);
      }
      cur = cur[i];
    } else if (isObj(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw unprocessable(`path /${path.join("/")} not found`);
  }
  return cur;
}

function parentOf(doc: Json, path: string[]) {
  if (!path.length) throw unprocessable("cannot change the document root");
  const parent = getAt(doc, path.slice(0, -1));
  if (!isObj(parent) && !Array.isArray(parent)) {
    throw unprocessable(`parent of /${path.join("/")} is not a container`);
  }
  return { parent, last: path[path.length - 1] };
}

function addAt(doc: Json, path: string[], value: Json) {
  const { parent, last } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last);
    if (!/^\d+$/.test(last) && last !== "-" || i > parent.length) {
      throw unprocessable(`bad array index ${last}`);
    }
    parent.splice(i, 0, value);
  } else parent[last] = value;
}

function removeAt(doc: Json, path: string[]): Json {
  const { parent, last } = parentOf(doc, path);
  const old = getAt(doc, path);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return old;
}

export function applyJsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw badRequest("a JSON patch must be an array of operations");
  let out = structuredClone(doc);
  for (const op of ops) {
    if (!isObj(op)) throw badRequest("a JSON patch operation must be an object");
    const path = parsePointer(op.path);
    switch (op.op) {
      case "add":
        if (!path.length) out = structuredClone(op.value);
        else addAt(out, path, structuredClone(op.value));
        break;
      case "remove":
        removeAt(out, path);
        break;
      case "replace":
        if (!path.length) out = structuredClone(op.value);
        else {
          getAt(out, path);
          const { parent, last } = parentOf(out, path);
          (parent as Json)[Array.isArray(parent) ? Number(last) : last] = structuredClone(op.value);
        }
        break;
      case "move": {
        const v = removeAt(out, parsePointer(op.from));
        addAt(out, path, v);
        break;
      }
      case "copy":
        addAt(out, path, structuredClone(getAt(out, parsePointer(op.from))));
        break;
      case "test":
        if (!deepEqual(getAt(out, path), op.value)) {
          throw unprocessable(`testing value /${path.join("/")} failed`);
        }
        break;
      default:
        throw badRequest(`unknown JSON patch operation "${op.op}"`);
    }
  }
  return out;
}

// ---- strategic merge ----

const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);

/** The merge key of a list field (by its path of field names), "" for a primitive set merge. */
export function mergeKey(path: string[], kind: string): string | undefined {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (CONTAINER_LISTS.has(last)) return "name";
  if (CONTAINER_LISTS.has(parent ?? "")) {
    if (last === "ports") return "containerPort";
    if (last === "env") return "name";
    if (last === "volumeMounts") return "mountPath";
    if (last === "volumeDevices") return "devicePath";
    return undefined;
  }
  if (parent === "metadata" && path.length === 2) {
    if (last === "finalizers") return "";
    if (last === "ownerReferences") return "uid";
  }
  if (kind === "Service" && path.join(".") === "spec.ports") return "port";
  switch (last) {
    case "conditions":
      return "type";
    case "volumes":
    case "imagePullSecrets":
    case "resourceClaims":
      return "name";
    case "hostAliases":
    case "podIPs":
    case "hostIPs":
      return "ip";
    case "topologySpreadConstraints":
      return "topologyKey";
    case "addresses":
      return kind === "Node" ? "type" : undefined;
  }
  return undefined;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.filter((x) => !(isObj(x) && x.$patch)).map(stripDirectives);
  if (!isObj(v)) return v;
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith("$")) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function mergeList(orig: Json[], patch: Json[], key: string, path: string[], kind: string) {
  if (patch.some((x) => isObj(x) && x.$patch === "replace")) return stripDirectives(patch);
  if (key === "") {
    const out = [...orig];
    for (const x of patch) if (!out.some((o) => deepEqual(o, x))) out.push(x);
    return out;
  }
  const out = [...orig];
  for (const item of patch) {
    if (!isObj(item)) throw badRequest(`list ${path.join(".")} items must be objects`);
    const idx = out.findIndex((o) => isObj(o) && o[key] === item[key]);
    if (item.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], item, kind, path);
    else out.push(stripDirectives(item));
  }
  return out;
}

/** Applies a strategic merge patch to `orig` (a new value; inputs untouched). */
export function strategicMerge(orig: Json, patch: Json, kind: string, path: string[] = []): Json {
  if (!isObj(patch)) return patch;
  if (patch.$patch === "replace") return stripDirectives(patch);
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, Json> = isObj(orig) ? { ...orig } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) {
        out[field] = out[field].filter((x: Json) => !v.some((d) => deepEqual(d, x)));
      }
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const p = [...path, k];
    if (Array.isArray(v)) {
      const key = mergeKey(p, kind);
      out[k] = key === undefined || !Array.isArray(out[k])
        ? stripDirectives(v)
        : mergeList(out[k], v, key, p, kind);
    } else if (isObj(v)) {
      const r = strategicMerge(out[k], v, kind, p);
      if (r === undefined) delete out[k];
      else out[k] = r;
    } else out[k] = v;
  }
  return out;
}
