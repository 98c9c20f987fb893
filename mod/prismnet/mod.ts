/**
 * PrismNET pod networking on a node: the daemon behind the `prismnet` CNI plugin (cni/plugin.ts),
 * the embedded PrismNET IPAM, leak repair and the CNI install. See docs/prismnet.md.
 */
import type { PartFactory } from "../appliance/context.ts";
import { createKubeApi } from "../kube/mod.ts";
import type { Part } from "../part/mod.ts";
import { NodeNetwork, nodeNetworkOptions } from "./node.ts";
import { namespaceTenants } from "./tenant.ts";

export { NodeNetwork, type NodeNetworkOptions, nodeNetworkOptions } from "./node.ts";
export { type EmbeddedPrismnet, startEmbeddedPrismnet } from "./ipam/service.ts";
export { createIpamClient, type Ipam } from "./ipam/client.ts";
export type { AttachmentIdentity, HostAttacher } from "./dataplane/types.ts";
export { conflist, CONFLIST_NAME, install, pluginBinary } from "./install.ts";

/** The `node` part: runs the prismnet node daemon on every node with a kubelet. */
export const createNodeNetworkPart: PartFactory = (ctx) => {
  const opts = nodeNetworkOptions(ctx.config, ctx.nodeName);
  if (ctx.kubeconfig) opts.tenantOf = namespaceTenants(createKubeApi(ctx.kubeconfig));
  const log = ctx.log.child("prismnet");
  let net: NodeNetwork | undefined;
  const part: Part = {
    name: "node",
    async start() {
      net = new NodeNetwork(opts, log, ctx.metrics);
      try {
        await net.start();
      } catch (e) {
        await net.stop().catch(() => {});
        net = undefined;
        throw e;
      }
    },
    async stop() {
      const n = net;
      net = undefined;
      await n?.stop();
    },
    ready() {
      return net ? net.ready() : "prismnet node daemon is not started";
    },
  };
  return part;
};
