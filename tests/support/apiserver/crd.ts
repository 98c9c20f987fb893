/** CustomResourceDefinition validation and the status the apiextensions controllers set. */
import type { FieldCause } from "./errors.ts";
import type { Obj } from "./store.ts";
import { nowTime } from "./validation.ts";

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function crdCauses(crd: Obj): FieldCause[] {
  const causes: FieldCause[] = [];
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  const req = (field: string) =>
    causes.push({ field, message: "Required value", reason: "FieldValueRequired" });
  if (!spec.group) req("spec.group");
  else if (!DNS_SUBDOMAIN.test(spec.group) || !spec.group.includes(".")) {
    causes.push({
      field: "spec.group",
      message: `Invalid value: "${spec.group}": should be a domain with at least one dot`,
    });
  }
  if (!names.plural) req("spec.names.plural");
  else if (!DNS_LABEL.test(names.plural)) {
    causes.push({
      field: "spec.names.plural",
      message: `Invalid value: "${names.plural}": a lowercase RFC 1123 label`,
    });
  }
  if (!names.kind) req("spec.names.kind");
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    causes.push({
      field: "spec.scope",
      message: `Unsupported value: "${spec.scope}": supported values: "Cluster", "Namespaced"`,
      reason: "FieldValueNotSupported",
    });
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (!versions.length) req("spec.versions");
  if (versions.filter((v: Obj["spec"]) => v?.storage === true).length !== 1) {
    causes.push({
      field: "spec.versions",
      message: "Invalid value: must have exactly one version marked as storage version",
    });
  }
  for (const [i, v] of versions.entries()) {
    if (!v?.name) req(`spec.versions[${i}].name`);
    if (!v?.schema?.openAPIV3Schema) req(`spec.versions[${i}].schema.openAPIV3Schema`);
  }
  if (spec.group && names.plural && crd.metadata.name !== `${names.plural}.${spec.group}`) {
    causes.push({
      field: "metadata.name",
      message: `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group`,
    });
  }
  return causes;
}

export function crdStatus(crd: Obj): Obj["status"] {
  const names = crd.spec.names;
  const now = nowTime();
  const prev = crd.status?.conditions ?? [];
  const since = (type: string) =>
    prev.find((c: Obj["status"]) => c.type === type)?.lastTransitionTime ?? now;
  const storage = crd.spec.versions.find((v: Obj["spec"]) => v.storage).name;
  const stored = new Set<string>(crd.status?.storedVersions ?? []);
  stored.add(storage);
  return {
    conditions: [
      {
        type: "NamesAccepted",
        status: "True",
        lastTransitionTime: since("NamesAccepted"),
        reason: "NoConflicts",
        message: "no conflicts found",
      },
      {
        type: "Established",
        status: "True",
        lastTransitionTime: since("Established"),
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
      },
    ],
    acceptedNames: {
      plural: names.plural,
      singular: names.singular ?? names.kind.toLowerCase(),
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      ...(names.shortNames ? { shortNames: names.shortNames } : {}),
      ...(names.categories ? { categories: names.categories } : {}),
    },
    storedVersions: [...stored],
  };
}
