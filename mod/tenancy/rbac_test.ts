import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type BindingLike, RbacEvaluator, type RoleLike, ruleAllows } from "./rbac.ts";

const alice = { username: "alice", groups: ["devs", "system:authenticated"] };

Deno.test("rule: verbs, groups, resources and wildcards", () => {
  const rule = { verbs: ["get", "list"], apiGroups: ["apps"], resources: ["deployments"] };
  const req = { verb: "get", apiGroup: "apps", resource: "deployments", namespace: "a" };
  assertEquals(ruleAllows(rule, req), true);
  assertEquals(ruleAllows(rule, { ...req, verb: "delete" }), false);
  assertEquals(ruleAllows(rule, { ...req, apiGroup: "" }), false);
  assertEquals(ruleAllows(rule, { ...req, resource: "pods" }), false);
  assertEquals(ruleAllows({ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }, req), true);
});

Deno.test("rule: subresources need their own grant unless resources is *", () => {
  const pods = { verbs: ["get"], apiGroups: [""], resources: ["pods"] };
  const log = { verb: "get", apiGroup: "", resource: "pods", subresource: "log", namespace: "a" };
  assertEquals(ruleAllows(pods, log), false);
  assertEquals(ruleAllows({ ...pods, resources: ["pods/log"] }, log), true);
  assertEquals(ruleAllows({ ...pods, resources: ["*/log"] }, log), true);
  assertEquals(ruleAllows({ ...pods, resources: ["*"] }, log), true);
  assertEquals(
    ruleAllows({ ...pods, resources: ["pods/log"] }, { ...log, subresource: undefined }),
    false,
  );
});

Deno.test("rule: resourceNames restrict to named objects; lists carry no name", () => {
  const rule = {
    verbs: ["get", "list"],
    apiGroups: [""],
    resources: ["configmaps"],
    resourceNames: ["cfg"],
  };
  const base = { apiGroup: "", resource: "configmaps", namespace: "a" };
  assertEquals(ruleAllows(rule, { ...base, verb: "get", name: "cfg" }), true);
  assertEquals(ruleAllows(rule, { ...base, verb: "get", name: "other" }), false);
  assertEquals(ruleAllows(rule, { ...base, verb: "list" }), false);
});

Deno.test("rule: non-resource URLs with a trailing * prefix", () => {
  const rule = { verbs: ["get"], nonResourceURLs: ["/healthz", "/apis/*"] };
  assertEquals(ruleAllows(rule, { verb: "get", path: "/healthz" }), true);
  assertEquals(ruleAllows(rule, { verb: "get", path: "/apis/apps/v1" }), true);
  assertEquals(ruleAllows(rule, { verb: "get", path: "/metrics" }), false);
  assertEquals(ruleAllows(rule, { verb: "post", path: "/healthz" }), false);
});

const roles: RoleLike[] = [
  {
    kind: "Role",
    metadata: { name: "reader", namespace: "a" },
    rules: [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }],
  },
  {
    kind: "ClusterRole",
    metadata: { name: "nodes" },
    rules: [{ verbs: ["list"], apiGroups: [""], resources: ["nodes", "pods"] }],
  },
  {
    kind: "Role",
    metadata: { name: "reader", namespace: "b" },
    rules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }],
  },
];

Deno.test("bindings: RoleBinding grants only in its namespace, Group and User subjects", () => {
  const bindings: BindingLike[] = [{
    kind: "RoleBinding",
    metadata: { name: "r", namespace: "a" },
    subjects: [{ kind: "Group", name: "devs" }],
    roleRef: { kind: "Role", name: "reader" },
  }];
  const rbac = new RbacEvaluator(roles, bindings);
  const get = { verb: "get", apiGroup: "", resource: "pods" };
  assertEquals(rbac.allows(alice, { ...get, namespace: "a" }), true);
  // The binding in namespace a names Role a/reader, not b/reader (which allows everything).
  assertEquals(rbac.allows(alice, { ...get, namespace: "b" }), false);
  assertEquals(rbac.allows(alice, { ...get }), false);
  assertEquals(rbac.allows({ username: "bob", groups: [] }, { ...get, namespace: "a" }), false);
});

Deno.test("bindings: ClusterRole via RoleBinding is namespaced; via ClusterRoleBinding is global", () => {
  const viaRb = new RbacEvaluator(roles, [{
    kind: "RoleBinding",
    metadata: { name: "n", namespace: "a" },
    subjects: [{ kind: "User", name: "alice" }],
    roleRef: { kind: "ClusterRole", name: "nodes" },
  }]);
  const list = { verb: "list", apiGroup: "", resource: "pods" };
  assertEquals(viaRb.allows(alice, { ...list, namespace: "a" }), true);
  assertEquals(viaRb.allows(alice, { ...list, namespace: "c" }), false);
  assertEquals(viaRb.allows(alice, { verb: "list", apiGroup: "", resource: "nodes" }), false);
  const viaCrb = new RbacEvaluator(roles, [{
    kind: "ClusterRoleBinding",
    metadata: { name: "n" },
    subjects: [{ kind: "User", name: "alice" }],
    roleRef: { kind: "ClusterRole", name: "nodes" },
  }]);
  assertEquals(viaCrb.allows(alice, { verb: "list", apiGroup: "", resource: "nodes" }), true);
  assertEquals(viaCrb.allows(alice, { ...list, namespace: "c" }), true);
});

Deno.test("bindings: ServiceAccount subjects and a ClusterRoleBinding to a Role grants nothing", () => {
  const rbac = new RbacEvaluator(roles, [
    {
      kind: "RoleBinding",
      metadata: { name: "sa", namespace: "a" },
      subjects: [{ kind: "ServiceAccount", name: "builder" }],
      roleRef: { kind: "Role", name: "reader" },
    },
    {
      kind: "ClusterRoleBinding",
      metadata: { name: "bad" },
      subjects: [{ kind: "User", name: "alice" }],
      roleRef: { kind: "Role", name: "reader" },
    },
  ]);
  const get = { verb: "get", apiGroup: "", resource: "pods", namespace: "a" };
  assertEquals(rbac.allows({ username: "system:serviceaccount:a:builder", groups: [] }, get), true);
  assertEquals(
    rbac.allows({ username: "system:serviceaccount:b:builder", groups: [] }, get),
    false,
  );
  assertEquals(rbac.allows(alice, get), false);
});
