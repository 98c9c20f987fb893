/**
 * The effect shell: reads the NB through the monitor cache, plans with plan.ts and applies the
 * plan transaction by transaction. Level-triggered and restart-safe: every pass compares the
 * whole desired state with the whole NB, so a pass after a restart, a reconnect or someone
 * else's edit repairs every row by its name and external_ids.
 */
import { asMap, asStrings, type MonitorRequest, type RowCache } from "../ovsdb/mod.ts";
import { type LspInfo, lspIps } from "./inputs.ts";
import { type NbSnapshot, type Plan, planNb } from "./plan.ts";
import type { DesiredState } from "./types.ts";

const NB = "OVN_Northbound";
const POD_NS = "k8shost.io/namespace";
const POD_NAME = "k8shost.io/pod";

/** What the controller's NB cache monitors. */
export const NETPOL_TABLES: Record<string, MonitorRequest> = {
  Port_Group: { columns: ["name", "ports", "acls", "external_ids"] },
  ACL: {
    columns: ["name", "priority", "direction", "match", "action", "log", "options", "external_ids"],
  },
  Address_Set: { columns: ["name", "addresses", "external_ids"] },
  Logical_Switch_Port: { columns: ["name", "type", "addresses", "external_ids"] },
  Logical_Switch: { columns: ["name", "ports", "external_ids"] },
};

export function snapshot(cache: RowCache): NbSnapshot {
  const lspByName = new Map<string, string>();
  for (const [id, r] of cache.rows("Logical_Switch_Port")) lspByName.set(String(r.name), id);
  return {
    portGroups: cache.rows("Port_Group"),
    acls: cache.rows("ACL"),
    addressSets: cache.rows("Address_Set"),
    lspByName,
  };
}

/** Pod logical switch ports (PrismNET marks them with the pod's namespace and name). */
export function podPorts(cache: RowCache): LspInfo[] {
  const out: LspInfo[] = [];
  for (const r of cache.rows("Logical_Switch_Port").values()) {
    const ids = asMap(r.external_ids);
    if (!ids[POD_NS] || !ids[POD_NAME]) continue;
    out.push({
      name: String(r.name),
      namespace: ids[POD_NS],
      pod: ids[POD_NAME],
      ips: lspIps(asStrings(r.addresses)),
    });
  }
  return out;
}

export interface ApplyResult {
  plan: Plan;
  transactions: number;
}

/**
 * Applies the difference between `desired` and the NB. `onTransact` brackets each transaction
 * so the caller can tell its own monitor updates from other writers'.
 */
export async function reconcileNb(
  cache: RowCache,
  desired: DesiredState,
  hooks: { before?: () => void; after?: () => void; maxOps?: number } = {},
): Promise<ApplyResult> {
  const plan = planNb(desired, snapshot(cache), hooks.maxOps);
  let transactions = 0;
  for (const ops of plan.transactions) {
    hooks.before?.();
    try {
      await cache.client.transact(NB, ops);
    } finally {
      hooks.after?.();
    }
    transactions++;
  }
  return { plan, transactions };
}
