/**
 * Group names shared by the IAM webhook (which puts users in them) and the tenancy RBAC
 * (which binds Roles to them). One definition, so the two cannot drift apart.
 */
export type ProjectRole = "admin" | "member" | "viewer";

export const groupNames = {
  org: (orgId: string) => `org:${orgId}`,
  orgAdmin: (orgId: string) => `org:${orgId}:admin`,
  project: (projectId: string) => `project:${projectId}`,
  projectRole: (projectId: string, role: ProjectRole) => `project:${projectId}:${role}`,
  /** Marks org admins across orgs (spec); never bound to anything by itself. */
  anyOrgAdmin: "k8s:org-admin",
  platformAdmins: "system:plasmacloud-admins",
};

/** IAM role names (claims) → the project role they carry. */
export function projectRoleOf(iamRole: string): ProjectRole | undefined {
  const r = iamRole.toLowerCase().replace(/-/g, "_");
  if (r === "project_admin" || r === "admin" || r === "owner") return "admin";
  if (r === "project_member" || r === "member" || r === "editor" || r === "project_editor") {
    return "member";
  }
  if (r === "project_viewer" || r === "viewer" || r === "reader") return "viewer";
  return undefined;
}

export function isOrgAdminRole(iamRole: string): boolean {
  const r = iamRole.toLowerCase().replace(/-/g, "_");
  return r === "org_admin" || r === "organization_admin";
}
