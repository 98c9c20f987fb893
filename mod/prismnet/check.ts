/**
 * CHECK's observation: the pod interface, the host end, the bridge and the IPAM lease, read in
 * parallel and compared with what prevResult (or the attachment's own result) promises.
 */
import { type CniError, isCniError } from "../../cni/spec.ts";
import type { AttachmentRecord } from "./attachments.ts";
import type { HostAttacher } from "./dataplane/types.ts";
import { hostLink, observePod } from "./dataplane/veth.ts";
import { checkProblems, type Expected } from "./check_compare.ts";
import type { Ipam } from "./ipam/client.ts";

export async function observeProblems(
  ipam: Ipam,
  attacher: HostAttacher,
  rec: Pick<
    AttachmentRecord,
    "network" | "containerId" | "ifname" | "netns" | "hostVeth" | "gateway" | "result"
  >,
  exp: Expected | CniError | undefined,
): Promise<string[]> {
  if (!exp || isCniError(exp)) return ["no expectation to check against"];
  const v6 = exp.addresses.some((a) => a.includes(":"));
  const [pod, host, leases, bridge] = await Promise.all([
    observePod(rec.netns, rec.ifname, v6),
    hostLink(rec.hostVeth),
    ipam.list({ network: rec.network, containerId: rec.containerId, ifname: rec.ifname }),
    attacher.status(),
  ]);
  const lease = leases.find((l) => l.containerId === rec.containerId && l.ifname === rec.ifname);
  return checkProblems(exp, {
    ...pod,
    leasedIp: lease?.address.split("/")[0],
    hostProblems: [...attacher.checkPort(rec.hostVeth, host), ...(bridge ? [bridge] : [])],
  }, rec.gateway);
}
