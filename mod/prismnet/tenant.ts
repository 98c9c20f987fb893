/** Which PlasmaCloud tenant owns a namespace, read from the labels the tenancy controller sets. */
import type { KubeApi } from "../kube/api.ts";
import { RESOURCES } from "../kube/mod.ts";
import { cniError, ERR } from "../../cni/spec.ts";
import { CniFailure, type Tenant } from "./handler/mod.ts";

export const ORG_LABEL = "plasmacloud.io/org-id";
export const PROJECT_LABEL = "plasmacloud.io/project-id";

export const noTenant = (): Promise<Tenant> => Promise.resolve({ orgId: "", projectId: "" });

export function tenantFromLabels(labels: Record<string, string> | undefined): Tenant {
  return { orgId: labels?.[ORG_LABEL] ?? "", projectId: labels?.[PROJECT_LABEL] ?? "" };
}

/**
 * Namespace labels looked up through the API and cached for `ttlMs` (tenancy of a namespace
 * does not change while it exists). An unreachable API is "try again later", not "no tenant".
 */
export function namespaceTenants(
  api: KubeApi,
  ttlMs = 60_000,
): (namespace: string) => Promise<Tenant> {
  const cache = new Map<string, { tenant: Tenant; at: number }>();
  return async (namespace) => {
    const hit = cache.get(namespace);
    if (hit && Date.now() - hit.at < ttlMs) return hit.tenant;
    try {
      const ns = await api.tryGet(RESOURCES.namespaces, namespace);
      const tenant = tenantFromLabels(ns?.metadata.labels);
      cache.set(namespace, { tenant, at: Date.now() });
      return tenant;
    } catch (e) {
      throw new CniFailure(
        cniError(
          ERR.tryAgainLater,
          `cannot read namespace ${namespace}`,
          e instanceof Error ? e.message : String(e),
        ),
      );
    }
  };
}
