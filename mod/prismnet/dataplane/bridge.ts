/** Standalone mode: host ends on a Linux bridge that holds every namespace subnet's gateway. */
import { macFrom } from "../desired.ts";
import {
  ip,
  ipBatch,
  IpCommandError,
  ipJson,
  ipJsonIfExists,
  type LinkInfo,
} from "../netlink/ip.ts";
import type { HostAttacher } from "./types.ts";

export class LinuxBridgeAttacher implements HostAttacher {
  readonly kind = "bridge";
  readonly bridgeMac: string;
  /** Gateways known to be on the bridge; re-verified by status(). */
  private gateways = new Set<string>();

  constructor(readonly bridge: string, private readonly mtu: number) {
    // A fixed MAC keeps the gateway's MAC stable while ports come and go.
    this.bridgeMac = macFrom(`bridge:${bridge}`);
  }

  async ensureReady(): Promise<void> {
    const links = await ipJsonIfExists<LinkInfo>(["-details", "link", "show", "dev", this.bridge]);
    const link = links?.[0];
    if (link && link.linkinfo?.info_kind !== "bridge") {
      throw new Error(
        `prismnet: ${this.bridge} exists but is a ${
          link.linkinfo?.info_kind ?? "non-bridge"
        } device`,
      );
    }
    if (!link) {
      try {
        await ip([
          "link",
          "add",
          "name",
          this.bridge,
          "address",
          this.bridgeMac,
          "mtu",
          String(this.mtu),
          "type",
          "bridge",
        ]);
      } catch (e) {
        if (!(e instanceof IpCommandError && e.exists)) throw e;
      }
    }
    await ip(["link", "set", "dev", this.bridge, "up"]);
    this.gateways.clear();
    // Pods in different namespace subnets reach each other through the host.
    await Deno.writeTextFile("/proc/sys/net/ipv4/ip_forward", "1").catch(() => {});
    await Deno.writeTextFile("/proc/sys/net/ipv6/conf/all/forwarding", "1").catch(() => {});
  }

  async ensureGateway(gatewayWithPrefix: string): Promise<void> {
    if (this.gateways.has(gatewayWithPrefix)) return;
    // `replace` is idempotent; nodad keeps an IPv6 gateway usable at once.
    const v6 = gatewayWithPrefix.includes(":");
    await ip(["addr", "replace", gatewayWithPrefix, "dev", this.bridge, ...(v6 ? ["nodad"] : [])]);
    this.gateways.add(gatewayWithPrefix);
  }

  linkAddOptions(): string[] {
    return ["master", this.bridge];
  }

  attach(): Promise<void> {
    return Promise.resolve();
  }

  detach(): Promise<void> {
    return Promise.resolve();
  }

  checkPort(hostVeth: string, link: LinkInfo | undefined): string[] {
    if (!link) return [`host interface ${hostVeth} is missing`];
    const out: string[] = [];
    if (link.master !== this.bridge) {
      out.push(`host interface ${hostVeth} is not on bridge ${this.bridge}`);
    }
    if (!link.flags.includes("UP")) out.push(`host interface ${hostVeth} is down`);
    return out;
  }

  async listPorts(): Promise<string[]> {
    const links = await ipJsonIfExists<LinkInfo>(["link", "show", "master", this.bridge]);
    return (links ?? []).map((l) => l.ifname);
  }

  async status(): Promise<string | undefined> {
    const links = await ipJsonIfExists<LinkInfo>(["link", "show", "dev", this.bridge]);
    if (!links?.length) return `bridge ${this.bridge} does not exist`;
    if (!links[0].flags.includes("UP")) return `bridge ${this.bridge} is down`;
    const addrs = await ipJson<{ addr_info: Array<{ local: string; prefixlen: number }> }>(
      ["addr", "show", "dev", this.bridge],
    );
    const have = new Set(addrs.flatMap((a) => a.addr_info.map((i) => `${i.local}/${i.prefixlen}`)));
    for (const gw of this.gateways) {
      if (!have.has(gw)) {
        this.gateways.delete(gw);
        return `gateway ${gw} is missing from ${this.bridge}`;
      }
    }
    return undefined;
  }
}

/** Removes a bridge (tests and uninstall); absent is fine. */
export async function deleteBridge(name: string): Promise<void> {
  await ipBatch([`link del dev ${name}`]).catch(() => {});
}
