/** The node daemon's view of PrismNET: a real gRPC client, remote or to the embedded service. */
import {
  call,
  type ClientOptions,
  type grpc,
  makeClient,
  serviceClient,
  Status,
} from "../../grpc/mod.ts";
import { type CniError, cniError, ERR } from "../../../cni/spec.ts";
import type { AllocateInput } from "./lease.ts";
import { PROTO_FILE, SERVICE_NAME } from "./service.ts";

/** The same attachment identity the embedded store keys its leases by. */
export type AllocateRequest = AllocateInput;

export interface AllocateResult {
  /** Address with prefix, `10.244.1.5/24`. */
  address: string;
  gateway: string;
  subnet: string;
  dnsServers: string[];
  existing: boolean;
}

export interface Allocation {
  network: string;
  containerId: string;
  ifname: string;
  podUid: string;
  namespace: string;
  node: string;
  address: string;
  createdAt: string;
}

export type ReleaseRequest = Pick<
  AllocateRequest,
  "network" | "containerId" | "ifname" | "podUid" | "namespace" | "podName"
>;

export interface Ipam {
  allocate(req: AllocateRequest): Promise<AllocateResult>;
  release(req: ReleaseRequest): Promise<{ released: boolean; address: string }>;
  list(
    filter: { node?: string; network?: string; containerId?: string; ifname?: string },
  ): Promise<Allocation[]>;
  /** Throws when PrismNET cannot answer. */
  ping(): Promise<void>;
  close(): void;
}

/** A PrismNET call failure as the CNI error it should become. */
export class IpamCallError extends Error {
  constructor(readonly cni: CniError) {
    super(cni.details ? `${cni.msg}: ${cni.details}` : cni.msg);
  }
}

export function cniErrorOfStatus(err: unknown, what: string): CniError {
  const e = err as Partial<grpc.ServiceError>;
  const detail = e.details ?? (err instanceof Error ? err.message : String(err));
  switch (e.code) {
    case Status.UNAVAILABLE:
    case Status.DEADLINE_EXCEEDED:
    case Status.ABORTED:
    case Status.CANCELLED:
      return cniError(ERR.tryAgainLater, `PrismNET unavailable during ${what}`, detail);
    case Status.RESOURCE_EXHAUSTED:
      return cniError(ERR.addressesExhausted, "no free pod address", detail);
    case Status.ALREADY_EXISTS:
    case Status.INVALID_ARGUMENT:
      return cniError(ERR.requestedUnavailable, `PrismNET rejected ${what}`, detail);
    default:
      return cniError(ERR.ipamFailed, `PrismNET ${what} failed`, detail);
  }
}

/** Where and how to reach PrismNET (see grpc/section.ts for the TLS and token rules). */
export type IpamClientOptions = ClientOptions & { timeoutMs: number };

export function createIpamClient(opts: IpamClientOptions): Ipam {
  const client = makeClient<grpc.Client>(serviceClient(PROTO_FILE, SERVICE_NAME), opts);
  const rpc = async <T>(method: string, req: unknown, what: string): Promise<T> => {
    try {
      return await call<T>(client, method, req, { timeoutMs: opts.timeoutMs });
    } catch (e) {
      throw new IpamCallError(cniErrorOfStatus(e, what));
    }
  };
  return {
    async allocate(r) {
      const res = await rpc<Record<string, unknown>>("AllocateIP", {
        network: r.network,
        container_id: r.containerId,
        ifname: r.ifname,
        pod_uid: r.podUid,
        namespace: r.namespace,
        pod_name: r.podName,
        org_id: r.orgId,
        project_id: r.projectId,
        node: r.node,
        requested_ip: r.requestedIp ?? "",
      }, "AllocateIP");
      return {
        address: String(res.ip_address),
        gateway: String(res.gateway ?? ""),
        subnet: String(res.subnet ?? ""),
        dnsServers: (res.dns_servers as string[] | undefined) ?? [],
        existing: Boolean(res.existing),
      };
    },
    async release(r) {
      const res = await rpc<{ released: boolean; ip_address: string }>("ReleaseIP", {
        network: r.network,
        container_id: r.containerId,
        ifname: r.ifname,
        pod_uid: r.podUid,
        namespace: r.namespace,
        pod_name: r.podName,
      }, "ReleaseIP");
      return { released: res.released, address: res.ip_address };
    },
    async list(filter) {
      const out: Allocation[] = [];
      let token = "";
      do {
        const res = await rpc<{ allocations: Record<string, string>[]; next_page_token: string }>(
          "ListAllocations",
          {
            node: filter.node ?? "",
            network: filter.network ?? "",
            container_id: filter.containerId ?? "",
            ifname: filter.ifname ?? "",
            page_size: 1000,
            page_token: token,
          },
          "ListAllocations",
        );
        for (const a of res.allocations) {
          out.push({
            network: a.network,
            containerId: a.container_id,
            ifname: a.ifname,
            podUid: a.pod_uid,
            namespace: a.namespace,
            node: a.node,
            address: a.ip_address,
            createdAt: a.created_at,
          });
        }
        token = res.next_page_token;
      } while (token);
      return out;
    },
    async ping() {
      await rpc("ListAllocations", { node: "\u0000none", page_size: 1 }, "status probe");
    },
    close() {
      client.close();
    },
  };
}
