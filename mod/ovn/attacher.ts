/**
 * PrismNET's OVN mode on a node, behind the same HostAttacher interface as the Linux bridge:
 * at ADD the pod gets a logical switch port on its namespace's switch (created on first use,
 * joined to the cluster router), its host veth end goes on the integration bridge with
 * `external_ids:iface-id=<logical port>`, and ADD returns only once the port is up. DEL undoes
 * both by the container's identity, so it works without any local state.
 */
import type { Logger } from "../log/mod.ts";
import { OvsdbSession } from "../ovsdb/mod.ts";
import type { AttachmentIdentity, HostAttacher } from "../prismnet/dataplane/types.ts";
import type { LinkInfo } from "../prismnet/netlink/ip.ts";
import { disableTxOffload } from "./ethtool.ts";
import { defaultGateway, EXT, parseAddress, podPortName } from "./names.ts";
import { LocalOvs } from "./ovs.ts";
import { OvnTopology, SwitchMissingError } from "./topology.ts";

export interface OvnNodeOptions {
  /** NB DB remote (`tcp:host:6641` / `unix:/path`). */
  northbound: string;
  /** SB DB remote, written to ovn-remote for ovn-controller. */
  southbound: string;
  /** This node's Open_vSwitch DB. */
  ovsdb: string;
  /** Integration bridge (br-int). */
  bridge: string;
  encapType: string;
  /** Tunnel endpoint; empty leaves ovn-encap-ip as it is. */
  encapIp: string;
  /** Chassis name (system-id): the node name. */
  systemId: string;
  /** `system` (kernel datapath) or `netdev` (userspace: TX checksum offload off on veths). */
  datapathType: string;
  portUpTimeoutMs: number;
  /** Write the chassis external_ids into Open_vSwitch (off when the host is set up otherwise). */
  configureChassis: boolean;
  node: string;
}

export class OvnAttacher implements HostAttacher {
  readonly kind = "ovs";
  readonly bridge: string;
  bridgeMac = "00:00:00:00:00:00";
  readonly nb: OvsdbSession;
  readonly ovsSession: OvsdbSession;
  readonly topology: OvnTopology;
  readonly ovs: LocalOvs;
  /** Gateways PrismNET's IPAM reported, by subnet (ensureGateway runs just before attach). */
  private gateways = new Map<string, string>();
  /** Namespaces whose switch is known to match `subnet` (skips a read per ADD). */
  private ensured = new Map<string, string>();
  private ensuring = new Map<string, Promise<void>>();
  /** Host ends known to be on the bridge, for the synchronous checkPort. */
  private onBridge = new Set<string>();

  constructor(readonly opts: OvnNodeOptions, private readonly log: Logger) {
    this.bridge = opts.bridge;
    this.nb = new OvsdbSession(opts.northbound, "OVN_Northbound", { requestTimeoutMs: 30_000 });
    this.ovsSession = new OvsdbSession(opts.ovsdb, "Open_vSwitch", { requestTimeoutMs: 30_000 });
    this.topology = new OvnTopology(this.nb);
    this.ovs = new LocalOvs(this.ovsSession);
  }

  async ensureReady(): Promise<void> {
    const o = this.opts;
    if (o.configureChassis) {
      await this.ovs.configureChassis({
        systemId: o.systemId,
        southbound: o.southbound,
        encapType: o.encapType,
        encapIp: o.encapIp,
        bridge: o.bridge,
        datapathType: o.datapathType,
      });
    }
    await this.ovs.ensureBridge(o.bridge, o.datapathType);
    await this.topology.ensureClusterRouter();
    this.bridgeMac = (await this.ovs.interfaceMac(o.bridge)) || this.bridgeMac;
    this.onBridge = new Set((await this.ovs.listPorts()).map((p) => p.name));
    this.log.info("OVN mode ready", {
      northbound: o.northbound,
      bridge: o.bridge,
      datapath: o.datapathType,
    });
  }

  ensureGateway(gatewayWithPrefix: string): Promise<void> {
    // Recorded synchronously: the handler calls this before attach() in the same tick.
    const { ip, cidr } = parseAddress(gatewayWithPrefix);
    this.gateways.set(cidr, ip);
    return Promise.resolve();
  }

  linkAddOptions(): string[] {
    return [];
  }

