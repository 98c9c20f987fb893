/**
 * The pure core of tenancy: a Project → the namespaced objects that make it a tenant
 * (namespace, RBAC, quotas, limits, network policies), all labelled as ours.
 */
import type { KubeObject } from "../kube/api.ts";
import { groupNames } from "./groups.ts";
import { namespaceFor, type Project } from "./project.ts";

export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGER = "k8shost-tenancy";
export const PROJECT_LABEL = "plasmacloud.io/project";

export interface TenancySettings {
  /** IP of the cluster DNS server, allowed as an egress target on port 53 (ipBlock). */
  dnsAddress?: string;
  defaultNetworkPolicies: boolean;
}

export const DEFAULT_QUOTA = {
  requestsCpu: "10",
  requestsMemory: "20Gi",
  limitsCpu: "20",
  limitsMemory: "40Gi",
  persistentVolumeClaims: 10,
  requestsStorage: "100Gi",
  pods: 50,
  services: 20,
  servicesLoadBalancers: 5,
  configmaps: 50,
  secrets: 50,
};

export const DEFAULT_LIMITS = {
  defaultCpu: "500m",
  defaultMemory: "512Mi",
  defaultRequestCpu: "100m",
  defaultRequestMemory: "128Mi",
};

const rbac = "rbac.authorization.k8s.io";

function meta(p: Project, name: string, namespace?: string, extra: Record<string, string> = {}) {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    labels: { [MANAGED_BY]: MANAGER, [PROJECT_LABEL]: p.spec.projectId, ...extra },
  };
}

function group(name: string) {
  return { kind: "Group", name, apiGroup: rbac };
}

/** Every object a Project wants, namespace first. */
export function desiredForProject(p: Project, settings: TenancySettings): KubeObject[] {
  const { orgId, projectId } = p.spec;
  const ns = namespaceFor(projectId);
  const level = p.spec.policy?.podSecurity ?? "baseline";
  const q = { ...DEFAULT_QUOTA, ...p.spec.quota };
  const l = { ...DEFAULT_LIMITS, ...p.spec.limits };
  const out: KubeObject[] = [{
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      ...meta(p, ns, undefined, {
        "plasmacloud.io/org-id": orgId,
        "plasmacloud.io/project-id": projectId,
        "plasmacloud.io/tenant-type": "project",
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
      }),
      annotations: {
        "plasmacloud.io/project-name": p.spec.displayName ?? projectId,
        ...(p.spec.createdBy ? { "plasmacloud.io/created-by": p.spec.createdBy } : {}),
      },
    },
  }];

  out.push(
    role(p, ns, "org-admin", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]),
    role(p, ns, "project-admin", [{
      apiGroups: ["", "apps", "batch", "networking.k8s.io", "storage.k8s.io"],
      resources: ["*"],
      verbs: ["*"],
    }]),
    role(p, ns, "project-viewer", [
      {
        apiGroups: ["", "apps", "batch", "networking.k8s.io"],
        resources: ["pods", "services", "deployments", "replicasets", "configmaps", "secrets"],
        verbs: ["get", "list", "watch"],
      },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get", "list"] },
    ]),
    binding(p, ns, "org-admin", [groupNames.orgAdmin(orgId)]),
    binding(p, ns, "project-admin", [
      groupNames.projectRole(projectId, "admin"),
      groupNames.projectRole(projectId, "member"),
    ]),
    binding(p, ns, "project-viewer", [groupNames.projectRole(projectId, "viewer")]),
  );

  out.push(
    quota(p, ns, "project-compute-quota", {
      "requests.cpu": q.requestsCpu,
      "requests.memory": q.requestsMemory,
      "limits.cpu": q.limitsCpu,
      "limits.memory": q.limitsMemory,
    }),
    quota(p, ns, "project-storage-quota", {
      persistentvolumeclaims: String(q.persistentVolumeClaims),
      "requests.storage": q.requestsStorage,
    }),
    quota(p, ns, "project-object-quota", {
      pods: String(q.pods),
      services: String(q.services),
      "services.loadbalancers": String(q.servicesLoadBalancers),
      configmaps: String(q.configmaps),
      secrets: String(q.secrets),
    }),
    {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: meta(p, "project-limits", ns),
      spec: {
        limits: [{
          type: "Container",
          default: { cpu: l.defaultCpu, memory: l.defaultMemory },
          defaultRequest: { cpu: l.defaultRequestCpu, memory: l.defaultRequestMemory },
        }],
      },
    },
  );

  if (settings.defaultNetworkPolicies && p.spec.policy?.defaultDeny !== false) {
    out.push(...networkPolicies(p, ns, settings));
  }
  return out;
}

