/**
 * Typed client of `proto/fiberlb.proto`. Used against a real FiberLB (TLS + IAM bearer token)
 * and against the embedded one (unix socket): the controller never knows which.
 */
import {
  call,
  type ClientOptions,
  type grpc,
  makeClient,
  serviceClient,
  Status,
} from "../grpc/mod.ts";

export const PROTO_FILE = "fiberlb.proto";
export const SERVICE_NAME = "plasmacloud.fiberlb.v1.LoadBalancerService";

export type Protocol = "TCP" | "UDP" | "HTTP" | "HTTPS";
export type Algorithm = "ROUND_ROBIN" | "LEAST_CONN" | "IP_HASH";
export type Affinity = "NONE" | "CLIENT_IP";
export type HealthCheckType = "HEALTH_CHECK_NONE" | "HEALTH_CHECK_TCP" | "HEALTH_CHECK_HTTP";
export type MemberHealth = "MEMBER_HEALTH_UNKNOWN" | "MEMBER_HEALTHY" | "MEMBER_UNHEALTHY";
export type ListenerStatus = "LISTENER_PENDING" | "LISTENER_ACTIVE" | "LISTENER_ERROR";

export interface HealthCheck {
  type: HealthCheckType;
  path: string;
  interval_ms: number;
  timeout_ms: number;
  retries: number;
  port: number;
}

export interface PoolMember {
  address: string;
  port: number;
  weight: number;
  health?: MemberHealth;
}

export interface PoolSpec {
  algorithm: Algorithm;
  session_affinity: Affinity;
  affinity_timeout_seconds: number;
  health_check: HealthCheck;
  members: PoolMember[];
}

export interface Pool extends PoolSpec {
  id: string;
  load_balancer_id: string;
  name: string;
  revision: string;
}

export interface Listener {
  id: string;
  load_balancer_id: string;
  name: string;
  protocol: Protocol;
  port: number;
  default_pool_id: string;
  status: ListenerStatus;
  status_message: string;
}

export interface Tenant {
  org_id: string;
  project_id: string;
}

export interface LoadBalancer extends Tenant {
  id: string;
  name: string;
  description: string;
  external_ip: string;
  ip_sharing_key: string;
  labels: Record<string, string>;
  listeners: Listener[];
  pools: Pool[];
  create_time: string;
  revision: string;
}

export interface PoolTemplate extends PoolSpec {
  name: string;
}

export interface ListenerTemplate {
  name: string;
  protocol: Protocol;
  port: number;
  /** One of the request's pools, by name ("" for none). */
  default_pool_name: string;
}

export interface CreateLoadBalancerRequest extends Tenant {
  name: string;
  description: string;
  external_ip: string;
  ip_sharing_key: string;
  labels: Record<string, string>;
  /** Created with the load balancer in one atomic change (only when it is created). */
  pools?: PoolTemplate[];
  listeners?: ListenerTemplate[];
}

export interface ListFilter {
  org_id?: string;
  project_id?: string;
  name?: string;
  name_prefix?: string;
  label_match?: Record<string, string>;
}

/** The gRPC status code of an error, if it is a gRPC error. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return grpcCode(err) === Status.NOT_FOUND;
}

export class FiberlbClient {
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;

  constructor(opts: ClientOptions & { timeoutMs?: number }) {
    this.#client = makeClient(serviceClient(PROTO_FILE, SERVICE_NAME), opts);
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  close(): void {
    this.#client.close();
  }

  #call<T>(method: string, req: unknown): Promise<T> {
    return call<T>(this.#client, method, req, { timeoutMs: this.#timeoutMs });
  }

  createLoadBalancer(req: CreateLoadBalancerRequest): Promise<LoadBalancer> {
    return this.#call("CreateLoadBalancer", req);
  }

  getLoadBalancer(req: { id?: string; name?: string } & Partial<Tenant>): Promise<LoadBalancer> {
    return this.#call("GetLoadBalancer", req);
  }

  /** get that answers undefined on NOT_FOUND. */
  async findLoadBalancer(
    req: { id?: string; name?: string } & Partial<Tenant>,
  ): Promise<LoadBalancer | undefined> {
    try {
      return await this.getLoadBalancer(req);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  listPage(
    filter: ListFilter,
    pageSize: number,
    pageToken = "",
  ): Promise<{ load_balancers: LoadBalancer[]; next_page_token: string }> {
    return this.#call("ListLoadBalancers", {
      ...filter,
      page_size: pageSize,
      page_token: pageToken,
    });
  }

  /** Every load balancer matching `filter`, page by page. */
  async listAll(filter: ListFilter = {}, pageSize = 500): Promise<LoadBalancer[]> {
    const out: LoadBalancer[] = [];
    let token = "";
    do {
      const page = await this.listPage(filter, pageSize, token);
      out.push(...page.load_balancers);
      token = page.next_page_token;
    } while (token);
    return out;
  }

  updateLoadBalancer(
    req: { id: string; description: string; labels: Record<string, string> } & Partial<Tenant> & {
      external_ip?: string;
      ip_sharing_key?: string;
    },
  ): Promise<LoadBalancer> {
    return this.#call("UpdateLoadBalancer", req);
  }

  async deleteLoadBalancer(req: { id: string } & Partial<Tenant>): Promise<void> {
    await this.#call("DeleteLoadBalancer", req);
  }

  createListener(
    req: {
      load_balancer_id: string;
      name: string;
      protocol: Protocol;
      port: number;
      default_pool_id: string;
    } & Partial<Tenant>,
  ): Promise<Listener> {
    return this.#call("CreateListener", req);
  }

  updateListener(
    req:
      & { id: string; protocol: Protocol; port: number; default_pool_id: string }
      & Partial<Tenant>,
  ): Promise<Listener> {
    return this.#call("UpdateListener", req);
  }

  async deleteListener(req: { id: string } & Partial<Tenant>): Promise<void> {
    await this.#call("DeleteListener", req);
  }

  createPool(
    req: PoolSpec & { load_balancer_id: string; name: string } & Partial<Tenant>,
  ): Promise<Pool> {
    return this.#call("CreatePool", req);
  }

  getPool(req: { id: string } & Partial<Tenant>): Promise<Pool> {
    return this.#call("GetPool", req);
  }

  updatePool(req: PoolSpec & { pool_id: string } & Partial<Tenant>): Promise<Pool> {
    return this.#call("UpdatePool", req);
  }

  async deletePool(req: { id: string } & Partial<Tenant>): Promise<void> {
    await this.#call("DeletePool", req);
  }
}
