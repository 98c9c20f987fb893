/** Address and subnet choice for the embedded IPAM. Pure: the store owns the state. */
import { type Cidr, nthSubnet, subnetCount, usableRange } from "./cidr.ts";

/**
 * Next-fit: the first free offset after `cursor`, wrapping around, so a just-released address
 * is the last to be reused (stale ARP and conntrack entries age out first).
 */
export function pickOffset(
  subnet: Cidr,
  isUsed: (offset: bigint) => boolean,
  cursor: bigint,
): bigint | undefined {
  const { first, last } = usableRange(subnet);
  if (last < first) return undefined;
  const span = last - first + 1n;
  const start = cursor < first || cursor >= last ? first : cursor + 1n;
  for (let i = 0n; i < span; i++) {
    const off = first + ((start - first + i) % span);
    if (!isUsed(off)) return off;
  }
  return undefined;
}

/** The lowest subnet index not taken, or undefined when the cluster CIDR is carved up. */
export function pickSubnetIndex(
  cluster: Cidr,
  prefix: number,
  taken: Set<number>,
): number | undefined {
  const count = subnetCount(cluster, prefix);
  const limit = count > 1_000_000n ? 1_000_000 : Number(count);
  for (let i = 0; i < limit; i++) if (!taken.has(i)) return i;
  return undefined;
}

export function subnetAt(cluster: Cidr, prefix: number, index: number): Cidr {
  return nthSubnet(cluster, prefix, BigInt(index));
}

/** The lease key: CNI's `(network name, CNI_CONTAINERID, CNI_IFNAME)`. */
export function leaseKey(network: string, containerId: string, ifname: string): string {
  return `${network}/${containerId}/${ifname}`;
}
