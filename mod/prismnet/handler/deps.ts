/** What the CNI command handler works with: the IPAM, the host side, records, locks, settings. */
import type { Logger } from "../../log/mod.ts";
import type { AttachmentStore } from "../attachments.ts";
import type { HostAttacher } from "../dataplane/types.ts";
import type { Ipam } from "../ipam/client.ts";
import type { KeyedMutex } from "../lock.ts";

export interface Tenant {
  orgId: string;
  projectId: string;
}

export interface HandlerDeps {
  ipam: Ipam;
  attacher: HostAttacher;
  records: AttachmentStore;
  locks: KeyedMutex;
  node: string;
  mtu: number;
  log: Logger;
  /** Tenant owning a namespace (PlasmaCloud org/project); empty when unknown. */
  tenantOf: (namespace: string) => Promise<Tenant>;
  /** Records and leases younger than this survive GC. */
  gcGraceMs: number;
}
