/**
 * FlashDNS service discovery, as an appliance part. On a server it runs the controller that
 * keeps FlashDNS records equal to the cluster's Services, EndpointSlices and Pods. With no
 * `flashdns.endpoint` it also runs the embedded FlashDNS (gRPC + authoritative DNS on
 * `flashdns.listen`) and publishes it as the `kube-dns` Service at the cluster DNS IP.
 *
 * Leader election: a remote FlashDNS is shared by every server, so only the lease holder writes
 * to it. An embedded FlashDNS is this server's own, so each server keeps its own up to date.
 */
import type { PartFactory } from "../appliance/context.ts";
import type { Config } from "../config/spec.ts";
import { clientOptionsFromSection } from "../grpc/section.ts";
import { createKubeApi, createLeaderElector } from "../kube/mod.ts";
import type { KubeClient } from "../kube/mod.ts";
import { clusterDnsIp } from "../k3s/layout.ts";
import type { Part } from "../part/mod.ts";
import { parseListen, startEmbeddedFlashdns } from "../flashdnsd/mod.ts";
import type { EmbeddedFlashdns } from "../flashdnsd/mod.ts";
import { createFlashdnsClient, type FlashdnsClient } from "./client.ts";
import { type FlashdnsController, runFlashdnsController } from "./controller.ts";
import { nodeAddress, publishDnsEndpoint, unpublishDnsEndpoint } from "./publish.ts";
import type { DesiredContext } from "./desired.ts";

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
  const { config, log: parentLog } = ctx;
  const c = config.flashdns;
  const log = parentLog.child("flashdns");
  let state: true | string = "starting";
  let embedded: EmbeddedFlashdns | undefined;
  let client: FlashdnsClient | undefined;
  let api: KubeClient | undefined;
  let controller: FlashdnsController | undefined;
  let abort: AbortController | undefined;
  let leaderRun: Promise<void> | undefined;
  let published = false;
  let republish: ReturnType<typeof setInterval> | undefined;

  const part: Part = {
    name: "flashdns",
    ready: () => state,
    async start(signal) {
      if (!c.enable || ctx.role !== "server") {
        state = true;
        log.info("flashdns part idle", { enable: c.enable, role: ctx.role });
        return;
      }
      if (!ctx.kubeconfig) {
        throw new Error("flashdns: no kubeconfig for the Kubernetes API (is k3s running?)");
      }
      abort = new AbortController();
      signal.addEventListener("abort", () => abort?.abort(), { once: true });
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
        client = createFlashdnsClient({ endpoint: embedded.grpcTarget, timeoutMs: c.timeout });
      } else {
        client = await flashdnsClientFromConfig(c);
      }
      api = createKubeApi(ctx.kubeconfig);
      const run = (s: AbortSignal) => {
        controller = runFlashdnsController({
          api: api!,
          client: client!,
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
        await run(abort.signal).synced();
        await publish();
        // Repairs a deleted Service or slice, and retries while the Node has no address yet.
        republish = setInterval(() => publish(), Math.min(c.resync, 30_000));
      } else {
        const elector = createLeaderElector(api, {
          name: LEASE_NAME,
          namespace: "kube-system",
          identity: ctx.nodeName,
          onStartedLeading: (s) => run(s).synced(),
        });
        leaderRun = elector.run(abort.signal);
      }
      state = true;
    },
    async stop() {
      clearInterval(republish);
      abort?.abort();
      await leaderRun;
      await controller?.stopped();
      if (published && api) await unpublishDnsEndpoint(api, ctx.nodeName);
      published = false;
      client?.close();
      client = undefined;
      api?.close();
      api = undefined;
      await embedded?.stop();
      embedded = undefined;
      state = "stopped";
    },
  };

  /** Points the cluster DNS IP at this server's embedded DNS. */
  async function publish() {
    if (!api) return;
    const { host } = parseListen(c.listen);
    const port = embedded?.dns?.port ?? 53;
    const wildcard = host === "0.0.0.0" || host === "::";
    try {
      const nodeIp = config.networking.nodeIP ||
        (!wildcard ? host : await nodeAddress(api, ctx.nodeName));
      if (!nodeIp || nodeIp.startsWith("127.")) {
        log.warn("cannot publish the cluster DNS Service yet: no routable address for this node", {
          listen: c.listen,
        });
        return;
      }
      await publishDnsEndpoint(api, {
        clusterIp: clusterDnsIp(config),
        nodeName: ctx.nodeName,
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
  }

  return part;
};
