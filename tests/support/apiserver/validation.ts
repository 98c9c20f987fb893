/** Object-level validation shared by all resources (names, labels, annotations, metadata). */
import type { FieldCause } from "./errors.ts";
import type { ResourceDef } from "./registry.ts";
import type { Obj } from "./store.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_NAMED = new Set(["namespaces"]);
const DNS1035_NAMED = new Set(["services"]);
const PATH_SEGMENT_NAMED = new Set([
  "roles",
  "rolebindings",
  "clusterroles",
  "clusterrolebindings",
]);

export function nameCauses(def: ResourceDef, name: string): FieldCause[] {
  const bad = (why: string) => [{
    field: "metadata.name",
    message: `Invalid value: "${name}": ${why}`,
  }];
  if (PATH_SEGMENT_NAMED.has(def.plural)) {
    if (name === "." || name === ".." || /[/%]/.test(name)) {
      return bad(`may not be '.' or '..' and may not contain '/' or '%'`);
    }
    return [];
  }
  if (def.plural === "customresourcedefinitions") return [];
  if (LABEL_NAMED.has(def.plural)) {
    if (!DNS1123_LABEL.test(name) || name.length > 63) {
      return bad(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " +
          "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " +
          "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      );
    }
    return [];
  }
  if (DNS1035_NAMED.has(def.plural)) {
    if (!DNS1035_LABEL.test(name) || name.length > 63) {
      return bad(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with " +
          "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or " +
          "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      );
    }
    return [];
  }
  if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
    return bad(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " +
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', " +
        "regex used for validation is " +
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  return [];
}

export function metadataCauses(obj: Obj): FieldCause[] {
  const causes: FieldCause[] = [];
  const m = obj.metadata;
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    if (!QUALIFIED_NAME.test(k) || k.split("/").pop()!.length > 63) {
      causes.push({
        field: "metadata.labels",
        message: `Invalid value: "${k}": name part must be a valid qualified name`,
      });
    }
    if (typeof v !== "string" || !LABEL_VALUE.test(v) || v.length > 63) {
      causes.push({
        field: "metadata.labels",
        message:
          `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
  }
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    if (!QUALIFIED_NAME.test(k)) {
      causes.push({
        field: "metadata.annotations",
        message: `Invalid value: "${k}": name part must be a valid qualified name`,
      });
    }
    if (typeof v !== "string") {
      causes.push({
        field: `metadata.annotations`,
        message: `Invalid value: annotation values must be strings`,
      });
    }
  }
  for (const f of m.finalizers ?? []) {
    if (typeof f !== "string" || !QUALIFIED_NAME.test(f)) {
      causes.push({
        field: "metadata.finalizers",
        message: `Invalid value: "${f}": name part must be a valid qualified name`,
      });
    }
  }
  for (const [i, r] of (m.ownerReferences ?? []).entries()) {
    for (const f of ["apiVersion", "kind", "name", "uid"] as const) {
      if (!r || typeof r[f] !== "string" || !r[f]) {
        causes.push({
          field: `metadata.ownerReferences[${i}].${f}`,
          message: "Required value",
          reason: "FieldValueRequired",
        });
      }
    }
  }
  return causes;
}

/** RFC 3339 UTC with seconds precision, as metav1.Time serialises. */
export function nowTime(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

const GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
export function generateSuffix(): string {
  let s = "";
  for (let i = 0; i < 5; i++) s += GEN_ALPHABET[Math.floor(Math.random() * GEN_ALPHABET.length)];
  return s;
}
