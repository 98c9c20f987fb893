/**
 * Leak repair, the effect shell around repair.ts: list host ports, this node's leases and the
 * attachment records (in that order, so anything an ADD creates meanwhile already has its
 * record), plan, then tear down under each container's lock.
 */
import type { CniHandler } from "./handler/mod.ts";
import { deleteLink } from "./netlink/ip.ts";
import { planGc, planSweep, type RepairInput, type RepairPlan } from "./repair.ts";

export type RepairRequest =
  | { kind: "gc"; network: string; valid: Array<{ containerId: string; ifname: string }> }
  | { kind: "sweep" };

export interface RepairReport {
  attachments: number;
  leases: number;
  ports: number;
  failures: string[];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export async function repair(h: CniHandler, req: RepairRequest): Promise<string[]> {
  return (await repairWithReport(h, req)).failures;
}

export async function repairWithReport(h: CniHandler, req: RepairRequest): Promise<RepairReport> {
  const d = h.deps;
  const ports = await d.attacher.listPorts();
  const leases = await d.ipam.list({
    node: d.node,
    network: req.kind === "gc" ? req.network : undefined,
  });
  const input: RepairInput = {
    records: d.records.list(),
    leases,
    ports,
    busy: (id) => d.locks.busy(id),
    now: Date.now(),
    graceMs: d.gcGraceMs,
  };
  const plan: RepairPlan = req.kind === "gc"
    ? planGc(input, req.network, req.valid)
    : planSweep(input, exists);
  const failures: string[] = [];
  const report = { attachments: 0, leases: 0, ports: 0, failures };
  for (const r of plan.records) {
    const rec = d.records.get(r.network, r.containerId, r.ifname);
    if (!rec) continue;
    await d.locks.tryRun(r.containerId, async () => {
      await h.teardown(rec);
      report.attachments++;
    }).catch((e) =>
      failures.push(`${r.containerId}/${r.ifname}: ${e instanceof Error ? e.message : e}`)
    );
  }
  for (const l of plan.leases) {
    await d.locks.tryRun(l.containerId, async () => {
      await d.ipam.release({ ...l, podName: "" });
      report.leases++;
    }).catch((e) =>
      failures.push(`lease ${l.containerId}/${l.ifname}: ${e instanceof Error ? e.message : e}`)
    );
  }
  for (const p of plan.ports) {
    await deleteLink(p).then((gone) => gone && report.ports++)
      .catch((e) => failures.push(`port ${p}: ${e instanceof Error ? e.message : e}`));
  }
  if (report.attachments + report.leases + report.ports > 0 || failures.length) {
    d.log.info("leak repair", { kind: req.kind, ...report });
  }
  return report;
}
