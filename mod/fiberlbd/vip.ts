/**
 * External IPs on this host. An address that is already local (on any interface, or routed
 * locally like 127.0.0.0/8) is used as is; otherwise, when managing addresses is allowed, it is
 * added as a /32 (/128) to the dummy interface `fiberlb0`, which this module owns entirely:
 * addresses found there at start are adopted and removed once no load balancer uses them.
 */
import type { Logger } from "../log/mod.ts";

export interface VipOptions {
  /** Add non-local external IPs to the dummy interface. */
  manage: boolean;
  iface: string;
  /** Run the `ip` commands in this network namespace (tests, or a dedicated LB namespace). */
  netns?: string;
}

async function ip(netns: string | undefined, args: string[]): Promise<string> {
  const full = netns ? ["-n", netns, ...args] : args;
  const out = await new Deno.Command("ip", { args: full, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`ip ${full.join(" ")}: ${err || `exit ${out.code}`}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;

export class VipManager {
  readonly #ours = new Set<string>();
  #ifaceReady = false;

  constructor(private readonly opts: VipOptions, private readonly log: Logger) {
    if (!IFACE.test(opts.iface)) throw new Error(`interface name "${opts.iface}" is not valid`);
  }

  /** Adopts the addresses already on the dummy interface (left by a previous run). */
  async init(): Promise<void> {
    if (!this.opts.manage) return;
    let out: string;
    try {
      out = await ip(this.opts.netns, ["-j", "addr", "show", "dev", this.opts.iface]);
    } catch {
      return; // no interface yet
    }
    this.#ifaceReady = true;
    for (const link of JSON.parse(out || "[]")) {
      for (const a of link.addr_info ?? []) if (a.scope === "global") this.#ours.add(a.local);
    }
  }

  /** Addresses this manager put on the dummy interface. */
  owned(): string[] {
    return [...this.#ours];
  }

  async isLocal(addr: string): Promise<boolean> {
    if (this.#ours.has(addr)) return true;
    if (!this.opts.netns && (/^127\./.test(addr) || addr === "::1")) return true;
    const out = await ip(this.opts.netns, ["-j", "route", "get", addr]).catch(() => "[]");
    return JSON.parse(out || "[]")[0]?.type === "local";
  }

  /** Makes `addr` local, or throws saying why it cannot be served. */
  async ensure(addr: string): Promise<void> {
    if (await this.isLocal(addr)) return;
    if (!this.opts.manage) {
      throw new Error(`${addr} is not a local address (fiberlb.manageAddresses is off)`);
    }
    if (!this.#ifaceReady) await this.#createIface();
    const v6 = addr.includes(":");
    const args = v6
      ? ["-6", "addr", "add", `${addr}/128`, "dev", this.opts.iface, "nodad"]
      : ["addr", "add", `${addr}/32`, "dev", this.opts.iface];
    await ip(this.opts.netns, args).catch((err) => {
      if (!String(err.message).includes("File exists")) throw err;
    });
    this.#ours.add(addr);
    this.log.info("external IP added", { ip: addr, interface: this.opts.iface });
  }

  /**
   * Creates the interface as a dummy; on kernels built without the dummy driver, as a bridge
   * with no ports, which behaves the same for local addresses (it has no carrier and no ports,
   * so it never forwards anything).
   */
  async #createIface(): Promise<void> {
    let kind = "dummy";
    for (const type of ["dummy", "bridge"]) {
      try {
        await ip(this.opts.netns, ["link", "add", this.opts.iface, "type", type]);
        kind = type;
        break;
      } catch (err) {
        const msg = String((err as Error).message);
        if (msg.includes("File exists")) break;
        if (type === "bridge" || !/Unknown device type|not supported/i.test(msg)) throw err;
      }
    }
    // No link-local address: the interface holds external IPs and nothing else.
    await ip(this.opts.netns, ["link", "set", this.opts.iface, "addrgenmode", "none"]).catch(
      () => {},
    );
    await ip(this.opts.netns, ["link", "set", this.opts.iface, "up"]);
    this.#ifaceReady = true;
    if (kind !== "dummy") {
      this.log.warn("no dummy interface support; using a port-less bridge", {
        interface: this.opts.iface,
      });
    }
  }

  /** Removes `addr` if this manager added it. */
  async release(addr: string): Promise<void> {
    if (!this.#ours.has(addr)) return;
    const prefix = addr.includes(":") ? 128 : 32;
    await ip(this.opts.netns, ["addr", "del", `${addr}/${prefix}`, "dev", this.opts.iface]).catch(
      (err) => {
        if (!/Cannot assign|not found|No such/i.test(String(err.message))) throw err;
      },
    );
    this.#ours.delete(addr);
    this.log.info("external IP removed", { ip: addr, interface: this.opts.iface });
  }
}
