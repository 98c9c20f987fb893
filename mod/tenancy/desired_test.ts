import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  desiredClusterObjects,
  desiredForProject,
  drifted,
  MANAGED_BY,
  MANAGER,
} from "./desired.ts";
import { groupNames } from "./groups.ts";
import { type Project, validateProject } from "./project.ts";
import { type BindingLike, RbacEvaluator, type RoleLike } from "./rbac.ts";

function project(orgId: string, projectId: string, extra: Partial<Project["spec"]> = {}): Project {
  return {
    apiVersion: "plasmacloud.io/v1",
    kind: "Project",
    metadata: { name: projectId },
    spec: { orgId, projectId, ...extra },
  };
}

const settings = { defaultNetworkPolicies: true, dnsAddress: "10.96.0.10" };

Deno.test("namespace carries the spec's labels, annotations and Pod Security levels", () => {
  const [ns] = desiredForProject(
    project("org-123", "proj-456", { displayName: "my-web-app", createdBy: "u@x" }),
    settings,
  );
  assertEquals(ns.kind, "Namespace");
  assertEquals(ns.metadata.name, "project-proj-456");
  const l = ns.metadata.labels!;
  assertEquals(l["plasmacloud.io/org-id"], "org-123");
  assertEquals(l["plasmacloud.io/project-id"], "proj-456");
  assertEquals(l["plasmacloud.io/tenant-type"], "project");
  assertEquals(l["pod-security.kubernetes.io/enforce"], "baseline");
  assertEquals(l["pod-security.kubernetes.io/warn"], "restricted");
  assertEquals(l["pod-security.kubernetes.io/audit"], "restricted");
  assertEquals(l[MANAGED_BY], MANAGER);
  assertEquals(ns.metadata.annotations, {
    "plasmacloud.io/project-name": "my-web-app",
    "plasmacloud.io/created-by": "u@x",
  });
});

