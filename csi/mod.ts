/**
 * The LightningStor CSI driver (`stor.plasmacloud.io`) as appliance parts:
 * - `csi` (servers): the embedded LightningStor when no endpoint is configured, the CSI
 *   controller service on its socket, and — under a leader lease — the built-in provisioner,
 *   attacher and resizer plus the CSIDriver object.
 * - `csi-node` (every node): the CSI node service on kubelet's plugin socket, registered with
 *   kubelet through plugins_registry, and announced to LightningStor.
 */
import type { PartContext, PartFactory } from "../mod/appliance/context.ts";
import type { RunningServer } from "../mod/grpc/mod.ts";
import { createKubeApi, createLeaderElector } from "../mod/kube/mod.ts";
import {
  clientFromConfig,
  type EmbeddedLightningstor,
  embeddedTarget,
  type LightningstorClient,
  startEmbeddedLightningstor,
} from "../mod/lightningstor/mod.ts";
import type { Part } from "../mod/part/mod.ts";
import { controllerService } from "./controller.ts";
import { identityService } from "./identity.ts";
import { type CsiControllers, startCsiControllers } from "./kube_controllers.ts";
import { type NodeOptions, nodeService, registerNodeWithBackend } from "./node.ts";
import { type Registration, startRegistration } from "./registration.ts";
import { startCsiEndpoint } from "./server.ts";

export { startCsiControllers } from "./kube_controllers.ts";
export { controllerService } from "./controller.ts";
export { nodeService } from "./node.ts";
export { identityService } from "./identity.ts";
export { startCsiEndpoint } from "./server.ts";

/** The controller's socket for this config. */
export function controllerSocket(ctx: PartContext): string {
  return ctx.config.lightningstor.controllerSocket ||
    `${ctx.config.dataDir}/lightningstor/csi-controller.sock`;
}

export const createCsiControllerPart: PartFactory = (ctx) => {
  const cfg = ctx.config.lightningstor;
  const log = ctx.log.child("csi");
  let embedded: EmbeddedLightningstor | undefined;
  let backend: LightningstorClient | undefined;
  let server: RunningServer | undefined;
  let controllers: CsiControllers | undefined;
  let abort: AbortController | undefined;
  let elector: Promise<void> | undefined;
  let state: true | string = "not started";
  const part: Part = {
    name: "csi",
    async start() {
      if (!ctx.kubeconfig) {
        throw new Error(
          "the CSI controller needs the Kubernetes API but no kubeconfig is available (run with k3s, or pass --kubeconfig in attach mode)",
        );
      }
      if (!cfg.endpoint) {
        embedded = await startEmbeddedLightningstor({
          dir: `${ctx.config.dataDir}/lightningstor`,
          listen: embeddedTarget(ctx.config),
          hostNode: ctx.nodeName,
          zone: cfg.topologyZone,
          maxVolumeBytes: cfg.maxVolumeSize,
        });
        log.info("embedded LightningStor serving", { target: embedded.target });
      }
      backend = await clientFromConfig(ctx.config);
      const identity = identityService({
        driverName: cfg.driverName,
        probe: async () => (await backend!.serviceInfo(), true),
      });
      const controller = controllerService({
        backend,
        defaultVolumeBytes: cfg.defaultVolumeSize,
        maxVolumeBytes: cfg.maxVolumeSize,
      });
      server = await startCsiEndpoint(`unix://${controllerSocket(ctx)}`, { identity, controller });
      const api = createKubeApi(ctx.kubeconfig);
      abort = new AbortController();
      state = true;
      elector = createLeaderElector(api, {
        name: "k8shost-csi-stor",
        namespace: "kube-system",
        identity: `${ctx.nodeName}-${Deno.pid}`,
        onStartedLeading: async (signal) => {
          try {
            controllers = await startCsiControllers({
              api,
              csiTarget: server!.target,
              driverName: cfg.driverName,
              defaultFsType: cfg.defaultFsType,
              forceDetachAfterMs: cfg.forceDetachAfter,
              resyncMs: cfg.resync,
              metrics: ctx.metrics,
            });
            signal.addEventListener("abort", () => controllers?.stop());
          } catch (err) {
            state = `CSI controllers failed: ${err instanceof Error ? err.message : err}`;
            log.error("CSI controllers failed to start", { error: err });
          }
        },
      }).run(abort.signal);
    },
    async stop() {
      abort?.abort();
      await elector?.catch(() => {});
      await controllers?.stop().catch(() => {});
      await server?.stop();
      backend?.close();
      await embedded?.stop();
      server =
        embedded =
        backend =
        controllers =
          undefined;
      state = "stopped";
    },
    ready: () => state,
  };
  return part;
};

export const createCsiNodePart: PartFactory = (ctx) => {
  const cfg = ctx.config.lightningstor;
  const log = ctx.log.child("csi-node");
  const kubeletDir = ctx.config.k3s.kubeletDir;
  let backend: LightningstorClient | undefined;
  let server: RunningServer | undefined;
  let registration: Registration | undefined;
  let announced = false;
  let lastError = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const part: Part = {
    name: "csi-node",
    async start() {
      stopped = false;
      backend = await clientFromConfig(ctx.config);
      const opts: NodeOptions = {
        backend,
        nodeId: ctx.nodeName,
        zone: cfg.topologyZone,
        maxVolumes: cfg.maxVolumesPerNode,
        roots: [kubeletDir],
        stateDir: `${kubeletDir}/plugins/${cfg.driverName}/state`,
        defaultFsType: cfg.defaultFsType as "ext4" | "xfs",
      };
      // LightningStor may come up after us (or be remote and briefly away): keep announcing.
      let delay = 500;
      const announce = async () => {
        try {
          await registerNodeWithBackend(opts);
          announced = true;
          log.info("node announced to LightningStor", { node: opts.nodeId });
        } catch (err) {
          lastError = err instanceof Error ? err.message : String(err);
          if (!stopped) timer = setTimeout(announce, delay = Math.min(delay * 2, 30_000));
        }
      };
      await announce();
      const identity = identityService({
        driverName: cfg.driverName,
        probe: () => Promise.resolve(announced),
      });
      // A server is also a node: there its kubelet socket serves Identity, Controller and
      // Node together, as one CSI endpoint (the controller part keeps its own socket for the
      // built-in provisioner/attacher/resizer).
      const controller = ctx.role === "server"
        ? controllerService({
          backend,
          defaultVolumeBytes: cfg.defaultVolumeSize,
          maxVolumeBytes: cfg.maxVolumeSize,
        })
        : undefined;
      server = await startCsiEndpoint(`unix://${cfg.socket}`, {
        identity,
        controller,
        node: nodeService(opts),
      });
      registration = await startRegistration({
        kubeletDir,
        driverName: cfg.driverName,
        csiSocket: cfg.socket,
      });
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await registration?.stop();
      await server?.stop();
      backend?.close();
      registration = server = backend = undefined;
    },
    ready() {
      if (!announced) {
        return `not yet announced to LightningStor at ${
          cfg.endpoint || embeddedTarget(ctx.config)
        }: ${lastError}` +
          (cfg.endpoint ? "" : " (agents must set lightningstor.endpoint)");
      }
      const s = registration?.status();
      if (s && !s.registered) return `kubelet refused registration: ${s.error}`;
      return true;
    },
  };
  return part;
};
