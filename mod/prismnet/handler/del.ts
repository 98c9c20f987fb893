/**
 * DEL, and the teardown it shares with ADD's restart and leak repair: idempotent, and able to
 * clean up by the deterministic names when the attachment record is gone.
 */
import { type CniEnv, isCniError } from "../../../cni/spec.ts";
import type { AttachmentRecord } from "../attachments.ts";
import { DataplaneError, removeVeth } from "../dataplane/veth.ts";
import { hostVethName } from "../desired.ts";
import type { Ipam } from "../ipam/client.ts";
import { type NetConf, podIdentity } from "../request.ts";
import type { HandlerDeps } from "./deps.ts";

export async function releaseLease(
  ipam: Ipam,
  rec: Pick<
    AttachmentRecord,
    "network" | "containerId" | "ifname" | "namespace" | "podName" | "podUid"
  >,
) {
  await ipam.release({
    network: rec.network,
    containerId: rec.containerId,
    ifname: rec.ifname,
    podUid: rec.podUid,
    namespace: rec.namespace,
    podName: rec.podName,
  });
}

/** Removes links, lease and record of one attachment; each step tolerates absence. */
export async function teardownAttachment(d: HandlerDeps, rec: AttachmentRecord): Promise<void> {
  try {
    await removeVeth(rec.hostVeth, d.attacher, rec);
  } catch (e) {
    throw new DataplaneError(e instanceof Error ? e.message : String(e));
  }
  await releaseLease(d.ipam, rec);
  await d.records.remove(rec.network, rec.containerId, rec.ifname);
}

export async function cniDel(d: HandlerDeps, env: CniEnv, conf: NetConf): Promise<void> {
  const rec = d.records.get(conf.name, env.containerId, env.ifname);
  if (rec) return await teardownAttachment(d, rec);
  // No record (state lost, or never fully added): clean by the deterministic names.
  const who = podIdentity(env);
  const hostVeth = hostVethName(env.containerId, env.ifname);
  await removeVeth(hostVeth, d.attacher, {
    network: conf.name,
    containerId: env.containerId,
    ifname: env.ifname,
  })
    .catch((e) => {
      throw new DataplaneError(e instanceof Error ? e.message : String(e));
    });
  await releaseLease(d.ipam, {
    network: conf.name,
    containerId: env.containerId,
    ifname: env.ifname,
    namespace: isCniError(who) ? "" : who.namespace,
    podName: isCniError(who) ? "" : who.name,
    podUid: "",
  });
}
