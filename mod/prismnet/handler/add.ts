/**
 * ADD: the record first ("adding"), then IPAM and veth in parallel, then addressing on both
 * ends; any failure rolls back what was made. A repeated ADD reuses an intact attachment.
 */
import { type CniEnv, isCniError } from "../../../cni/spec.ts";
import type { AttachmentRecord } from "../attachments.ts";
import { configurePod, createVeth, removeVeth } from "../dataplane/veth.ts";
import { attachmentResult, hostVethName, macFrom, podRoutes } from "../desired.ts";
import { type NetConf, type PodIdentity, podIdentity } from "../request.ts";
import { chainResult, type CniResult } from "../result.ts";
import { releaseLease, teardownAttachment } from "./del.ts";
import type { HandlerDeps } from "./deps.ts";
import { CniFailure } from "./failure.ts";
import { attachmentProblems } from "./verify.ts";

function identity(env: CniEnv): PodIdentity {
  const who = podIdentity(env);
  if (isCniError(who)) throw new CniFailure(who);
  return who;
}

export async function cniAdd(d: HandlerDeps, env: CniEnv, conf: NetConf): Promise<CniResult> {
  const { ipam, attacher, records } = d;
  const who = identity(env);
  const prior = records.get(conf.name, env.containerId, env.ifname);
  if (prior) {
    // A repeated ADD (a retry after a timeout): reuse what is intact, else start over.
    if (
      prior.state === "ready" && prior.result && prior.netns === env.netns &&
      !(await attachmentProblems(d, prior)).length
    ) {
      return chainResult(conf.prevResult, { ...prior.result, cniVersion: conf.cniVersion });
    }
    await teardownAttachment(d, prior);
  }
  // runtimeConfig wins over the CNI_ARGS conventions; the first IPv4 address, else IPv6.
  const requestedIp = conf.requestedIps.find((x) => !x.includes(":")) ?? conf.requestedIps[0] ??
    who.ip;
  const rec: AttachmentRecord = {
    network: conf.name,
    containerId: env.containerId,
    ifname: env.ifname,
    netns: env.netns,
    hostVeth: hostVethName(env.containerId, env.ifname),
    podMac: conf.requestedMac ?? who.mac ??
      macFrom(`pod:${conf.name}/${env.containerId}/${env.ifname}`),
    hostMac: macFrom(`host:${conf.name}/${env.containerId}/${env.ifname}`),
    namespace: who.namespace,
    podName: who.name,
    podUid: who.uid,
    state: "adding",
    createdAt: new Date().toISOString(),
  };
  await records.put(rec);
  const mtu = conf.mtu ?? d.mtu;
  const undo: Array<() => Promise<unknown>> = [];
  try {
    const tenant = await d.tenantOf(who.namespace);
    const [alloc, veth] = await Promise.allSettled([
      ipam.allocate({
        network: conf.name,
        containerId: env.containerId,
        ifname: env.ifname,
        podUid: who.uid,
        namespace: who.namespace,
        podName: who.name,
        orgId: tenant.orgId,
        projectId: tenant.projectId,
        node: d.node,
        requestedIp,
      }),
      createVeth({ ...rec, mtu }, attacher),
    ]);
    if (alloc.status === "fulfilled") undo.push(() => releaseLease(ipam, rec));
    if (veth.status === "fulfilled") undo.push(() => removeVeth(rec.hostVeth, attacher, rec));
    if (alloc.status === "rejected") throw alloc.reason;
    if (veth.status === "rejected") throw veth.reason;
    const { address, gateway } = alloc.value;
    const prefix = address.slice(address.indexOf("/"));
    const routes = podRoutes(conf, address, gateway);
    await Promise.all([
      attacher.ensureGateway(`${gateway}${prefix}`),
      attacher.attach(rec.hostVeth, { ...rec, address }),
      configurePod({ netns: env.netns, ifname: env.ifname, address, routes }),
    ]);
    const dns = Object.keys(conf.dns).length || !alloc.value.dnsServers.length
      ? conf.dns
      : { nameservers: alloc.value.dnsServers };
    const result = attachmentResult(conf.cniVersion, {
      bridge: attacher.bridge,
      bridgeMac: attacher.bridgeMac,
      hostVeth: rec.hostVeth,
      hostMac: rec.hostMac,
      ifname: env.ifname,
      podMac: rec.podMac,
      netns: env.netns,
      mtu,
      address,
      gateway,
      routes,
      dns,
    });
    await records.put({ ...rec, state: "ready", address, gateway, result });
    d.log.info("pod attached", {
      containerId: env.containerId,
      ifname: env.ifname,
      namespace: who.namespace,
      pod: who.name,
      address,
    });
    return chainResult(conf.prevResult, result);
  } catch (err) {
    let clean = true;
    for (const step of undo.reverse()) {
      await step().catch((e) => {
        clean = false;
        d.log.error("rollback step failed", {
          containerId: env.containerId,
          error: String(e),
        });
      });
    }
    // With a failed rollback the record stays so DEL or the sweep can finish the job.
    if (clean) await records.remove(rec.network, rec.containerId, rec.ifname);
    throw err;
  }
}
