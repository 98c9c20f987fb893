/**
 * The embedded PrismNET's persistent lease store. Each lease is one file named by its address,
 * created exclusively (temp + hard link) and fsynced, so an address can never be granted twice,
 * not even by two processes or across a crash. Namespace subnets live in subnets.json
 * (atomic replace). Everything is reloaded from disk on open.
 */
import {
  createExclusive,
  readJson,
  removeIfExists,
  sweepTemps,
  writeFileAtomic,
} from "../fsutil.ts";
import { leaseKey, pickOffset, pickSubnetIndex, subnetAt } from "./allocator.ts";
import {
  type Cidr,
  contains,
  formatCidr,
  formatIp,
  gatewayOf,
  type Ip,
  nthAddress,
  parseCidr,
  parseIp,
  usableRange,
} from "./cidr.ts";

export interface Lease {
  network: string;
  containerId: string;
  ifname: string;
  podUid: string;
  namespace: string;
  podName: string;
  orgId: string;
  projectId: string;
  node: string;
  /** Address without prefix. */
  ip: string;
  subnet: string;
  gateway: string;
  createdAt: string;
}

export interface NamespaceSubnet {
  namespace: string;
  index: number;
  subnet: string;
  gateway: string;
  orgId: string;
  projectId: string;
  createdAt: string;
}

interface SubnetsFile {
  clusterCidr: string;
  prefix: number;
  namespaces: Record<string, NamespaceSubnet>;
}

export type IpamErrorKind = "exhausted" | "tenant" | "conflict" | "invalid";

export class IpamError extends Error {
  constructor(readonly kind: IpamErrorKind, message: string) {
    super(message);
  }
}

export type AllocateInput = Omit<Lease, "ip" | "subnet" | "gateway" | "createdAt"> & {
  requestedIp?: string;
};

const fileNameOf = (ip: string) => ip.replaceAll(":", "_");

