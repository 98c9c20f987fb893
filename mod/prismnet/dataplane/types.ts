/**
 * The host side of pod networking, behind one interface: a Linux bridge holding the gateways
 * (standalone, bridge.ts) or the OVS integration bridge with an OVN logical port per pod (OVN
 * mode). The pod side (veth.ts) is the same for both.
 */
import type { LinkInfo } from "../netlink/ip.ts";

/** Who a host port belongs to; OVN mode names its logical switch port from it. */
export interface AttachmentIdentity {
  network: string;
  containerId: string;
  ifname: string;
  namespace: string;
  podName: string;
  podUid: string;
  /** Address with prefix, `10.244.1.5/24`. */
  address: string;
  podMac: string;
  /** The pod's network namespace (OVN mode turns TX checksum offload off on the pod end). */
  netns?: string;
}

export interface HostAttacher {
  readonly kind: "bridge" | "ovs";
  /** The bridge pods hang off (a Linux bridge or br-int). */
  readonly bridge: string;
  /** The bridge's MAC, as ADD results report it. */
  readonly bridgeMac: string;
  /** Prepares the host once: bridge present and up, forwarding on. Idempotent. */
  ensureReady(): Promise<void>;
  /** Makes `gateway/prefix` answer on the host side (standalone: an address on the bridge). */
  ensureGateway(gatewayWithPrefix: string): Promise<void>;
  /**
   * Options for the host end's `ip link add` so it is attached when created (saves a process),
   * e.g. `["master", "prismnet0"]`; empty when attach() does the work.
   */
  linkAddOptions(): string[];
  /** Attaches a created host end (OVS: add-port with external_ids:iface-id); may be a no-op. */
  attach(hostVeth: string, who: AttachmentIdentity): Promise<void>;
  /** Undoes attach(); must succeed when there is nothing to undo. */
  detach(
    hostVeth: string,
    who: Pick<AttachmentIdentity, "network" | "containerId" | "ifname">,
  ): Promise<void>;
  /** What is wrong with an attachment's host end ([] when fine). */
  checkPort(hostVeth: string, link: LinkInfo | undefined): string[];
  /** Names of the host ends currently attached (for leak repair). */
  listPorts(): Promise<string[]>;
  /** Undefined when healthy, else why pods cannot be attached now. */
  status(): Promise<string | undefined>;
}
