/**
 * The embedded PrismNET's persistent lease store: indexes over the lease files by attachment
 * and by address, with every mutation run one at a time. Everything is reloaded from disk on
 * open. The files themselves (and why an address cannot be granted twice) are lease_files.ts;
 * the choice of address is address_choice.ts.
 */
import { checkRequested, pickFree } from "./address_choice.ts";
import { leaseKey, pickSubnetIndex, subnetAt } from "./allocator.ts";
import { type Cidr, formatCidr, formatIp, gatewayOf, parseCidr } from "./cidr.ts";
import {
  type AllocateInput,
  IpamError,
  type Lease,
  type NamespaceSubnet,
  unknownLease,
} from "./lease.ts";
import {
  openStateDir,
  readLeaseFiles,
  removeLeaseFile,
  type SubnetsFile,
  writeLeaseFile,
  writeSubnetsFile,
} from "./lease_files.ts";

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
    const store = new LeaseStore(dir, cluster, await openStateDir(dir, cluster, prefix));
    await store.load();
    return store;
  }

  private async load() {
    for await (const { ip, lease } of readLeaseFiles(this.dir)) {
      // An unreadable lease file still holds its address: never hand out what may be in use.
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
    await writeSubnetsFile(this.dir, next);
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
      const ip = input.requestedIp
        ? checkRequested(cidr, input.requestedIp, this.byIp)
        : pickFree(cidr, this.byIp, this.cursors.get(formatCidr(cidr)));
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
      const created = await writeLeaseFile(this.dir, lease);
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

  release(network: string, containerId: string, ifname: string): Promise<Lease | undefined> {
    return this.serial(async () => {
      const key = leaseKey(network, containerId, ifname);
      const lease = this.byKey.get(key);
      if (!lease) return undefined;
      await removeLeaseFile(this.dir, lease.ip);
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
