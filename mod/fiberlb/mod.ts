/**
 * LoadBalancer Services through FiberLB, as an appliance part. On a server it runs the
 * leader-elected controller (only the holder of the `k8shost-fiberlb` Lease allocates addresses
 * and writes Services). With no `fiberlb.endpoint` it also runs the embedded FiberLB (gRPC on a
 * unix socket in the data dir, state in `<dataDir>/fiberlb/`, the L4 proxies of this host); the
 * embedded one keeps serving whoever leads, since its data plane must not blink on a lease blip.
 */
import type { PartContext, PartFactory } from "../appliance/context.ts";
import { createKubeApi, createLeaderElector, type KubeClient } from "../kube/mod.ts";
import type { Part } from "../part/mod.ts";
import { defaultSocket, type EmbeddedFiberlb, startEmbeddedFiberlb } from "../fiberlbd/mod.ts";
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
  embedded(): EmbeddedFiberlb | undefined;
}

export function buildFiberlbPart(ctx: PartContext, timings: LeaderTimings = {}): FiberlbPart {
  const c = ctx.config.fiberlb;
  const log = ctx.log.child("fiberlb");
  let state: true | string = "not started";
  let embedded: EmbeddedFiberlb | undefined;
  let client: FiberlbClient | undefined;
  let api: KubeClient | undefined;
  let controller: FiberlbController | undefined;
  let abort: AbortController | undefined;
  let leaderRun: Promise<void> | undefined;
  let leader = false;
  const identity = `${ctx.nodeName}-${crypto.randomUUID().slice(0, 8)}`;

  return {
    name: "lb",
    ready: () => state,
    controller: () => controller,
    isLeader: () => leader,
    embedded: () => embedded,
    async start(signal) {
      if (!c.enable || ctx.role !== "server") {
        state = true;
        log.info("fiberlb part idle", { enable: c.enable, role: ctx.role });
        return;
      }
      if (!ctx.kubeconfig) {
        throw new Error("fiberlb: no kubeconfig for the Kubernetes API (is k3s running?)");
      }
      const { pools, errors } = parsePools(c);
      if (errors.length > 0) throw new Error(`fiberlb: invalid IP pools: ${errors.join("; ")}`);
      abort = new AbortController();
      signal.addEventListener("abort", () => abort?.abort(), { once: true });
      if (!c.endpoint) {
        embedded = await startEmbeddedFiberlb({
          dataDir: ctx.config.dataDir,
          listen: c.grpcListen || defaultSocket(ctx.config.dataDir),
          manageAddresses: c.manageAddresses,
          iface: c.interface,
          log: log.child("embedded"),
          metrics: ctx.metrics,
        });
        client = new FiberlbClient({ endpoint: embedded.target, timeoutMs: c.timeout });
      } else {
        client = new FiberlbClient({
          ...await clientOptionsFromSection("fiberlb", c),
          timeoutMs: c.timeout,
        });
      }
      api = createKubeApi(ctx.kubeconfig);
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
            api: api!,
            client: client!,
            config: c,
            pools,
            log,
            metrics: ctx.metrics,
          }, s);
          await controller.synced();
        },
      });
      leaderRun = elector.run(abort.signal);
      state = true;
      log.info("fiberlb part started", {
        identity,
        backend: embedded ? `embedded (${embedded.target})` : c.endpoint,
        pools: [...pools.keys()],
      });
    },
    async stop() {
      abort?.abort();
      await leaderRun;
      await controller?.stopped();
      controller = undefined;
      client?.close();
      client = undefined;
      api?.close();
      api = undefined;
      await embedded?.stop();
      embedded = undefined;
      state = "stopped";
    },
  };
}

export const createFiberlbPart: PartFactory = (ctx) => buildFiberlbPart(ctx);