function role(p: Project, ns: string, name: string, rules: unknown[]): KubeObject {
  return { apiVersion: `${rbac}/v1`, kind: "Role", metadata: meta(p, name, ns), rules };
}

function binding(p: Project, ns: string, roleName: string, groups: string[]): KubeObject {
  return {
    apiVersion: `${rbac}/v1`,
    kind: "RoleBinding",
    metadata: meta(p, `${roleName}-binding`, ns),
    subjects: groups.map(group),
    roleRef: { kind: "Role", name: roleName, apiGroup: rbac },
  };
}

function quota(p: Project, ns: string, name: string, hard: Record<string, string>): KubeObject {
  return { apiVersion: "v1", kind: "ResourceQuota", metadata: meta(p, name, ns), spec: { hard } };
}

function networkPolicies(p: Project, ns: string, settings: TenancySettings): KubeObject[] {
  const api = "networking.k8s.io/v1";
  const dnsPorts = [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }];
  const dnsPeers: unknown[] = [{
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
  }];
  if (settings.dnsAddress) {
    const bits = settings.dnsAddress.includes(":") ? 128 : 32;
    dnsPeers.push({ ipBlock: { cidr: `${settings.dnsAddress}/${bits}` } });
  }
  const out: KubeObject[] = [{
    apiVersion: api,
    kind: "NetworkPolicy",
    metadata: meta(p, "default-deny-all", ns),
    spec: {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      egress: [{ to: dnsPeers, ports: dnsPorts }],
    },
  }];
  if (p.spec.policy?.allowSameOrg) {
    const peer = {
      namespaceSelector: { matchLabels: { "plasmacloud.io/org-id": p.spec.orgId } },
    };
    out.push({
      apiVersion: api,
      kind: "NetworkPolicy",
      metadata: meta(p, "allow-same-org", ns),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [peer] }],
        egress: [{ to: [peer] }],
      },
    });
  }
  const ports = p.spec.policy?.allowIngressPorts ?? [];
  if (ports.length > 0) {
    out.push({
      apiVersion: api,
      kind: "NetworkPolicy",
      metadata: meta(p, "allow-loadbalancer", ns),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{
          from: [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }],
          ports: ports.map((port) => ({ protocol: "TCP", port })),
        }],
      },
    });
  }
  return out;
}

/** Cluster-scoped objects created once, whatever the Projects. */
export function desiredClusterObjects(): KubeObject[] {
  const labels = { [MANAGED_BY]: MANAGER };
  return [
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRole",
      metadata: { name: "plasmacloud-cluster-admin", labels },
      rules: [
        { apiGroups: [""], resources: ["nodes", "persistentvolumes"], verbs: ["*"] },
        { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["*"] },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: "plasmacloud-cluster-admin-binding", labels },
      subjects: [group(groupNames.platformAdmins)],
      roleRef: { kind: "ClusterRole", name: "plasmacloud-cluster-admin", apiGroup: rbac },
    },
  ];
}

/**
 * Whether `actual` has drifted from `desired` in the fields we own (labels/annotations we set,
 * rules, subjects, roleRef, spec). Fields others add (extra labels, status) are not drift.
 */
export function drifted(desired: KubeObject, actual: KubeObject): boolean {
  for (const [k, v] of Object.entries(desired.metadata.labels ?? {})) {
    if (actual.metadata.labels?.[k] !== v) return true;
  }
  for (const [k, v] of Object.entries(desired.metadata.annotations ?? {})) {
    if (actual.metadata.annotations?.[k] !== v) return true;
  }
  for (const field of ["rules", "subjects", "roleRef", "spec"]) {
    if (field in desired && !subsetOf(desired[field], actual[field])) return true;
  }
  return false;
}

/** `want` is contained in `have`: server-side defaults added to `have` are not drift. */
export function subsetOf(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length &&
      want.every((w, i) => subsetOf(w, have[i]));
  }
  if (want && typeof want === "object") {
    if (!have || typeof have !== "object" || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) =>
      subsetOf(v, (have as Record<string, unknown>)[k])
    );
  }
  return want === have;
}
