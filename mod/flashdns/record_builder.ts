/**
 * How one object's records are put together: the settings every record shares, the labels that
 * mark a set as ours, and a builder that gathers values per set.
 */
import type { Tenant } from "./kube_objects.ts";
import {
  canonicalIp,
  isIPv4,
  isIPv6,
  normalizeName,
  type RecordSet,
  type RecordType,
  reverseName,
  setKey,
} from "./records.ts";

export interface DesiredContext {
  /** Cluster domain, e.g. `cluster.local`. */
  domain: string;
  ttl: number;
  /** Value of the `owner` label, e.g. `k8shost/default`. */
  owner: string;
}

/**
 * Labels that mark a set as ours and say which object it came from; for an object in a tenant's
 * namespace also `org_id`/`project_id` (the names IAM and the other contracts use), so FlashDNS
 * can attribute the record to the tenant.
 */
export function ownerLabels(
  ctx: DesiredContext,
  kind: string,
  namespace: string,
  name: string,
  tenant?: Tenant,
): Record<string, string> {
  return {
    owner: ctx.owner,
    "k8s-kind": kind,
    "k8s-namespace": namespace,
    "k8s-name": name,
    ...(tenant?.orgId ? { org_id: tenant.orgId } : {}),
    ...(tenant?.projectId ? { project_id: tenant.projectId } : {}),
  };
}

export const REVERSE_V4 = "in-addr.arpa";
export const REVERSE_V6 = "ip6.arpa";

/** Collects values per (zone, name, type); the first contributor's labels win. */
export class SetBuilder {
  private sets = new Map<string, RecordSet>();
  constructor(private ctx: DesiredContext, private labels: Record<string, string>) {}

  add(zone: string, name: string, type: RecordType, value: string) {
    const key = setKey({ zone, name, type });
    let s = this.sets.get(key);
    if (!s) {
      this.sets.set(
        key,
        s = { zone, name, type, values: [], ttl: this.ctx.ttl, labels: this.labels },
      );
    }
    if (!s.values.includes(value)) s.values.push(value);
  }
  /** An A or AAAA value for a name in the cluster zone, by the address family. */
  addAddress(name: string, ip: string) {
    this.add(this.ctx.domain, name, isIPv4(ip) ? "A" : "AAAA", canonicalIp(ip));
  }
  addPtr(ip: string, target: string) {
    const rev = reverseName(ip);
    const zone = isIPv4(ip) ? REVERSE_V4 : REVERSE_V6;
    this.add(zone, rev.slice(0, -(zone.length + 1)), "PTR", `${target}.${this.ctx.domain}.`);
  }
  /** Sets whose name is not a valid DNS name (e.g. `fd00--` from an IPv6 ending in `::`) drop. */
  result(): RecordSet[] {
    return [...this.sets.values()].filter((s) => validName(s.name))
      .map((s) => ({ ...s, values: [...s.values].sort() }));
  }
}

function validName(name: string): boolean {
  try {
    return normalizeName(name) === name;
  } catch {
    return false;
  }
}

export const isIp = (s: unknown): s is string => typeof s === "string" && (isIPv4(s) || isIPv6(s));

/** A DNS label is at most 63 characters; K8s names already obey, but a bad one is skipped. */
export function validLabel(s: string | undefined): s is string {
  return typeof s === "string" && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s);
}