  async attach(hostVeth: string, who: AttachmentIdentity): Promise<void> {
    const { ip, cidr } = parseAddress(who.address);
    const gateway = this.gateways.get(cidr) ?? defaultGateway(cidr);
    const lsp = podPortName(who.podName, who.containerId, who.ifname);
    const ids = {
      [EXT.pod]: who.podName,
      [EXT.podUid]: who.podUid,
      [EXT.containerId]: who.containerId,
      [EXT.ifname]: who.ifname,
      [EXT.node]: this.opts.node,
    };
    const port = {
      name: lsp,
      namespace: who.namespace,
      mac: who.podMac,
      ips: [ip],
      externalIds: ids,
    };
    await this.ensureSwitch(who.namespace, cidr, gateway);
    try {
      await this.topology.addPodPort(port);
    } catch (e) {
      if (!(e instanceof SwitchMissingError)) throw e;
      this.ensured.delete(who.namespace); // removed behind our back: create it again
      await this.ensureSwitch(who.namespace, cidr, gateway);
      await this.topology.addPodPort(port);
    }
    await this.ovs.attachPort(this.bridge, hostVeth, lsp, {
      ...ids,
      [EXT.namespace]: who.namespace,
    });
    this.onBridge.add(hostVeth);
    if (this.opts.datapathType === "netdev") {
      await Promise.all([
        disableTxOffload(hostVeth),
        who.netns ? disableTxOffload(who.ifname, who.netns) : Promise.resolve(),
      ]);
    }
    await this.topology.waitPortUp(lsp, this.opts.portUpTimeoutMs);
  }

  /** Once per namespace and subnet; concurrent ADDs in a new namespace share one ensure. */
  private ensureSwitch(namespace: string, cidr: string, gateway: string): Promise<void> {
    if (this.ensured.get(namespace) === cidr) return Promise.resolve();
    const key = `${namespace}\0${cidr}`;
    let p = this.ensuring.get(key);
    if (!p) {
      p = this.topology.ensureNamespaceSwitch({ namespace, subnets: [{ cidr, gateway }] })
        .then(() => void this.ensured.set(namespace, cidr))
        .finally(() => this.ensuring.delete(key));
      this.ensuring.set(key, p);
    }
    return p;
  }

  async detach(
    hostVeth: string,
    who: Pick<AttachmentIdentity, "network" | "containerId" | "ifname">,
  ): Promise<void> {
    await this.ovs.detachPort(hostVeth);
    this.onBridge.delete(hostVeth);
    await this.topology.removePodPortsByIds({
      [EXT.containerId]: who.containerId,
      [EXT.ifname]: who.ifname,
    });
  }

  checkPort(hostVeth: string, link: LinkInfo | undefined): string[] {
    if (!link) return [`host interface ${hostVeth} is missing`];
    const out: string[] = [];
    if (!this.onBridge.has(hostVeth)) {
      out.push(`host interface ${hostVeth} is not on OVS bridge ${this.bridge}`);
    }
    if (!link.flags.includes("UP")) out.push(`host interface ${hostVeth} is down`);
    return out;
  }

  /**
   * Host ends on the bridge (the leak sweep's view). A port whose device is gone (a veth
   * deleted behind OVS's back) is pruned here with its logical port: nothing else would.
   */
  async listPorts(): Promise<string[]> {
    const ports = await this.ovs.listPorts();
    const live: string[] = [];
    for (const p of ports) {
      if (!p.error || !/No such device/i.test(p.error)) {
        live.push(p.name);
        continue;
      }
      await this.ovs.detachPort(p.name);
      if (p.externalIds[EXT.containerId]) {
        await this.topology.removePodPortsByIds({
          [EXT.containerId]: p.externalIds[EXT.containerId],
          [EXT.ifname]: p.externalIds[EXT.ifname] ?? "eth0",
        });
      }
      this.log.info("pruned OVS port of a vanished device", { port: p.name, lsp: p.ifaceId });
    }
    this.onBridge = new Set(live);
    return live;
  }

  async status(): Promise<string | undefined> {
    try {
      await (await this.nb.get()).client.echo();
    } catch (e) {
      return `OVN northbound ${this.opts.northbound} unreachable: ${
        e instanceof Error ? e.message : e
      }`;
    }
    try {
      if (!(await this.ovs.bridgeExists(this.bridge))) {
        return `OVS bridge ${this.bridge} does not exist`;
      }
    } catch (e) {
      return `Open_vSwitch ${this.opts.ovsdb} unreachable: ${e instanceof Error ? e.message : e}`;
    }
    return undefined;
  }

  close(): void {
    this.nb.close();
    this.ovsSession.close();
  }
}
