/**
 * NetworkPolicy enforcement in OVN (PrismNET's OVN mode): a leader-elected controller that
 * keeps port groups, address sets and ACLs in the northbound DB equal to what the cluster's
 * NetworkPolicies say. See docs/ovn.md.
 */
import type { PartFactory } from "../appliance/context.ts";
import { createEventRecorder, createKubeApi, createLeaderElector } from "../kube/mod.ts";
import { OvsdbSession } from "../ovsdb/mod.ts";
import type { Part } from "../part/mod.ts";
import { runNetpolController } from "./controller.ts";
import { NETPOL_TABLES } from "./reconcile.ts";

export {
  type NetpolController,
  type NetpolControllerOptions,
  runNetpolController,
} from "./controller.ts";
export { type DesiredInput, desiredState, policyTypes } from "./desired.ts";
export { NETPOL_TABLES, reconcileNb } from "./reconcile.ts";
export type * from "./types.ts";

/** Full reconcile period; changes are applied as they happen, this only bounds drift. */
export const NETPOL_RESYNC_MS = 5 * 60_000;

/**
 * The `netpol` part (server role). In standalone PrismNET mode (no OVN northbound configured)
 * nothing enforces NetworkPolicies; the part says so and stays idle.
 */
export const createNetpolPart: PartFactory = (ctx) => {
  const log = ctx.log.child("netpol");
  const nbRemote = ctx.config.prismnet.ovn.northbound;
  let abort: AbortController | undefined;
  let done: Promise<void> | undefined;
  let state: true | string = "not started";
  const part: Part = {
    name: "netpol",
    start() {
      if (!nbRemote) {
        log.warn("NetworkPolicies are not enforced: set prismnet.ovn.northbound (OVN mode)");
        state = true;
        return Promise.resolve();
      }
      if (!ctx.kubeconfig) {
        return Promise.reject(
          new Error("netpol needs the Kubernetes API but no kubeconfig is available"),
        );
      }
      const api = createKubeApi(ctx.kubeconfig);
      abort = new AbortController();
      const events = createEventRecorder(api, "k8shost-netpol");
      const elector = createLeaderElector(api, {
        name: "k8shost-netpol",
        namespace: "kube-system",
        identity: `${ctx.nodeName}-${Deno.pid}`,
        onStartedLeading: async (signal) => {
          const nb = new OvsdbSession(nbRemote, "OVN_Northbound", {
            cache: NETPOL_TABLES,
            requestTimeoutMs: 60_000,
          });
          try {
            const c = runNetpolController(
              { api, nb, log, metrics: ctx.metrics, resyncMs: NETPOL_RESYNC_MS, events },
              signal,
            );
            nb.getRetrying(
              signal,
              (e) => log.warn("OVN northbound unreachable", { error: String(e) }),
            )
              .catch(() => {});
            await c.stopped();
          } finally {
            nb.close();
          }
        },
      });
      state = true;
      done = elector.run(abort.signal).finally(() => elector.release().catch(() => {}));
      return Promise.resolve();
    },
    async stop() {
      abort?.abort();
      await done?.catch(() => {});
      abort = undefined;
      done = undefined;
      state = "stopped";
    },
    ready: () => state,
  };
  return part;
};
