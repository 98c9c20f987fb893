/**
 * Leak repair decisions, pure: which attachment records, IPAM leases and host ports are stale,
 * for CNI GC (the runtime names what is still valid) and for the periodic sweep (the pod's
 * network namespace is gone). reconcile.ts carries them out.
 */
import { HOST_VETH } from "./desired.ts";

export interface RecordView {
  network: string;
  containerId: string;
  ifname: string;
  netns: string;
  hostVeth: string;
  createdAt: string;
}

export interface LeaseView {
  network: string;
  containerId: string;
  ifname: string;
  podUid: string;
  namespace: string;
  createdAt: string;
}

export interface RepairInput {
  records: RecordView[];
  leases: LeaseView[];
  /** Host ends currently on the bridge. */
  ports: string[];
  /** Containers with an operation in flight: never touched. */
  busy: (containerId: string) => boolean;
  now: number;
  /** Anything younger than this is left alone (an ADD may be racing the listing). */
  graceMs: number;
}

export interface RepairPlan {
  /** Attachments to tear down completely (links, lease, record). */
  records: RecordView[];
  /** Leases without any record to release. */
  leases: LeaseView[];
  /** Host ends without any record to delete. */
  ports: string[];
}

const key = (a: { network: string; containerId: string; ifname: string }) =>
  `${a.network}\0${a.containerId}\0${a.ifname}`;

function young(createdAt: string, now: number, graceMs: number): boolean {
  const t = Date.parse(createdAt);
  return Number.isFinite(t) && now - t < graceMs;
}

function plan(input: RepairInput, stale: (r: RecordView) => boolean, network?: string): RepairPlan {
  const { now, graceMs, busy } = input;
  const inScope = <T extends { network: string }>(x: T) =>
    network === undefined || x.network === network;
  const records = input.records.filter((r) =>
    inScope(r) && !busy(r.containerId) && !young(r.createdAt, now, graceMs) && stale(r)
  );
  const recorded = new Set(input.records.map(key));
  const leases = input.leases.filter((l) =>
    inScope(l) && !recorded.has(key(l)) && !busy(l.containerId) && !young(l.createdAt, now, graceMs)
  );
  const owned = new Set(input.records.map((r) => r.hostVeth));
  const ports = input.ports.filter((p) => HOST_VETH.test(p) && !owned.has(p));
  return { records, leases, ports };
}

/**
 * CNI GC for one network: every attachment of that network the runtime did not list is
 * stale, and so is every lease of it that has no record.
 */
export function planGc(
  input: RepairInput,
  network: string,
  valid: Array<{ containerId: string; ifname: string }>,
): RepairPlan {
  const keep = new Set(valid.map((v) => `${v.containerId}\0${v.ifname}`));
  const p = plan(input, (r) => !keep.has(`${r.containerId}\0${r.ifname}`), network);
  p.leases = p.leases.filter((l) => !keep.has(`${l.containerId}\0${l.ifname}`));
  return p;
}

/** The periodic sweep: attachments whose network namespace no longer exists. */
export function planSweep(input: RepairInput, netnsAlive: (path: string) => boolean): RepairPlan {
  return plan(input, (r) => r.netns === "" || !netnsAlive(r.netns));
}
