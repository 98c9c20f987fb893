/**
 * FlashDNS service discovery, as an appliance part. On a server it runs the controller that
 * keeps FlashDNS records equal to the cluster's Services, EndpointSlices and Pods. With no
 * `flashdns.endpoint` it also runs the embedded FlashDNS (gRPC + authoritative DNS on
 * `flashdns.listen`) and publishes it as the `kube-dns` Service at the cluster DNS IP.
 *
 * Leader election: a remote FlashDNS is shared by every server, so only the lease holder writes
 * to it. An embedded FlashDNS is this server's own, so each server keeps its own up to date.
 */
import type { PartContext, PartFactory } from "../appliance/context.ts";
import { controllerPart } from "../appliance/controller_part.ts";
import type { Config } from "../config/spec.ts";
import { clientOptionsFromSection } from "../grpc/section.ts";
import { createKubeApi, createLeaderElector, type KubeApi } from "../kube/mod.ts";
import { clusterDnsIp } from "../k3s/layout.ts";
import type { Logger } from "../log/mod.ts";
import { parseListen, startEmbeddedFlashdns } from "../flashdnsd/mod.ts";
import type { EmbeddedFlashdns } from "../flashdnsd/mod.ts";
import { createFlashdnsClient, type FlashdnsClient } from "./client.ts";
import { type FlashdnsController, runFlashdnsController } from "./controller.ts";
import { nodeAddress, publishDnsEndpoint, unpublishDnsEndpoint } from "./publish.ts";
import type { DesiredContext } from "./record_builder.ts";

export { runFlashdnsController } from "./controller.ts";
export { desiredRecords } from "./desired.ts";
export { createFlashdnsClient } from "./client.ts";

export const LEASE_NAME = "k8shost-flashdns";

export function desiredContext(config: Config): DesiredContext {
  return {
    domain: config.networking.clusterDomain,
    ttl: config.flashdns.recordTTL,
    owner: `k8shost/${config.flashdns.clusterName}`,
  };
}

/** A client for the configured FlashDNS endpoint, with its TLS material and token. */
export async function flashdnsClientFromConfig(c: Config["flashdns"]): Promise<FlashdnsClient> {
  return createFlashdnsClient({
    ...await clientOptionsFromSection("flashdns", c),
    timeoutMs: c.timeout,
  });
}

export const createFlashdnsPart: PartFactory = (ctx) => {
  const { config } = ctx;
  const c = config.flashdns;
  const log = ctx.log.child("flashdns");
  return controllerPart(ctx, {
    name: "flashdns",
    section: "flashdns",
    enabled: c.enable,
    log,
    async start({ kubeconfig, signal, onStop }) {
      let embedded: EmbeddedFlashdns | undefined;
      let client: FlashdnsClient;
      if (!c.endpoint) {
        embedded = await startEmbeddedFlashdns({
          stateDir: `${config.dataDir}/flashdns`,
          grpcListen: c.grpcListen || `unix://${config.dataDir}/flashdns/grpc.sock`,
          dnsListen: c.listen,
          domain: config.networking.clusterDomain,
          reverseCidrs: [
            config.networking.serviceCIDR,
            config.networking.clusterCIDR,
            ...c.reverseCIDRs,
          ],
          upstreams: c.upstreams,
          soaTtl: c.recordTTL,
          log: log.child("server"),
          metrics: ctx.metrics,
        });
        onStop(() => embedded?.stop());
        client = createFlashdnsClient({ endpoint: embedded.grpcTarget, timeoutMs: c.timeout });
      } else {
        client = await flashdnsClientFromConfig(c);
      }
      onStop(() => client.close());
      const api = createKubeApi(kubeconfig);
      onStop(() => api.close());
      let controller: FlashdnsController | undefined;
      const run = (s: AbortSignal) => {
        controller = runFlashdnsController({
          api,
          client,
          desired: desiredContext(config),
          resyncMs: c.resync,
          batchSize: c.batchSize,
          flushDelayMs: c.flushDelay,
          log,
          metrics: ctx.metrics,
        }, s);
        return controller;
      };
      if (embedded) {
        const clusterDns = clusterDnsPublisher(ctx, api, embedded, log);
        // Ahead of the controller's step, so that stop removes the slice once the controller is done.
        onStop(() => clusterDns.unpublish());
        onStop(() => controller?.stopped());
        await run(signal).synced();
        await clusterDns.publish();
        // Repairs a deleted Service or slice, and retries while the Node has no address yet.
        const republish = setInterval(() => clusterDns.publish(), Math.min(c.resync, 30_000));
        onStop(() => clearInterval(republish));
      } else {
        const elector = createLeaderElector(api, {
          name: LEASE_NAME,
          namespace: "kube-system",
          identity: ctx.nodeName,
          onStartedLeading: (s) => run(s).synced(),
        });
        const leaderRun = elector.run(signal);
        onStop(async () => {
          await leaderRun;
          await controller?.stopped();
        });
      }
    },
  });
};

/** Points the cluster DNS IP at this server's embedded DNS. */
function clusterDnsPublisher(
  ctx: PartContext,
  api: KubeApi,
  embedded: EmbeddedFlashdns,
  log: Logger,
): { publish(): Promise<void>; unpublish(): Promise<void> } {
  const { config, nodeName } = ctx;
  const listen = config.flashdns.listen;
  let published = false;
  return {
    async publish() {
      const { host } = parseListen(listen);
      const port = embedded.dns?.port ?? 53;
      const wildcard = host === "0.0.0.0" || host === "::";
      try {
        const nodeIp = config.networking.nodeIP ||
          (!wildcard ? host : await nodeAddress(api, nodeName));
        if (!nodeIp || nodeIp.startsWith("127.")) {
          log.warn(
            "cannot publish the cluster DNS Service yet: no routable address for this node",
            {
              listen,
            },
          );
          return;
        }
        await publishDnsEndpoint(api, {
          clusterIp: clusterDnsIp(config),
          nodeName,
          nodeIp,
          port,
        });
        if (published) return;
        published = true;
        log.info("cluster DNS published", {
          clusterDNS: clusterDnsIp(config),
          endpoint: `${nodeIp}:${port}`,
        });
      } catch (e) {
        log.warn("publishing the cluster DNS Service failed", { error: e });
      }
    },
    async unpublish() {
      if (published) await unpublishDnsEndpoint(api, nodeName);
      published = false;
    },
  };
}
