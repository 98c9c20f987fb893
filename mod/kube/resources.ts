import type { KubeObject, ResourceRef } from "./api.ts";

function ref(group: string, version: string, plural: string, kind: string, namespaced: boolean) {
  return Object.freeze({ group, version, plural, kind, namespaced }) satisfies ResourceRef;
}

/** The resources controllers use, by the name they are known under in code. */
export const RESOURCES = Object.freeze({
  namespaces: ref("", "v1", "namespaces", "Namespace", false),
  pods: ref("", "v1", "pods", "Pod", true),
  services: ref("", "v1", "services", "Service", true),
  endpoints: ref("", "v1", "endpoints", "Endpoints", true),
  nodes: ref("", "v1", "nodes", "Node", false),
  configMaps: ref("", "v1", "configmaps", "ConfigMap", true),
  secrets: ref("", "v1", "secrets", "Secret", true),
  events: ref("", "v1", "events", "Event", true),
  persistentVolumeClaims: ref("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true),
  persistentVolumes: ref("", "v1", "persistentvolumes", "PersistentVolume", false),
  resourceQuotas: ref("", "v1", "resourcequotas", "ResourceQuota", true),
  limitRanges: ref("", "v1", "limitranges", "LimitRange", true),
  serviceAccounts: ref("", "v1", "serviceaccounts", "ServiceAccount", true),
  endpointSlices: ref("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true),
  storageClasses: ref("storage.k8s.io", "v1", "storageclasses", "StorageClass", false),
  volumeAttachments: ref("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", false),
  csiDrivers: ref("storage.k8s.io", "v1", "csidrivers", "CSIDriver", false),
  csiNodes: ref("storage.k8s.io", "v1", "csinodes", "CSINode", false),
  networkPolicies: ref("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true),
  roles: ref("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
  roleBindings: ref("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
  clusterRoles: ref("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  clusterRoleBindings: ref(
    "rbac.authorization.k8s.io",
    "v1",
    "clusterrolebindings",
    "ClusterRoleBinding",
    false,
  ),
  leases: ref("coordination.k8s.io", "v1", "leases", "Lease", true),
  customResourceDefinitions: ref(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    false,
  ),
});

/** A ref for a resource not in RESOURCES, e.g. a custom resource. */
export function resourceRef(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced: boolean,
): ResourceRef {
  return ref(group, version, plural, kind, namespaced);
}

/** `group/version`, or `version` for the core group. */
export function apiVersionOf(r: ResourceRef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The REST path of a collection, an object, or an object's subresource. */
export function resourcePath(
  r: ResourceRef,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name !== undefined) {
    if (name === "") throw new Error(`empty ${r.kind} name`);
    p += `/${encodeURIComponent(name)}`;
  }
  if (subresource) p += `/${subresource}`;
  return p;
}

/** The informer/queue key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(obj: KubeObject | { metadata?: { name?: string; namespace?: string } }) {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : `${m.name ?? ""}`;
}

/** Splits a key made by objectKey into namespace (maybe undefined) and name. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
