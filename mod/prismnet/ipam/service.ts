/**
 * The embedded PrismNET NetworkService: the gRPC contract of proto/prismnet.proto served from
 * the local lease store. Used when no PrismNET endpoint is configured, and by every test, so the
 * node daemon always talks real gRPC.
 */
import {
  GrpcError,
  loadProto,
  type RunningServer,
  startServer,
  Status,
  unaryHandlers,
} from "../../grpc/mod.ts";
import type { grpc } from "../../grpc/mod.ts";
import { leaseKey } from "./allocator.ts";
import { formatIp, parseIp } from "./cidr.ts";
import { IpamError, type Lease } from "./lease.ts";
import { LeaseStore } from "./store.ts";

export const PROTO_FILE = "prismnet.proto";
export const SERVICE_NAME = "plasmacloud.prismnet.v1.NetworkService";

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function need(req: Record<string, string>, field: string, pattern: RegExp, what: string): string {
  const v = req[field] ?? "";
  if (!pattern.test(v)) {
    throw new GrpcError(Status.INVALID_ARGUMENT, `${field}: ${JSON.stringify(v)} is not ${what}`);
  }
  return v;
}

function toStatus(e: unknown): never {
  if (e instanceof IpamError) {
    const code = {
      exhausted: Status.RESOURCE_EXHAUSTED,
      tenant: Status.FAILED_PRECONDITION,
      conflict: Status.ALREADY_EXISTS,
      invalid: Status.INVALID_ARGUMENT,
    }[e.kind];
    throw new GrpcError(code, e.message);
  }
  throw e;
}

function prefixOf(subnet: string): string {
  return subnet.slice(subnet.indexOf("/"));
}

export function allocationOf(l: Lease) {
  return {
    network: l.network,
    container_id: l.containerId,
    ifname: l.ifname,
    pod_uid: l.podUid,
    namespace: l.namespace,
    pod_name: l.podName,
    org_id: l.orgId,
    project_id: l.projectId,
    node: l.node,
    ip_address: `${l.ip}${prefixOf(l.subnet)}`,
    gateway: l.gateway,
    subnet: l.subnet,
    created_at: l.createdAt,
  };
}

export function networkServiceImpl(store: LeaseStore, dnsServers: string[] = []) {
  return unaryHandlers({
    AllocateIP: async (req) => {
      const network = need(req, "network", TOKEN, "a CNI network name");
      const containerId = need(req, "container_id", TOKEN, "a container id");
      const ifname = need(req, "ifname", /^[^/:\s]{1,15}$/, "an interface name");
      const namespace = need(req, "namespace", NAME, "a namespace name");
      let requestedIp: string | undefined;
      if (req.requested_ip) {
        const ip = parseIp(req.requested_ip);
        if (!ip) {
          throw new GrpcError(
            Status.INVALID_ARGUMENT,
            `requested_ip: ${req.requested_ip} is not an address`,
          );
        }
        requestedIp = formatIp(ip);
      }
      const { lease, existing } = await store.allocate({
        network,
        containerId,
        ifname,
        namespace,
        podName: req.pod_name ?? "",
        podUid: req.pod_uid ?? "",
        orgId: req.org_id ?? "",
        projectId: req.project_id ?? "",
        node: req.node ?? "",
        requestedIp,
      }).catch(toStatus);
      return {
        ip_address: `${lease.ip}${prefixOf(lease.subnet)}`,
        gateway: lease.gateway,
        dns_servers: dnsServers,
        subnet: lease.subnet,
        logical_switch: `k8s-${namespace}`,
        existing,
      };
    },
    ReleaseIP: async (req) => {
      const network = need(req, "network", TOKEN, "a CNI network name");
      const containerId = need(req, "container_id", TOKEN, "a container id");
      const ifname = need(req, "ifname", /^[^/:\s]{1,15}$/, "an interface name");
      const held = store.get(network, containerId, ifname);
      if (held && req.pod_uid && held.podUid && held.podUid !== req.pod_uid) {
        throw new GrpcError(
          Status.FAILED_PRECONDITION,
          `${
            leaseKey(network, containerId, ifname)
          } belongs to pod ${held.podUid}, not ${req.pod_uid}`,
        );
      }
      const lease = await store.release(network, containerId, ifname);
      return { released: lease !== undefined, ip_address: lease?.ip ?? "" };
    },
    ListAllocations: (req) => {
      const size = Math.min(Math.max(Number(req.page_size) || 500, 1), 5000);
      const after = req.page_token ? atob(req.page_token) : "";
      const all = store.list({ node: req.node, namespace: req.namespace, network: req.network })
        .filter((l) =>
          (!req.container_id || l.containerId === req.container_id) &&
          (!req.ifname || l.ifname === req.ifname) &&
          leaseKey(l.network, l.containerId, l.ifname) > after
        );
      const page = all.slice(0, size);
      const last = page[page.length - 1];
      return Promise.resolve({
        allocations: page.map(allocationOf),
        next_page_token: all.length > size && last
          ? btoa(leaseKey(last.network, last.containerId, last.ifname))
          : "",
      });
    },
    CreateLogicalSwitch: async (req) => {
      const namespace = need(req, "namespace", NAME, "a namespace name");
      const { subnet, existing } = await store.ensureSubnet(
        namespace,
        req.org_id ?? "",
        req.project_id ?? "",
      )
        .catch(toStatus);
      return { name: `k8s-${namespace}`, subnet: subnet.subnet, gateway: subnet.gateway, existing };
    },
  });
}

export function networkServiceDefinition(): grpc.ServiceDefinition {
  const pkg = loadProto(PROTO_FILE) as unknown as {
    plasmacloud: { prismnet: { v1: { NetworkService: grpc.ServiceClientConstructor } } };
  };
  return pkg.plasmacloud.prismnet.v1.NetworkService.service;
}

export interface EmbeddedPrismnet {
  server: RunningServer;
  store: LeaseStore;
  stop(): Promise<void>;
}

/** Opens the lease store under `dir` and serves NetworkService on `address`. */
export async function startEmbeddedPrismnet(opts: {
  dir: string;
  address: string;
  clusterCidr: string;
  namespaceSubnetPrefix: number;
  dnsServers?: string[];
}): Promise<EmbeddedPrismnet> {
  const store = await LeaseStore.open(opts.dir, opts.clusterCidr, opts.namespaceSubnetPrefix);
  const server = await startServer(opts.address, [[
    networkServiceDefinition(),
    networkServiceImpl(store, opts.dnsServers),
  ]]);
  return { server, store, stop: () => server.stop() };
}