export class LeaseStore {
  private byKey = new Map<string, Lease>();
  private byIp = new Map<string, Lease>();
  private cursors = new Map<string, bigint>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly cluster: Cidr,
    private readonly subnets: SubnetsFile,
  ) {}

  static async open(dir: string, clusterCidr: string, prefix: number): Promise<LeaseStore> {
    const cluster = parseCidr(clusterCidr, true);
    if (!cluster) throw new Error(`prismnet IPAM: invalid cluster CIDR ${clusterCidr}`);
    if (prefix < cluster.prefix || prefix > (cluster.family === 4 ? 30 : 126)) {
      throw new Error(
        `prismnet IPAM: namespaceSubnetPrefix /${prefix} does not fit cluster CIDR ${clusterCidr}`,
      );
    }
    await Deno.mkdir(`${dir}/leases`, { recursive: true, mode: 0o700 });
    await sweepTemps(dir);
    await sweepTemps(`${dir}/leases`);
    const normalized = formatCidr(cluster);
    const saved = await readJson<SubnetsFile>(`${dir}/subnets.json`);
    if (
      saved && Object.keys(saved.namespaces).length > 0 &&
      (saved.clusterCidr !== normalized || saved.prefix !== prefix)
    ) {
      throw new Error(
        `prismnet IPAM: ${dir} holds subnets carved from ${saved.clusterCidr} /${saved.prefix}; ` +
          `the configuration now says ${normalized} /${prefix}. Move the state away to re-carve.`,
      );
    }
    const store = new LeaseStore(
      dir,
      cluster,
      saved ?? { clusterCidr: normalized, prefix, namespaces: {} },
    );
    await store.load();
    return store;
  }

  private async load() {
    for await (const e of Deno.readDir(`${this.dir}/leases`)) {
      if (!e.isFile || e.name.startsWith(".")) continue;
      const lease = await readJson<Lease>(`${this.dir}/leases/${e.name}`).catch(() => undefined);
      // An unreadable lease file still holds its address: never hand out what may be in use.
      const ip = lease?.ip ?? e.name.replaceAll("_", ":");
      const held = lease ?? unknownLease(ip);
      this.byIp.set(ip, held);
      if (lease) this.byKey.set(leaseKey(lease.network, lease.containerId, lease.ifname), lease);
    }
  }

  /** Runs `fn` after every earlier mutation finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  namespaceSubnet(namespace: string): NamespaceSubnet | undefined {
    return this.subnets.namespaces[namespace];
  }

  ensureSubnet(namespace: string, orgId: string, projectId: string) {
    return this.serial(() => this.ensureSubnetLocked(namespace, orgId, projectId));
  }

  private async ensureSubnetLocked(namespace: string, orgId: string, projectId: string) {
    const have = this.subnets.namespaces[namespace];
    if (have) {
      if (
        (orgId && have.orgId && orgId !== have.orgId) ||
        (projectId && have.projectId && projectId !== have.projectId)
      ) {
        throw new IpamError(
          "tenant",
          `namespace ${namespace} belongs to org ${have.orgId || "-"} project ${
            have.projectId || "-"
          }`,
        );
      }
      return { subnet: have, existing: true };
    }
    const taken = new Set(Object.values(this.subnets.namespaces).map((n) => n.index));
    const index = pickSubnetIndex(this.cluster, this.subnets.prefix, taken);
    if (index === undefined) {
      throw new IpamError(
        "exhausted",
        `cluster CIDR ${this.subnets.clusterCidr} has no free /${this.subnets.prefix}`,
      );
    }
    const cidr = subnetAt(this.cluster, this.subnets.prefix, index);
    const rec: NamespaceSubnet = {
      namespace,
      index,
      subnet: formatCidr(cidr),
      gateway: formatIp(gatewayOf(cidr)),
      orgId,
      projectId,
      createdAt: new Date().toISOString(),
    };
    const next = { ...this.subnets, namespaces: { ...this.subnets.namespaces, [namespace]: rec } };
    await writeFileAtomic(`${this.dir}/subnets.json`, JSON.stringify(next, null, 2));
    this.subnets.namespaces = next.namespaces;
    return { subnet: rec, existing: false };
  }

  get(network: string, containerId: string, ifname: string): Lease | undefined {
    return this.byKey.get(leaseKey(network, containerId, ifname));
  }

  allocate(input: AllocateInput): Promise<{ lease: Lease; existing: boolean }> {
    return this.serial(async () => {
      const key = leaseKey(input.network, input.containerId, input.ifname);
      const held = this.byKey.get(key);
      if (held) {
        if (held.namespace !== input.namespace) {
          throw new IpamError(
            "conflict",
            `${key} already holds ${held.ip} in namespace ${held.namespace}`,
          );
        }
        if (input.requestedIp && input.requestedIp !== held.ip) {
          throw new IpamError(
            "conflict",
            `${key} already holds ${held.ip}, not ${input.requestedIp}`,
          );
        }
        return { lease: held, existing: true };
      }
      const { subnet: ns } = await this.ensureSubnetLocked(
        input.namespace,
        input.orgId,
        input.projectId,
      );
      const cidr = parseCidr(ns.subnet)!;
      const ip = input.requestedIp ? this.checkRequested(cidr, input.requestedIp) : this.pick(cidr);
      const lease: Lease = {
        network: input.network,
        containerId: input.containerId,
        ifname: input.ifname,
        podUid: input.podUid,
        namespace: input.namespace,
        podName: input.podName,
        orgId: input.orgId || ns.orgId,
        projectId: input.projectId || ns.projectId,
        node: input.node,
        ip: formatIp(ip),
        subnet: ns.subnet,
        gateway: ns.gateway,
        createdAt: new Date().toISOString(),
      };
      const created = await createExclusive(
        `${this.dir}/leases/${fileNameOf(lease.ip)}`,
        JSON.stringify(lease),
      );
      if (!created) {
        // Another writer got there first; remember the address as used and report a conflict.
        this.byIp.set(lease.ip, unknownLease(lease.ip));
        throw new IpamError("conflict", `address ${lease.ip} was taken concurrently; retry`);
      }
      this.byIp.set(lease.ip, lease);
      this.byKey.set(key, lease);
      this.cursors.set(ns.subnet, ip.value - cidr.base);
      return { lease, existing: false };
    });
  }

  private checkRequested(cidr: Cidr, requested: string): Ip {
    const ip = parseIp(requested);
    if (!ip || !contains(cidr, ip)) {
      throw new IpamError(
        "invalid",
        `requested address ${requested} is not in namespace subnet ${formatCidr(cidr)}`,
      );
    }
    const off = ip.value - cidr.base;
    const { first, last } = usableRange(cidr);
    if (off < first || off > last) {
      throw new IpamError(
        "invalid",
        `requested address ${requested} is reserved in ${formatCidr(cidr)}`,
      );
    }
    const holder = this.byIp.get(formatIp(ip));
    if (holder) {
      throw new IpamError(
        "conflict",
        `requested address ${requested} is held by ${holder.containerId || "an unknown holder"}`,
      );
    }
    return ip;
  }

  private pick(cidr: Cidr): Ip {
    const subnet = formatCidr(cidr);
    const used = (off: bigint) => this.byIp.has(formatIp(nthAddress(cidr, off)));
    const off = pickOffset(cidr, used, this.cursors.get(subnet) ?? this.highestUsed(cidr));
    if (off === undefined) {
      throw new IpamError("exhausted", `namespace subnet ${subnet} has no free address`);
    }
    return nthAddress(cidr, off);
  }

  private highestUsed(cidr: Cidr): bigint {
    let best = 0n;
    for (const ip of this.byIp.keys()) {
      const p = parseIp(ip);
      if (p && contains(cidr, p) && p.value - cidr.base > best) best = p.value - cidr.base;
    }
    return best;
  }

  release(network: string, containerId: string, ifname: string): Promise<Lease | undefined> {
    return this.serial(async () => {
      const key = leaseKey(network, containerId, ifname);
      const lease = this.byKey.get(key);
      if (!lease) return undefined;
      await removeIfExists(`${this.dir}/leases/${fileNameOf(lease.ip)}`);
      this.byKey.delete(key);
      this.byIp.delete(lease.ip);
      return lease;
    });
  }

  list(filter: { node?: string; namespace?: string; network?: string } = {}): Lease[] {
    return [...this.byKey.values()]
      .filter((l) =>
        (!filter.node || l.node === filter.node) &&
        (!filter.namespace || l.namespace === filter.namespace) &&
        (!filter.network || l.network === filter.network)
      )
      .sort((a, b) =>
        cmp(
          leaseKey(a.network, a.containerId, a.ifname),
          leaseKey(b.network, b.containerId, b.ifname),
        )
      );
  }

  /** Addresses held, including unreadable lease files. */
  heldCount(): number {
    return this.byIp.size;
  }
}

const cmp = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;

function unknownLease(ip: string): Lease {
  return {
    network: "",
    containerId: "",
    ifname: "",
    podUid: "",
    namespace: "",
    podName: "",
    orgId: "",
    projectId: "",
    node: "",
    ip,
    subnet: "",
    gateway: "",
    createdAt: "",
  };
}
