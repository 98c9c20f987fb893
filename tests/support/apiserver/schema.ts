/**
 * Structural-schema handling of custom resources as kube-apiserver does it: unknown fields are
 * pruned (unless x-kubernetes-preserve-unknown-fields), defaults applied, and types, required
 * fields, enums and bounds validated (422 with one cause per violation).
 */
import type { FieldCause } from "./errors.ts";

// deno-lint-ignore no-explicit-any
type Schema = Record<string, any>;

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function fits(v: unknown, type: string): boolean {
  const t = typeOf(v);
  return t === type || (type === "number" && t === "integer");
}

function q(v: unknown) {
  return JSON.stringify(v);
}

/** Returns the pruned and defaulted value (undefined = drop it), pushing violations to causes. */
export function applySchema(v: unknown, s: Schema, path: string, causes: FieldCause[]): unknown {
  if (!s || typeof s !== "object") return v;
  if (v === null) return s.nullable ? null : undefined;
  const bad = (message: string, reason = "FieldValueInvalid") =>
    causes.push({ field: path, message, reason });
  if (s["x-kubernetes-int-or-string"]) {
    if (!fits(v, "integer") && typeof v !== "string") {
      bad(`Invalid value: ${q(typeOf(v))}: ${path} in body must be of type integer-or-string`);
    }
    return v;
  }
  if (s.type && !fits(v, s.type)) {
    bad(
      `Invalid value: ${q(typeOf(v))}: ${path} in body must be of type ${s.type}: ${q(typeOf(v))}`,
      "FieldValueTypeInvalid",
    );
    return v;
  }
  if (
    Array.isArray(s.enum) && !s.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v))
  ) {
    bad(
      `Unsupported value: ${q(v)}: supported values: ${s.enum.map(q).join(", ")}`,
      "FieldValueNotSupported",
    );
  }
  if (typeof v === "string") {
    if (s.maxLength !== undefined && v.length > s.maxLength) {
      bad(`Too long: may not be more than ${s.maxLength} bytes`, "FieldValueTooLong");
    }
    if (s.minLength !== undefined && v.length < s.minLength) {
      bad(`Invalid value: ${q(v)}: ${path} in body should be at least ${s.minLength} chars long`);
    }
    if (s.pattern && !new RegExp(s.pattern, "u").test(v)) {
      bad(`Invalid value: ${q(v)}: ${path} in body should match '${s.pattern}'`);
    }
    return v;
  }
  if (typeof v === "number") {
    if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) {
      bad(`Invalid value: ${v}: ${path} in body should be greater than or equal to ${s.minimum}`);
    }
    if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) {
      bad(`Invalid value: ${v}: ${path} in body should be less than or equal to ${s.maximum}`);
    }
    return v;
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems) {
      bad(`Too many: ${v.length}: must have at most ${s.maxItems} items`, "FieldValueTooMany");
    }
    if (s.minItems !== undefined && v.length < s.minItems) {
      bad(`Invalid value: ${v.length}: ${path} in body should have at least ${s.minItems} items`);
    }
    if (!s.items) return v;
    return v.map((x, i) => applySchema(x, s.items, `${path}[${i}]`, causes) ?? null);
  }
  if (typeof v === "object") {
    const props: Record<string, Schema> = s.properties ?? {};
    const addl = s.additionalProperties;
    const keepUnknown = s["x-kubernetes-preserve-unknown-fields"] === true || addl === true;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const sub = `${path ? `${path}.` : ""}${k}`;
      if (props[k]) {
        const r = applySchema(x, props[k], sub, causes);
        if (r !== undefined) out[k] = r;
      } else if (addl && typeof addl === "object") {
        const r = applySchema(x, addl, sub, causes);
        if (r !== undefined) out[k] = r;
      } else if (keepUnknown) out[k] = x;
      // else: pruned, as the real server silently drops unknown fields
    }
    for (const [k, ps] of Object.entries(props)) {
      if (out[k] === undefined && ps.default !== undefined) out[k] = structuredClone(ps.default);
    }
    for (const r of s.required ?? []) {
      if (out[r] === undefined) {
        causes.push({
          field: `${path ? `${path}.` : ""}${r}`,
          message: "Required value",
          reason: "FieldValueRequired",
        });
      }
    }
    return out;
  }
  return v;
}

/** Applies a CRD version's openAPIV3Schema to a whole object (apiVersion/kind/metadata kept). */
export function applyRootSchema(obj: Record<string, unknown>, schema: Schema | undefined) {
  const causes: FieldCause[] = [];
  if (!schema) return { obj, causes };
  const { apiVersion, kind, metadata, ...rest } = obj;
  const root: Schema = { ...schema, properties: { ...(schema.properties ?? {}) } };
  for (const k of ["apiVersion", "kind", "metadata"]) delete root.properties[k];
  if (root.required) root.required = root.required.filter((r: string) => r !== "metadata");
  const pruned = applySchema(rest, root, "", causes) as Record<string, unknown>;
  return { obj: { apiVersion, kind, metadata, ...pruned }, causes };
}
