/**
 * LoadBalancer Services through FiberLB, as an appliance part. On a server it runs the
 * leader-elected controller (only the holder of the `k8shost-fiberlb` Lease allocates addresses
 * and writes Services). With no `fiberlb.endpoint` it also runs the embedded FiberLB (gRPC on a
 * unix socket in the data dir, state in `<dataDir>/fiberlb/`, the L4 proxies of this host) in a
 * thread of its own; the embedded one keeps serving whoever leads, since its data plane must not
 * blink on a lease blip.
 */
import type { PartContext, PartFactory } from "../appliance/context.ts";
import { controllerPart } from "../appliance/controller_part.ts";
import { createKubeApi, createLeaderElector } from "../kube/mod.ts";
import type { Part } from "../part/mod.ts";
import { defaultSocket } from "../fiberlbd/mod.ts";
import { startThreadedFiberlb, type ThreadedFiberlb } from "../fiberlbd/threaded.ts";
import { clientOptionsFromSection } from "../grpc/section.ts";
import { FiberlbClient } from "./client.ts";
import { type FiberlbController, runFiberlbController } from "./controller.ts";
import { parsePools } from "./pools.ts";

export { runFiberlbController } from "./controller.ts";
export { FiberlbClient } from "./client.ts";
export { ANNOTATIONS, FINALIZER } from "./annotations.ts";

export const LEASE_NAME = "k8shost-fiberlb";
export const LEASE_NAMESPACE = "kube-system";

export interface LeaderTimings {
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** What a running part exposes to tests and benchmarks. */
export interface FiberlbPart extends Part {
  controller(): FiberlbController | undefined;
  isLeader(): boolean;
  embedded(): ThreadedFiberlb | undefined;
}

export function buildFiberlbPart(ctx: PartContext, timings: LeaderTimings = {}): FiberlbPart {
  const c = ctx.config.fiberlb;
  const log = ctx.log.child("fiberlb");
  let embedded: ThreadedFiberlb | undefined;
  let controller: FiberlbController | undefined;
  let leader = false;
  const identity = `${ctx.nodeName}-${crypto.randomUUID().slice(0, 8)}`;

  const part = controllerPart(ctx, {
    name: "lb",
    section: "fiberlb",
    enabled: c.enable,
    log,
    async start({ kubeconfig, signal, onStop }) {
      const { pools, errors } = parsePools(c);
      if (errors.length > 0) throw new Error(`fiberlb: invalid IP pools: ${errors.join("; ")}`);
      let client: FiberlbClient;
      if (!c.endpoint) {
        embedded = await startThreadedFiberlb({
          dataDir: ctx.config.dataDir,
          listen: c.grpcListen || defaultSocket(ctx.config.dataDir),
          manageAddresses: c.manageAddresses,
          iface: c.interface,
          log: log.child("embedded"),
          metrics: ctx.metrics,
        });
        onStop(async () => {
          await embedded?.stop();
          embedded = undefined;
        });
        client = new FiberlbClient({ endpoint: embedded.target, timeoutMs: c.timeout });
      } else {
        client = new FiberlbClient({
          ...await clientOptionsFromSection("fiberlb", c),
          timeoutMs: c.timeout,
        });
      }
      onStop(() => client.close());
      const api = createKubeApi(kubeconfig);
      onStop(() => api.close());
      const elector = createLeaderElector(api, {
        name: LEASE_NAME,
        namespace: LEASE_NAMESPACE,
        identity,
        leaseDurationMs: timings.leaseDurationMs,
        renewDeadlineMs: timings.renewDeadlineMs,
        retryPeriodMs: timings.retryPeriodMs,
        onStartedLeading: async (s) => {
          // A previous term's reconciles must be finished before this term rebuilds the table.
          await controller?.stopped();
          if (s.aborted) return;
          leader = true;
          s.addEventListener("abort", () => leader = false, { once: true });
          controller = runFiberlbController({
            api,
            client,
            config: c,
            pools,
            log,
            metrics: ctx.metrics,
          }, s);
          await controller.synced();
        },
      });
      const leaderRun = elector.run(signal);
      onStop(async () => {
        await leaderRun;
        await controller?.stopped();
        controller = undefined;
      });
      log.info("fiberlb part started", {
        identity,
        backend: embedded ? `embedded (${embedded.target})` : c.endpoint,
        pools: [...pools.keys()],
      });
    },
  });
  return {
    ...part,
    controller: () => controller,
    isLeader: () => leader,
    embedded: () => embedded,
  };
}

export const createFiberlbPart: PartFactory = (ctx) => buildFiberlbPart(ctx);
