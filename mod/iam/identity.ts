/**
 * Who a token belongs to, and how that maps to a Kubernetes user (the specification's
 * "User/Group Mapping" table). Pure: no I/O, no clock.
 *
 * Every id that ends up inside a group name is checked against a strict pattern without `:`,
 * so that no claim value can forge another tenant's group (an org_id of `x:admin` would
 * otherwise yield the group `org:x:admin`).
 */

import { groupNames, isOrgAdminRole, projectRoleOf } from "../tenancy/groups.ts";

export type PrincipalKind = "user" | "service_account";

/** A validated IAM principal: the TenantContext plus what the mapping needs. */
export interface Identity {
  kind: PrincipalKind;
  /** Stable principal id (`sub`), e.g. `user-550e8400-…`. */
  principalId: string;
  /** Service-account name, or a user's display name (may be empty for users). */
  principalName: string;
  email: string;
  orgId: string;
  /** Empty for org-wide principals. */
  projectId: string;
  roles: string[];
}

/** The `status.user` of a TokenReview. */
export interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const PRINCIPAL_ID = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}$/;
const ROLE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const EMAIL = /^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ROLES = 64;
/** Printable characters only (no control characters), as a display name. */
const DISPLAY_NAME = /^[^\p{Cc}]*$/u;

export const ORG_ADMIN_GROUP = groupNames.anyOrgAdmin;

export class ClaimError extends Error {}

type Claims = Record<string, unknown>;

function optionalString(claims: Claims, name: string): string {
  const v = claims[name];
  if (v === undefined || v === null || v === "") return "";
  if (typeof v !== "string") throw new ClaimError(`claim "${name}" must be a string`);
  return v;
}

function requiredString(claims: Claims, name: string): string {
  const v = optionalString(claims, name);
  if (v === "") throw new ClaimError(`missing claim "${name}"`);
  return v;
}

function checked(value: string, pattern: RegExp, name: string, what: string): string {
  if (value !== "" && !pattern.test(value)) {
    throw new ClaimError(`claim "${name}" is not ${what}`);
  }
  return value;
}

function roleList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ClaimError(`claim "roles" must be an array of strings`);
  if (v.length > MAX_ROLES) throw new ClaimError(`claim "roles" has more than ${MAX_ROLES} roles`);
  const out: string[] = [];
  for (const r of v) {
    if (typeof r !== "string" || !ROLE.test(r)) {
      throw new ClaimError(`claim "roles" holds an invalid role name`);
    }
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

/**
 * Validates the IAM claims of a verified JWT (`sub`, `email`, `org_id`, `project_id`, `roles`,
 * `principal_type`, `principal_name`) into an Identity; throws ClaimError naming the claim.
 */
export function identityFromClaims(claims: Claims): Identity {
  const type = optionalString(claims, "principal_type") || "user";
  if (type !== "user" && type !== "service_account") {
    throw new ClaimError(`claim "principal_type" must be "user" or "service_account"`);
  }
  return checkIdentity({
    kind: type,
    principalId: requiredString(claims, "sub"),
    principalName: optionalString(claims, "principal_name"),
    email: optionalString(claims, "email"),
    orgId: requiredString(claims, "org_id"),
    projectId: optionalString(claims, "project_id"),
    roles: roleList(claims.roles),
  });
}

/** Checks an identity from any source (JWT claims, IAM ValidateToken) with the same rules. */
export function checkIdentity(id: Identity): Identity {
  if (id.principalId === "") throw new ClaimError(`missing claim "sub"`);
  checked(id.principalId, PRINCIPAL_ID, "sub", "a principal id");
  if (id.orgId === "") throw new ClaimError(`missing claim "org_id"`);
  checked(id.orgId, TENANT_ID, "org_id", "an org id ([A-Za-z0-9._-], at most 128)");
  checked(id.projectId, TENANT_ID, "project_id", "a project id ([A-Za-z0-9._-], at most 128)");
  checked(id.email, EMAIL, "email", "an email address");
  const roles = roleList(id.roles);
  if (id.kind === "service_account") {
    if (id.principalName === "") throw new ClaimError(`missing claim "principal_name"`);
    checked(id.principalName, SA_NAME, "principal_name", "a service-account name (DNS label)");
    if (id.projectId === "") throw new ClaimError(`missing claim "project_id"`);
  } else if (id.principalName.length > 256 || !DISPLAY_NAME.test(id.principalName)) {
    throw new ClaimError(`claim "principal_name" is not a display name`);
  }
  return { ...id, roles };
}

/** `user-<uuid>` for a bare UUID subject; subjects already in that form stay as they are. */
function userName(principalId: string): string {
  if (principalId.startsWith("user-")) return principalId;
  return UUID.test(principalId) ? `user-${principalId.toLowerCase()}` : `user-${principalId}`;
}

/** The `project:<id>:<role>` group an IAM role gives (names shared with the tenancy RBAC). */
export function projectRoleGroup(projectId: string, role: string): string | undefined {
  const r = projectRoleOf(role);
  return r ? groupNames.projectRole(projectId, r) : undefined;
}

export function isOrgAdmin(id: Identity): boolean {
  return id.roles.some(isOrgAdminRole);
}

/**
 * The Kubernetes user for an identity:
 * - username: `sa-<name>@<project>` for service accounts, else the email, else `user-<id>`;
 * - groups: `org:<org>`, `project:<project>`, one `project:<project>:<admin|member|viewer>` per
 *   project role (aliases such as project_editor → member, as mod/tenancy/groups.ts defines),
 *   `org:<org>:admin` and `k8s:org-admin` for org admins, then `system:serviceaccounts` for
 *   service accounts or `system:authenticated` for users (kube-apiserver adds
 *   `system:authenticated` to every authenticated user anyway);
 * - extra: org_id, project_id, roles, principal_id.
 */
export function userInfoFor(id: Identity): UserInfo {
  const groups: string[] = [groupNames.org(id.orgId)];
  if (id.projectId) {
    groups.push(groupNames.project(id.projectId));
    for (const role of id.roles) {
      const g = projectRoleGroup(id.projectId, role);
      if (g && !groups.includes(g)) groups.push(g);
    }
  }
  if (isOrgAdmin(id)) groups.push(groupNames.orgAdmin(id.orgId), ORG_ADMIN_GROUP);
  groups.push(id.kind === "service_account" ? "system:serviceaccounts" : "system:authenticated");

  const username = id.kind === "service_account"
    ? `sa-${id.principalName}@${id.projectId}`
    : id.email || userName(id.principalId);
  const extra: Record<string, string[]> = {
    org_id: [id.orgId],
    principal_id: [id.principalId],
  };
  if (id.projectId) extra.project_id = [id.projectId];
  if (id.roles.length) extra.roles = [...id.roles];
  return { username, uid: id.principalId, groups, extra };
}
