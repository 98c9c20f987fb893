/** The resources the test server serves: built-in types plus those CRDs define. */

export interface ResourceDef {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  /** Has a `status` subresource: main writes keep status, status writes keep the rest. */
  status: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Defined by a CRD (JSON objects; no strategic merge patch). */
  custom?: boolean;
  /** Storage key shared by all served versions of a custom resource. */
  storage: string;
  /** The CRD version's additionalPrinterColumns (custom resources). */
  printerColumns?: Array<
    { name: string; type: string; jsonPath: string; priority?: number; description?: string }
  >;
  /** The CRD version's openAPIV3Schema (custom resources). */
  // deno-lint-ignore no-explicit-any
  schema?: Record<string, any>;
}

export const VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

function def(
  group: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  status = false,
  shortNames?: string[],
): ResourceDef {
  return {
    group,
    version: "v1",
    plural,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    status,
    shortNames,
    storage: `${group}/${plural}`,
  };
}

export const BUILTIN: ResourceDef[] = [
  def("", "namespaces", "Namespace", false, true, ["ns"]),
  def("", "pods", "Pod", true, true, ["po"]),
  def("", "services", "Service", true, true, ["svc"]),
  def("", "endpoints", "Endpoints", true, false, ["ep"]),
  def("", "nodes", "Node", false, true, ["no"]),
  def("", "configmaps", "ConfigMap", true, false, ["cm"]),
  def("", "secrets", "Secret", true),
  def("", "events", "Event", true, false, ["ev"]),
  def("", "persistentvolumeclaims", "PersistentVolumeClaim", true, true, ["pvc"]),
  def("", "persistentvolumes", "PersistentVolume", false, true, ["pv"]),
  def("", "resourcequotas", "ResourceQuota", true, true, ["quota"]),
  def("", "limitranges", "LimitRange", true, false, ["limits"]),
  def("", "serviceaccounts", "ServiceAccount", true, false, ["sa"]),
  def("discovery.k8s.io", "endpointslices", "EndpointSlice", true),
  def("storage.k8s.io", "storageclasses", "StorageClass", false, false, ["sc"]),
  def("storage.k8s.io", "volumeattachments", "VolumeAttachment", false, true),
  def("storage.k8s.io", "csidrivers", "CSIDriver", false),
  def("storage.k8s.io", "csinodes", "CSINode", false),
  def("networking.k8s.io", "networkpolicies", "NetworkPolicy", true, false, ["netpol"]),
  def("rbac.authorization.k8s.io", "roles", "Role", true),
  def("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", true),
  def("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", false),
  def("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", false),
  def("coordination.k8s.io", "leases", "Lease", true),
  def(
    "apiextensions.k8s.io",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    false,
    true,
    [
      "crd",
      "crds",
    ],
  ),
];

/** Resource definitions by `group/version/plural`, changing as CRDs come and go. */
export class Registry {
  private readonly defs = new Map<string, ResourceDef>();
  private readonly byCrd = new Map<string, ResourceDef[]>();

  constructor() {
    for (const d of BUILTIN) this.defs.set(`${d.group}/${d.version}/${d.plural}`, d);
  }

  find(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.defs.get(`${group}/${version}/${plural}`);
  }

  all(): ResourceDef[] {
    return [...this.defs.values()];
  }

  /** group → versions served (in CRD order; built-ins serve v1). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const d of this.defs.values()) {
      const vs = out.get(d.group) ?? [];
      if (!vs.includes(d.version)) vs.push(d.version);
      out.set(d.group, vs);
    }
    return out;
  }

  byGroupVersion(group: string, version: string): ResourceDef[] {
    return this.all().filter((d) => d.group === group && d.version === version);
  }

  /** Serves the versions of a CRD (replacing what it served before). */
  // deno-lint-ignore no-explicit-any
  registerCrd(crd: any): ResourceDef[] {
    this.unregisterCrd(crd.metadata.name);
    const spec = crd.spec;
    const defs: ResourceDef[] = [];
    for (const v of spec.versions ?? []) {
      if (v.served === false) continue;
      const d: ResourceDef = {
        group: spec.group,
        version: v.name,
        plural: spec.names.plural,
        singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        kind: spec.names.kind,
        namespaced: spec.scope !== "Cluster",
        status: !!v.subresources?.status,
        shortNames: spec.names.shortNames,
        categories: spec.names.categories,
        custom: true,
        storage: `${spec.group}/${spec.names.plural}`,
        schema: v.schema?.openAPIV3Schema,
        printerColumns: v.additionalPrinterColumns,
      };
      this.defs.set(`${d.group}/${d.version}/${d.plural}`, d);
      defs.push(d);
    }
    this.byCrd.set(crd.metadata.name, defs);
    return defs;
  }

  unregisterCrd(name: string): ResourceDef[] {
    const defs = this.byCrd.get(name) ?? [];
    for (const d of defs) this.defs.delete(`${d.group}/${d.version}/${d.plural}`);
    this.byCrd.delete(name);
    return defs;
  }
}
