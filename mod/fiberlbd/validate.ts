/**
 * Request validation of the embedded FiberLB: every rejection is INVALID_ARGUMENT naming the
 * field, the bad value and what was expected.
 */
import type { Affinity, Algorithm, HealthCheck, Protocol } from "../fiberlb/client.ts";
import { canonicalIp } from "../fiberlb/pools.ts";
import { GrpcError, Status } from "../grpc/mod.ts";
import type { MemberRecord } from "./store.ts";

export function invalid(field: string, value: unknown, expected: string): GrpcError {
  return new GrpcError(
    Status.INVALID_ARGUMENT,
    `${field}: ${JSON.stringify(value)} — expected ${expected}`,
  );
}

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const TENANT = /^[A-Za-z0-9._-]{0,128}$/;

export function name(field: string, v: unknown, optional = false): string {
  const s = typeof v === "string" ? v : "";
  if (s === "" && optional) return "";
  if (!NAME.test(s)) throw invalid(field, v, "a name of 1-253 letters, digits, '.', '_' or '-'");
  return s;
}

export function tenant(req: { org_id?: unknown; project_id?: unknown }) {
  const org = typeof req.org_id === "string" ? req.org_id : "";
  const project = typeof req.project_id === "string" ? req.project_id : "";
  if (!TENANT.test(org)) {
    throw invalid("org_id", req.org_id, "an id of letters, digits, '.', '_' or '-'");
  }
  if (!TENANT.test(project)) {
    throw invalid("project_id", req.project_id, "an id of letters, digits, '.', '_' or '-'");
  }
  return { org_id: org, project_id: project };
}

export function id(field: string, v: unknown, prefix: string): string {
  if (typeof v !== "string" || !new RegExp(`^${prefix}-[0-9a-f]{16}$`).test(v)) {
    throw invalid(field, v, `an id such as ${prefix}-0123456789abcdef`);
  }
  return v;
}

export function text(field: string, v: unknown, max: number): string {
  const s = typeof v === "string" ? v : "";
  if (s.length > max) throw invalid(field, `${s.slice(0, 32)}…`, `at most ${max} characters`);
  return s;
}

export function labels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Object.entries((v ?? {}) as Record<string, unknown>);
  if (entries.length > 64) throw invalid("labels", `${entries.length} labels`, "at most 64 labels");
  for (const [k, val] of entries) {
    if (k === "" || k.length > 253) throw invalid("labels", k, "keys of 1-253 characters");
    if (typeof val !== "string" || val.length > 1024) {
      throw invalid(`labels[${k}]`, val, "a string of at most 1024 characters");
    }
    out[k] = val;
  }
  return out;
}

export function ip(field: string, v: unknown): string {
  const c = typeof v === "string" ? canonicalIp(v) : undefined;
  if (!c) throw invalid(field, v, "an IPv4 or IPv6 address");
  return c;
}

export function sharingKey(v: unknown): string {
  const s = typeof v === "string" ? v : "";
  if (s !== "" && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(s)) {
    throw invalid("ip_sharing_key", v, "1-63 letters, digits, '.', '_' or '-'");
  }
  return s;
}

export function port(field: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) {
    throw invalid(field, v, "a port from 1 to 65535");
  }
  return v as number;
}

export function protocol(v: unknown): Protocol {
  if (v === "TCP" || v === "UDP") return v;
  if (v === "HTTP" || v === "HTTPS") {
    throw new GrpcError(
      Status.UNIMPLEMENTED,
      `protocol ${v}: the embedded FiberLB is an L4 (TCP/UDP) load balancer`,
    );
  }
  throw invalid("protocol", v, "TCP or UDP");
}

export function algorithm(v: unknown): Algorithm {
  if (v === undefined || v === null || v === "ALGORITHM_UNSPECIFIED" || v === "ROUND_ROBIN") {
    return "ROUND_ROBIN";
  }
  if (v === "LEAST_CONN" || v === "IP_HASH") return v;
  throw invalid("algorithm", v, "ROUND_ROBIN, LEAST_CONN or IP_HASH");
}

