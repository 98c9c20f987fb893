/**
 * The Service annotations of the FiberLB controller, validated at the boundary: every problem
 * names the annotation, the value and what was expected, and all problems are reported at once.
 */
import type { KubeObject } from "../kube/api.ts";
import { canonicalIp } from "./pools.ts";

const P = "fiberlb.plasmacloud.io/";

export const ANNOTATIONS = {
  /** Written by the controller: the FiberLB load balancer serving the Service. */
  loadBalancerId: `${P}load-balancer-id`,
  /** Written by the controller: the external IP held by the Service (durable record). */
  allocatedIp: `${P}allocated-ip`,
  algorithm: `${P}algorithm`,
  healthCheckPath: `${P}health-check-path`,
  healthCheckInterval: `${P}health-check-interval`,
  healthCheckTimeout: `${P}health-check-timeout`,
  healthCheckRetries: `${P}health-check-retries`,
  sessionAffinity: `${P}session-affinity`,
  ipPool: `${P}ip-pool`,
  requestedIp: `${P}requested-ip`,
  allowSharedIp: `${P}allow-shared-ip`,
} as const;

export const FINALIZER = `${P}cleanup`;
/** Namespace labels naming the PlasmaCloud tenant whose FiberLB objects the Services create. */
export const TENANT_LABELS = { org: "plasmacloud.io/org-id", project: "plasmacloud.io/project-id" };

export const ALGORITHMS = ["round-robin", "least-conn", "ip-hash"] as const;
export type AlgorithmName = typeof ALGORITHMS[number];
export const AFFINITIES = ["none", "client-ip"] as const;
export type AffinityName = typeof AFFINITIES[number];

export interface HealthCheckOptions {
  /** Set: HTTP GET checks on this path; unset: TCP connect checks. */
  path?: string;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
}

export interface LbOptions {
  algorithm: AlgorithmName;
  healthCheck: HealthCheckOptions;
  sessionAffinity: AffinityName;
  affinityTimeoutSeconds: number;
  /** Pool named by the Service's annotation (namespace defaults are applied later). */
  pool?: string;
  /** Canonical address requested by spec.loadBalancerIP or the requested-ip annotation. */
  requestedIp?: string;
  sharingKey: string;
  /** The load balancer id the controller recorded, if any. */
  loadBalancerId?: string;
  /** The address the controller recorded, if any and valid. */
  allocatedIp?: string;
}

export interface AnnotationError {
  key: string;
  value: string;
  expected: string;
}

export function formatAnnotationError(e: AnnotationError): string {
  return `${e.key}: ${JSON.stringify(e.value)} — expected ${e.expected}`;
}

/** The spec's defaults: 10s interval, 5s timeout, 3 retries. */
export const HEALTH_DEFAULTS = { intervalMs: 10_000, timeoutMs: 5_000, retries: 3 };
const DEFAULT_AFFINITY_TIMEOUT = 10_800; // Kubernetes' own ClientIP default

/** Go-style durations: `10s`, `500ms`, `1m30s`. */
export function parseGoDuration(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms"];
  }
  return Math.round(total);
}

const SHARING_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const POOL_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LB_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
// deno-lint-ignore no-control-regex
const HTTP_PATH = /^\/[^\s\x00-\x1f\x7f]{0,1023}$/;

