/** What the embedded IPAM hands out and remembers: leases, namespace subnets, and its errors. */

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

export type IpamErrorKind = "exhausted" | "tenant" | "conflict" | "invalid";

export class IpamError extends Error {
  constructor(readonly kind: IpamErrorKind, message: string) {
    super(message);
  }
}

export type AllocateInput = Omit<Lease, "ip" | "subnet" | "gateway" | "createdAt"> & {
  requestedIp?: string;
};

/** A placeholder for an address held by someone we cannot name (an unreadable lease file). */
export function unknownLease(ip: string): Lease {
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