export function affinity(v: unknown): Affinity {
  if (v === undefined || v === null || v === "SESSION_AFFINITY_UNSPECIFIED" || v === "NONE") {
    return "NONE";
  }
  if (v === "CLIENT_IP") return v;
  throw invalid("session_affinity", v, "NONE or CLIENT_IP");
}

export function members(v: unknown): MemberRecord[] {
  const list = (v ?? []) as Array<Record<string, unknown>>;
  if (!Array.isArray(list) || list.length > 10_000) {
    throw invalid("members", "…", "at most 10000 members");
  }
  const seen = new Set<string>();
  return list.map((m, i) => {
    const address = ip(`members[${i}].address`, m.address);
    const p = port(`members[${i}].port`, m.port);
    const w = m.weight ?? 0;
    if (!Number.isInteger(w) || (w as number) < 0 || (w as number) > 1000) {
      throw invalid(`members[${i}].weight`, w, "an integer from 0 to 1000");
    }
    const key = `${address}|${p}`;
    if (seen.has(key)) throw invalid(`members[${i}]`, key, "each address and port once");
    seen.add(key);
    return { address, port: p, weight: (w as number) || 1 };
  });
}

/** An absent health check means none; an unspecified type with settings means TCP. */
export function healthCheck(v: unknown): HealthCheck {
  const hc = v as Partial<Record<keyof HealthCheck, unknown>> | null | undefined;
  if (!hc) {
    return {
      type: "HEALTH_CHECK_NONE",
      path: "",
      interval_ms: 0,
      timeout_ms: 0,
      retries: 0,
      port: 0,
    };
  }
  const t = hc.type ?? "HEALTH_CHECK_TYPE_UNSPECIFIED";
  const type = t === "HEALTH_CHECK_TYPE_UNSPECIFIED" ? "HEALTH_CHECK_TCP" : t;
  if (type !== "HEALTH_CHECK_NONE" && type !== "HEALTH_CHECK_TCP" && type !== "HEALTH_CHECK_HTTP") {
    throw invalid(
      "health_check.type",
      t,
      "HEALTH_CHECK_NONE, HEALTH_CHECK_TCP or HEALTH_CHECK_HTTP",
    );
  }
  const interval = Number(hc.interval_ms || 10_000);
  const timeout = Number(hc.timeout_ms || Math.min(5_000, interval));
  const retries = Number(hc.retries || 3);
  if (interval < 100 || interval > 3_600_000) {
    throw invalid("health_check.interval_ms", hc.interval_ms, "100 to 3600000");
  }
  if (timeout < 10 || timeout > interval) {
    throw invalid("health_check.timeout_ms", hc.timeout_ms, "10 ms up to the interval");
  }
  if (retries < 1 || retries > 10) throw invalid("health_check.retries", hc.retries, "1 to 10");
  const path = typeof hc.path === "string" && hc.path !== ""
    ? hc.path
    : type === "HEALTH_CHECK_HTTP"
    ? "/"
    : "";
  // deno-lint-ignore no-control-regex
  if (path !== "" && !/^\/[^\s\x00-\x1f\x7f]{0,1023}$/.test(path)) {
    throw invalid("health_check.path", hc.path, 'an HTTP path starting with "/"');
  }
  const p = Number(hc.port || 0);
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    throw invalid("health_check.port", hc.port, "0 to 65535");
  }
  return { type, path, interval_ms: interval, timeout_ms: timeout, retries, port: p };
}

/** The replaceable spec of a pool (CreatePool and UpdatePool). */
export function poolSpec(r: Record<string, unknown>) {
  return {
    algorithm: algorithm(r.algorithm),
    session_affinity: affinity(r.session_affinity),
    affinity_timeout_seconds: Number(r.affinity_timeout_seconds ?? 0),
    health_check: healthCheck(r.health_check),
    members: members(r.members),
  };
}