/** Reads and validates the Service's FiberLB annotations and the spec fields they refine. */
export function parseLbOptions(svc: KubeObject): { options: LbOptions; errors: AnnotationError[] } {
  const a = svc.metadata.annotations ?? {};
  const errors: AnnotationError[] = [];
  const bad = (key: string, expected: string) => errors.push({ key, value: a[key], expected });

  let algorithm: AlgorithmName = "round-robin";
  const alg = a[ANNOTATIONS.algorithm];
  if (alg !== undefined) {
    if ((ALGORITHMS as readonly string[]).includes(alg)) algorithm = alg as AlgorithmName;
    else bad(ANNOTATIONS.algorithm, `one of ${ALGORITHMS.join(", ")}`);
  }

  const healthCheck: HealthCheckOptions = { ...HEALTH_DEFAULTS };
  const path = a[ANNOTATIONS.healthCheckPath];
  if (path !== undefined) {
    if (HTTP_PATH.test(path)) healthCheck.path = path;
    else bad(ANNOTATIONS.healthCheckPath, 'an HTTP path starting with "/" without spaces');
  }
  const interval = duration(a, ANNOTATIONS.healthCheckInterval, 100, 300_000, bad);
  if (interval !== undefined) healthCheck.intervalMs = interval;
  const timeout = duration(a, ANNOTATIONS.healthCheckTimeout, 50, 60_000, bad);
  if (timeout !== undefined) healthCheck.timeoutMs = timeout;
  if (healthCheck.timeoutMs > healthCheck.intervalMs) {
    if (timeout !== undefined) {
      bad(ANNOTATIONS.healthCheckTimeout, `at most the interval (${healthCheck.intervalMs}ms)`);
    } else healthCheck.timeoutMs = healthCheck.intervalMs;
  }
  const retries = a[ANNOTATIONS.healthCheckRetries];
  if (retries !== undefined) {
    if (/^\d{1,2}$/.test(retries) && Number(retries) >= 1 && Number(retries) <= 10) {
      healthCheck.retries = Number(retries);
    } else bad(ANNOTATIONS.healthCheckRetries, "an integer from 1 to 10");
  }

  let sessionAffinity: AffinityName = svc.spec?.sessionAffinity === "ClientIP"
    ? "client-ip"
    : "none";
  const aff = a[ANNOTATIONS.sessionAffinity];
  if (aff !== undefined) {
    if ((AFFINITIES as readonly string[]).includes(aff)) sessionAffinity = aff as AffinityName;
    else bad(ANNOTATIONS.sessionAffinity, `one of ${AFFINITIES.join(", ")}`);
  }
  const specTimeout = svc.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  const affinityTimeoutSeconds = Number.isInteger(specTimeout) && specTimeout > 0
    ? specTimeout
    : DEFAULT_AFFINITY_TIMEOUT;

  const options: LbOptions = {
    algorithm,
    healthCheck,
    sessionAffinity,
    affinityTimeoutSeconds,
    sharingKey: "",
  };

  const pool = a[ANNOTATIONS.ipPool];
  if (pool !== undefined) {
    if (POOL_NAME.test(pool)) options.pool = pool;
    else bad(ANNOTATIONS.ipPool, "a pool name (lower-case letters, digits and -)");
  }

  const fromAnnotation = a[ANNOTATIONS.requestedIp];
  const fromSpec = svc.spec?.loadBalancerIP as string | undefined;
  let requested: string | undefined;
  if (fromAnnotation !== undefined) {
    requested = canonicalIp(fromAnnotation);
    if (!requested) bad(ANNOTATIONS.requestedIp, "an IPv4 or IPv6 address");
  }
  if (fromSpec) {
    const ip = canonicalIp(fromSpec);
    if (!ip) {
      errors.push({
        key: "spec.loadBalancerIP",
        value: fromSpec,
        expected: "an IPv4 or IPv6 address",
      });
    } else if (requested !== undefined && requested !== ip) {
      bad(ANNOTATIONS.requestedIp, `the same address as spec.loadBalancerIP (${fromSpec})`);
    } else requested = ip;
  }
  if (requested) options.requestedIp = requested;

  const key = a[ANNOTATIONS.allowSharedIp];
  if (key !== undefined) {
    if (SHARING_KEY.test(key)) options.sharingKey = key;
    else bad(ANNOTATIONS.allowSharedIp, "a sharing key of 1-63 letters, digits, '.', '_' or '-'");
  }

  // Records written by the controller: a damaged one is ignored rather than fatal, since the
  // controller rewrites it from FiberLB.
  const id = a[ANNOTATIONS.loadBalancerId];
  if (id !== undefined && LB_ID.test(id)) options.loadBalancerId = id;
  const held = a[ANNOTATIONS.allocatedIp];
  if (held !== undefined) options.allocatedIp = canonicalIp(held);
  return { options, errors };
}

function duration(
  a: Record<string, string>,
  key: string,
  minMs: number,
  maxMs: number,
  bad: (key: string, expected: string) => void,
): number | undefined {
  const raw = a[key];
  if (raw === undefined) return undefined;
  const ms = parseGoDuration(raw);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    bad(key, `a duration from ${minMs}ms to ${maxMs / 1000}s such as "10s" or "500ms"`);
    return undefined;
  }
  return ms;
}