Deno.test("every namespaced object lives in the project namespace and is labelled ours", () => {
  const objs = desiredForProject(project("o", "p"), settings);
  const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`);
  assertEquals(kinds, [
    "Namespace/project-p",
    "Role/org-admin",
    "Role/project-admin",
    "Role/project-viewer",
    "RoleBinding/org-admin-binding",
    "RoleBinding/project-admin-binding",
    "RoleBinding/project-viewer-binding",
    "ResourceQuota/project-compute-quota",
    "ResourceQuota/project-storage-quota",
    "ResourceQuota/project-object-quota",
    "LimitRange/project-limits",
    "NetworkPolicy/default-deny-all",
  ]);
  for (const o of objs.slice(1)) {
    assertEquals(o.metadata.namespace, "project-p");
    assertEquals(o.metadata.labels?.[MANAGED_BY], MANAGER);
    assertEquals(o.metadata.labels?.["plasmacloud.io/project"], "p");
  }
});

Deno.test("quotas: spec defaults, overrides, and the LoadBalancer count", () => {
  const objs = desiredForProject(
    project("o", "p", { quota: { pods: 7, requestsCpu: "2" } }),
    settings,
  );
  const hard = (n: string) => objs.find((o) => o.metadata.name === n)!.spec.hard;
  assertEquals(hard("project-compute-quota")["requests.cpu"], "2");
  assertEquals(hard("project-compute-quota")["limits.memory"], "40Gi");
  assertEquals(hard("project-storage-quota"), {
    persistentvolumeclaims: "10",
    "requests.storage": "100Gi",
  });
  assertEquals(hard("project-object-quota").pods, "7");
  assertEquals(hard("project-object-quota")["services.loadbalancers"], "5");
});

Deno.test("network policies: deny all but DNS; optional allowances; can be turned off", () => {
  const deny = desiredForProject(project("o", "p"), settings).find((o) =>
    o.kind === "NetworkPolicy"
  )!;
  assertEquals(deny.spec.policyTypes, ["Ingress", "Egress"]);
  assertEquals(deny.spec.podSelector, {});
  assertEquals(deny.spec.ingress, undefined);
  assertEquals(deny.spec.egress[0].ports, [{ protocol: "UDP", port: 53 }, {
    protocol: "TCP",
    port: 53,
  }]);
  assertEquals(deny.spec.egress[0].to[1], { ipBlock: { cidr: "10.96.0.10/32" } });
  const more = desiredForProject(
    project("o", "p", { policy: { allowSameOrg: true, allowIngressPorts: [8080] } }),
    settings,
  )
    .filter((o) => o.kind === "NetworkPolicy").map((o) => o.metadata.name);
  assertEquals(more, ["default-deny-all", "allow-same-org", "allow-loadbalancer"]);
  const off = desiredForProject(project("o", "p", { policy: { defaultDeny: false } }), settings);
  assertEquals(off.some((o) => o.kind === "NetworkPolicy"), false);
  const offGlobally = desiredForProject(project("o", "p"), { defaultNetworkPolicies: false });
  assertEquals(offGlobally.some((o) => o.kind === "NetworkPolicy"), false);
});

Deno.test("validation names each bad field", () => {
  assertEquals(validateProject(project("o", "p")), []);
  const bad = validateProject({
    ...project("", "Bad_ID"),
    spec: {
      orgId: "",
      projectId: "Bad_ID",
      quota: { pods: -1, requestsCpu: "lots" },
      policy: { podSecurity: "loose" as never, allowIngressPorts: [70000] },
    },
  });
  assertEquals(bad, [
    "spec.orgId: required",
    'spec.projectId: "Bad_ID" does not make a valid namespace name project-Bad_ID',
    "spec.quota.pods: -1 must be a whole number >= 0",
    'spec.quota.requestsCpu: "lots" is not a quantity',
    'spec.policy.podSecurity: "loose" must be privileged, baseline or restricted',
    "spec.policy.allowIngressPorts: 70000 is not a port",
  ]);
});

Deno.test("drift: changed rules or labels are drift; server-added fields are not", () => {
  const role = desiredForProject(project("o", "p"), settings)[2];
  const actual = structuredClone(role);
  actual.metadata.labels!["extra"] = "x";
  actual.metadata.resourceVersion = "5";
  assertEquals(drifted(role, actual), false);
  actual.rules[0].verbs = ["get"];
  assertEquals(drifted(role, actual), true);
  const relabelled = structuredClone(role);
  delete relabelled.metadata.labels![MANAGED_BY];
  assertEquals(drifted(role, relabelled), true);
});

// The authorization table: what the generated RBAC allows whom, evaluated by the RBAC rules.
const projects = [project("org-a", "p1"), project("org-a", "p2"), project("org-b", "p3")];
const objects = [
  ...projects.flatMap((p) => desiredForProject(p, settings)),
  ...desiredClusterObjects(),
];
const rbac = new RbacEvaluator(
  objects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole") as unknown as RoleLike[],
  objects.filter((o) => o.kind?.endsWith("Binding")) as unknown as BindingLike[],
);
const auth = ["system:authenticated"];
const users = {
  orgAdminA: {
    username: "admin@a",
    groups: [
      groupNames.org("org-a"),
      groupNames.orgAdmin("org-a"),
      groupNames.anyOrgAdmin,
      ...auth,
    ],
  },
  p1Admin: {
    username: "pa@a",
    groups: [
      groupNames.org("org-a"),
      groupNames.project("p1"),
      groupNames.projectRole("p1", "admin"),
      ...auth,
    ],
  },
  p1Viewer: {
    username: "pv@a",
    groups: [
      groupNames.org("org-a"),
      groupNames.project("p1"),
      groupNames.projectRole("p1", "viewer"),
      ...auth,
    ],
  },
  p2Member: {
    username: "m@a",
    groups: [
      groupNames.org("org-a"),
      groupNames.project("p2"),
      groupNames.projectRole("p2", "member"),
      ...auth,
    ],
  },
  platform: { username: "ops", groups: [groupNames.platformAdmins, ...auth] },
};
type U = keyof typeof users;
const table: Array<[U, string, string, string, string | undefined, boolean]> = [
  // user, verb, apiGroup, resource[/sub], namespace, allowed
  ["orgAdminA", "delete", "", "secrets", "project-p1", true],
  ["orgAdminA", "create", "rbac.authorization.k8s.io", "rolebindings", "project-p2", true],
  ["orgAdminA", "get", "", "pods", "project-p3", false],
  ["orgAdminA", "list", "", "nodes", undefined, false],
  ["orgAdminA", "get", "", "pods", "kube-system", false],
  ["p1Admin", "create", "apps", "deployments", "project-p1", true],
  ["p1Admin", "delete", "", "pods", "project-p1", true],
  ["p1Admin", "create", "networking.k8s.io", "networkpolicies", "project-p1", true],
  ["p1Admin", "create", "rbac.authorization.k8s.io", "rolebindings", "project-p1", false],
  ["p1Admin", "get", "", "pods", "project-p2", false],
  ["p1Admin", "list", "", "pods", "default", false],
  ["p1Viewer", "get", "", "pods", "project-p1", true],
  ["p1Viewer", "watch", "apps", "deployments", "project-p1", true],
  ["p1Viewer", "get", "", "pods/log", "project-p1", true],
  ["p1Viewer", "create", "", "pods", "project-p1", false],
  ["p1Viewer", "delete", "", "secrets", "project-p1", false],
  ["p1Viewer", "create", "", "pods/exec", "project-p1", false],
  ["p1Viewer", "get", "", "pods", "project-p2", false],
  ["p2Member", "create", "", "services", "project-p2", true],
  ["p2Member", "get", "", "pods", "project-p1", false],
  ["p2Member", "list", "", "secrets", "project-p1", false],
  ["platform", "delete", "", "nodes", undefined, true],
  ["platform", "create", "storage.k8s.io", "storageclasses", undefined, true],
  ["platform", "get", "", "pods", "project-p1", false],
];

for (const [user, verb, apiGroup, res, namespace, allowed] of table) {
  Deno.test(`authorization: ${user} ${verb} ${apiGroup || "core"}/${res} in ${namespace ?? "(cluster)"} → ${allowed ? "allow" : "deny"}`, () => {
    const [resource, subresource] = res.split("/");
    ok(rbac.allows(users[user], { verb, apiGroup, resource, subresource, namespace }) === allowed);
  });
}
