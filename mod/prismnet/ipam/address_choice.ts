/**
 * Which address a new lease gets inside its namespace subnet: the requested one if it is free
 * and usable, else the next free one after the subnet's cursor. Pure: the store passes in the
 * addresses held.
 */
import { pickOffset } from "./allocator.ts";
import {
  type Cidr,
  contains,
  formatCidr,
  formatIp,
  type Ip,
  nthAddress,
  parseIp,
  usableRange,
} from "./cidr.ts";
import { IpamError, type Lease } from "./lease.ts";

/** Held addresses (without prefix) and who holds them. */
export type HeldAddresses = ReadonlyMap<string, Lease>;

export function checkRequested(cidr: Cidr, requested: string, held: HeldAddresses): Ip {
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
  const holder = held.get(formatIp(ip));
  if (holder) {
    throw new IpamError(
      "conflict",
      `requested address ${requested} is held by ${holder.containerId || "an unknown holder"}`,
    );
  }
  return ip;
}

/** Without a cursor (nothing allocated since open), next-fit starts after the highest held. */
export function pickFree(cidr: Cidr, held: HeldAddresses, cursor: bigint | undefined): Ip {
  const subnet = formatCidr(cidr);
  const used = (off: bigint) => held.has(formatIp(nthAddress(cidr, off)));
  const off = pickOffset(cidr, used, cursor ?? highestUsed(cidr, held));
  if (off === undefined) {
    throw new IpamError("exhausted", `namespace subnet ${subnet} has no free address`);
  }
  return nthAddress(cidr, off);
}

function highestUsed(cidr: Cidr, held: HeldAddresses): bigint {
  let best = 0n;
  for (const ip of held.keys()) {
    const p = parseIp(ip);
    if (p && contains(cidr, p) && p.value - cidr.base > best) best = p.value - cidr.base;
  }
  return best;
}
