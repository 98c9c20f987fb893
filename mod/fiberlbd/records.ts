/**
 * Pure helpers of the embedded FiberLB service: ids, errors, tenant visibility, the address
 * sharing rule and list pagination.
 */
import { GrpcError, Status } from "../grpc/mod.ts";
import type { LbRecord, ListenerRecord } from "./store.ts";
import * as v from "./validate.ts";

export type Scope = { org_id: string; project_id: string };

export const newId = (prefix: string) =>
  `${prefix}-${
    Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0"))
      .join("")
  }`;

export const notFound = (what: string, id: string) =>
  new GrpcError(Status.NOT_FOUND, `${what} ${id} not found`);
export const exists = (msg: string) => new GrpcError(Status.ALREADY_EXISTS, msg);

/** An empty tenant in a request sees every tenant (the platform's own identity). */
export function visible(lb: LbRecord, s: Scope): boolean {
  return (!s.org_id || lb.org_id === s.org_id) && (!s.project_id || lb.project_id === s.project_id);
}

export const sameLabels = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);

/**
 * Why `lb` may not use `ip` with `listeners` next to `others` (the load balancers on that IP):
 * sharing needs the same non-empty key and organisation, and no (protocol, port) twice.
 */
export function ipConflict(
  others: LbRecord[],
  lb: LbRecord,
  ip: string,
  listeners: ListenerRecord[],
): string | undefined {
  for (const o of others) {
    if (o.id === lb.id) continue;
    if (!lb.ip_sharing_key || o.ip_sharing_key !== lb.ip_sharing_key || o.org_id !== lb.org_id) {
      return `external_ip ${ip} is used by load balancer ${o.name}`;
    }
    const clash = listeners.find((l) =>
      o.listeners.some((x) => x.protocol === l.protocol && x.port === l.port)
    );
    if (clash) return `${clash.protocol}/${clash.port} on ${ip} is used by load balancer ${o.name}`;
  }
  return undefined;
}

/** One page of `all` (ordered by id) after the request's filters; the token is the last id. */
export function page(
  all: LbRecord[],
  r: Record<string, unknown>,
): { items: LbRecord[]; token: string } {
  const scope = v.tenant(r);
  const size = r.page_size ? Number(r.page_size) : 100;
  if (!Number.isInteger(size) || size < 1 || size > 1000) {
    throw v.invalid("page_size", r.page_size, "1 to 1000");
  }
  let after = "";
  if (r.page_token) {
    try {
      after = atob(String(r.page_token).replace(/-/g, "+").replace(/_/g, "/"));
    } catch { /* checked below */ }
    if (!/^lb-[0-9a-f]{16}$/.test(after)) {
      throw v.invalid("page_token", r.page_token, "a token from a previous page");
    }
  }
  const match = Object.entries((r.label_match ?? {}) as Record<string, string>);
  const prefix = String(r.name_prefix ?? "");
  const hits = all.filter((lb) =>
    lb.id > after && visible(lb, scope) && (!r.name || lb.name === r.name) &&
    lb.name.startsWith(prefix) && match.every(([k, val]) => lb.labels[k] === val)
  );
  const items = hits.slice(0, size);
  const token = hits.length > size
    ? btoa(items[items.length - 1].id).replace(/\+/g, "-").replace(/\//g, "_")
    : "";
  return { items, token };
}
