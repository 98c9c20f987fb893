/**
 * Namespace-per-project tenancy: the Project CRD, and a leader-elected controller that turns
 * each Project into a namespace with RBAC, quotas, limits and network policies.
 */
import type { PartContext, PartFactory } from "../appliance/context.ts";
import type { KubeApi } from "../kube/api.ts";
import { createEventRecorder, createKubeApi, createLeaderElector, RESOURCES } from "../kube/mod.ts";
import { isNotFound } from "../kube/errors.ts";
import type { Part } from "../part/mod.ts";
import { clusterDnsIp } from "../k3s/layout.ts";
import { runTenancyController } from "./controller.ts";
import { projectCrd } from "./project.ts";
import { PROJECTS } from "./resources.ts";

export { projectCrd } from "./project.ts";
export type { Project, ProjectSpec } from "./project.ts";
export { PROJECTS } from "./resources.ts";

/** Creates or updates the Project CRD and waits until the API serves it. */
export async function installProjectCrd(api: KubeApi, timeoutMs = 30_000): Promise<void> {
  const crd = projectCrd();
  const have = await api.tryGet(RESOURCES.customResourceDefinitions, crd.metadata.name!);
  if (!have) await api.create(RESOURCES.customResourceDefinitions, crd);
  else if (JSON.stringify(have.spec?.versions) !== JSON.stringify(crd.spec.versions)) {
    await api.replace(RESOURCES.customResourceDefinitions, { ...have, spec: crd.spec });
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await api.list(PROJECTS, { limit: 1 });
      return;
    } catch (e) {
      if (!isNotFound(e) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function clusterDnsAddress(ctx: PartContext): string | undefined {
  return clusterDnsIp(ctx.config);
}

export const createTenancyPart: PartFactory = (ctx) => {
  const log = ctx.log.child("tenancy");
  let abort: AbortController | undefined;
  let done: Promise<void> | undefined;
  let state: true | string = "not started";
  const part: Part = {
    name: "tenancy",
    async start() {
      if (!ctx.kubeconfig) {
        throw new Error(
          "tenancy needs the Kubernetes API but no kubeconfig is available (run with k3s, or pass --kubeconfig in attach mode)",
        );
      }
      const api = createKubeApi(ctx.kubeconfig);
      await installProjectCrd(api);
      abort = new AbortController();
      const events = createEventRecorder(api, "k8shost-tenancy");
      const elector = createLeaderElector(api, {
        name: "k8shost-tenancy",
        namespace: "kube-system",
        identity: `${ctx.nodeName}-${Deno.pid}`,
        onStartedLeading: (signal) =>
          runTenancyController(api, events, log, {
            settings: {
              defaultNetworkPolicies: ctx.config.tenancy.defaultNetworkPolicies,
              dnsAddress: clusterDnsAddress(ctx),
              deleteGraceMs: ctx.config.tenancy.deleteGrace,
            },
          }, signal).catch((e) => {
            state = `controller failed: ${e instanceof Error ? e.message : e}`;
            log.error("tenancy controller failed", { error: e });
          }),
      });
      state = true;
      done = elector.run(abort.signal).finally(() => elector.release().catch(() => {}));
    },
    async stop() {
      abort?.abort();
      await done?.catch(() => {});
      state = "stopped";
    },
    ready: () => state,
  };
  return part;
};
