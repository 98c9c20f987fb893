/**
 * The pure core of the FiberLB controller: from Services, EndpointSlices, Nodes, Namespaces and
 * the current allocations to the address each Service should hold (addresses.ts) and the load
 * balancer it should have — one listener and one pool per port, members per members.ts. No I/O;
 * every decision is unit-tested.
 */
import type { KubeObject } from "../kube/api.ts";
import type { LbOptions } from "./annotations.ts";
import type { Algorithm, HealthCheck, PoolMember, Protocol } from "./client.ts";
import {
  lbName,
  ownerLabels,
  type Problem,
  serviceKey,
  type ServicePort,
  servicePorts,
  type Settings,
  type Tenant,
} from "./identity.ts";
import { nodeMembers, podMembers } from "./members.ts";

export * from "./identity.ts";
export * from "./addresses.ts";
export * from "./members.ts";

export interface DesiredPool {
  name: string;
  algorithm: Algorithm;
  session_affinity: "NONE" | "CLIENT_IP";
  affinity_timeout_seconds: number;
  health_check: HealthCheck;
  members: PoolMember[];
}

export interface DesiredListener {
  name: string;
  protocol: Protocol;
  port: number;
  pool: string;
}

export interface DesiredLb {
  name: string;
  description: string;
  externalIp: string;
  tenant: Tenant;
  sharingKey: string;
  labels: Record<string, string>;
  listeners: DesiredListener[];
  pools: DesiredPool[];
}

const ALGORITHM: Record<LbOptions["algorithm"], Algorithm> = {
  "round-robin": "ROUND_ROBIN",
  "least-conn": "LEAST_CONN",
  "ip-hash": "IP_HASH",
};

export interface Inputs {
  slices: KubeObject[];
  nodes: KubeObject[];
}

/** One listener and one pool per Service port; members per the member mode. */
export function desiredLoadBalancer(
  svc: KubeObject,
  options: LbOptions,
  ip: string,
  tenant: Tenant,
  settings: Settings,
  inputs: Inputs,
): { lb: DesiredLb } | { problem: Problem } {
  const ports = servicePorts(svc);
  const bad = ports.find((p) => p.protocol !== "TCP" && p.protocol !== "UDP");
  if (bad) {
    return {
      problem: {
        reason: "UnsupportedProtocol",
        message: `port ${bad.port}/${bad.protocol}: FiberLB serves TCP and UDP only`,
      },
    };
  }
  const listeners: DesiredListener[] = [];
  const pools: DesiredPool[] = [];
  for (const port of ports) {
    const name = `${port.protocol.toLowerCase()}-${port.port}`;
    listeners.push({ name, protocol: port.protocol as Protocol, port: port.port, pool: name });
    pools.push({
      name,
      algorithm: ALGORITHM[options.algorithm],
      session_affinity: options.sessionAffinity === "client-ip" ? "CLIENT_IP" : "NONE",
      affinity_timeout_seconds: options.sessionAffinity === "client-ip"
        ? options.affinityTimeoutSeconds
        : 0,
      health_check: healthCheckFor(svc, port, options, settings),
      members: settings.memberMode === "pod"
        ? podMembers(svc, port, inputs.slices)
        : nodeMembers(svc, port, inputs.slices, inputs.nodes),
    });
  }
  return {
    lb: {
      name: lbName(settings.clusterId, svc.metadata.namespace ?? "", svc.metadata.name ?? ""),
      description: `Kubernetes Service ${serviceKey(svc)} (cluster ${settings.clusterId})`,
      externalIp: ip,
      tenant,
      sharingKey: options.sharingKey,
      labels: ownerLabels(settings.clusterId, svc),
      listeners,
      pools,
    },
  };
}

function healthCheckFor(
  svc: KubeObject,
  port: ServicePort,
  o: LbOptions,
  s: Settings,
): HealthCheck {
  const timing = {
    interval_ms: o.healthCheck.intervalMs,
    timeout_ms: o.healthCheck.timeoutMs,
    retries: o.healthCheck.retries,
  };
  // A UDP member cannot be probed generically; Kubernetes readiness already filters endpoints.
  if (port.protocol === "UDP" && o.healthCheck.path === undefined) {
    return { type: "HEALTH_CHECK_NONE", path: "", port: 0, ...timing };
  }
  if (o.healthCheck.path !== undefined) {
    return { type: "HEALTH_CHECK_HTTP", path: o.healthCheck.path, port: 0, ...timing };
  }
  // kube-proxy answers /healthz on healthCheckNodePort with whether the node has local endpoints.
  const hcPort = Number(svc.spec?.healthCheckNodePort ?? 0);
  if (s.memberMode === "node" && svc.spec?.externalTrafficPolicy === "Local" && hcPort > 0) {
    return { type: "HEALTH_CHECK_HTTP", path: "/healthz", port: hcPort, ...timing };
  }
  return { type: "HEALTH_CHECK_TCP", path: "", port: 0, ...timing };
}
