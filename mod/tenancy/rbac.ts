/**
 * An RBAC evaluator written to the Kubernetes RBAC rules (rbac.authorization.k8s.io/v1): used
 * to prove, in tests, what the generated Roles and bindings allow. It answers the same question
 * the apiserver's RBAC authorizer answers: does any binding that names this user grant a rule
 * that covers this request?
 */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  namespace?: string;
}

export interface RoleLike {
  kind: "Role" | "ClusterRole";
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
}

export interface BindingLike {
  kind: "RoleBinding" | "ClusterRoleBinding";
  metadata: { name: string; namespace?: string };
  subjects?: Subject[];
  roleRef: { kind: "Role" | "ClusterRole"; name: string; apiGroup?: string };
}

export interface UserInfo {
  username: string;
  groups: string[];
}

export interface ResourceRequest {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  /** Empty or absent: a cluster-scoped request. */
  namespace?: string;
  name?: string;
}

export interface NonResourceRequest {
  verb: string;
  path: string;
}

export class RbacEvaluator {
  constructor(private readonly roles: RoleLike[], private readonly bindings: BindingLike[]) {}

  allows(user: UserInfo, req: ResourceRequest | NonResourceRequest): boolean {
    for (const binding of this.bindings) {
      if (binding.kind === "RoleBinding") {
        // A RoleBinding grants only inside its own namespace, never cluster-scoped requests.
        if ("path" in req || !req.namespace || req.namespace !== binding.metadata.namespace) {
          continue;
        }
      }
      if (!(binding.subjects ?? []).some((s) => subjectMatches(s, user, binding))) continue;
      const rules = this.rulesOf(binding);
      if (rules.some((r) => ruleAllows(r, req))) return true;
    }
    return false;
  }

  private rulesOf(binding: BindingLike): PolicyRule[] {
    const ref = binding.roleRef;
    const role = this.roles.find((r) =>
      r.kind === ref.kind && r.metadata.name === ref.name &&
      (ref.kind === "ClusterRole" || r.metadata.namespace === binding.metadata.namespace)
    );
    // A ClusterRoleBinding cannot reference a Role; such a binding grants nothing.
    if (!role || (binding.kind === "ClusterRoleBinding" && ref.kind === "Role")) return [];
    return role.rules ?? [];
  }
}

function subjectMatches(s: Subject, user: UserInfo, binding: BindingLike): boolean {
  switch (s.kind) {
    case "User":
      return s.name === user.username;
    case "Group":
      return user.groups.includes(s.name);
    case "ServiceAccount": {
      const ns = s.namespace ?? binding.metadata.namespace;
      return user.username === `system:serviceaccount:${ns}:${s.name}`;
    }
  }
}

function has(list: string[] | undefined, value: string): boolean {
  return (list ?? []).some((v) => v === "*" || v === value);
}

export function ruleAllows(rule: PolicyRule, req: ResourceRequest | NonResourceRequest): boolean {
  if (!has(rule.verbs, req.verb)) return false;
  if ("path" in req) return nonResourceMatches(rule.nonResourceURLs ?? [], req.path);
  if (!has(rule.apiGroups, req.apiGroup)) return false;
  if (!resourceMatches(rule.resources ?? [], req.resource, req.subresource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (req.name !== undefined && names.includes(req.name));
}

function resourceMatches(ruleResources: string[], resource: string, subresource?: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return ruleResources.some((r) =>
    r === "*" || r === combined || (subresource !== undefined && r === `*/${subresource}`)
  );
}

function nonResourceMatches(urls: string[], path: string): boolean {
  return urls.some((u) =>
    u === "*" || u === path || (u.endsWith("*") && path.startsWith(u.slice(0, -1)))
  );
}
