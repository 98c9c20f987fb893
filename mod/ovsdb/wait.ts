/**
 * Waiting for ovn-northd (and the chassis) to catch up with a northbound change, the way
 * `ovn-nbctl --wait=sb|hv` does: the transaction also increments NB_Global.nb_cfg; northd
 * copies the value it has processed into sb_cfg, and the minimum over all ovn-controllers
 * that have installed the resulting flows into hv_cfg.
 */
import type { OvsdbClient } from "./client.ts";
import { mutate, type Operation, type OpResult, select } from "./ops.ts";
import { waitForRow } from "./waitrow.ts";

export type WaitFor = "sb" | "hv";
const NB = "OVN_Northbound";

/** The two operations that bump nb_cfg and read back the new value. */
export function bumpNbCfg(): Operation[] {
  return [
    mutate("NB_Global", [], [["nb_cfg", "+=", 1]]),
    select("NB_Global", [], ["nb_cfg"]),
  ];
}

/**
 * Runs `ops` plus the nb_cfg bump in one transaction, then waits until northd (`sb`) or every
 * chassis (`hv`) has processed it. Resolves with the results of `ops` only.
 */
export async function transactAndWait(
  client: OvsdbClient,
  ops: Operation[],
  wait: WaitFor,
  timeoutMs = 30_000,
): Promise<OpResult[]> {
  const results = await client.transact(NB, [...ops, ...bumpNbCfg()]);
  const rows = results[results.length - 1].rows ?? [];
  if (rows.length !== 1) throw new Error(`${NB}: expected one NB_Global row, found ${rows.length}`);
  await waitForCfg(client, Number(rows[0].nb_cfg), wait, timeoutMs);
  return results.slice(0, ops.length);
}

/** Waits until NB_Global.sb_cfg (or hv_cfg) reaches `target`. */
export function waitForCfg(
  client: OvsdbClient,
  target: number,
  wait: WaitFor,
  timeoutMs = 30_000,
): Promise<void> {
  const column = wait === "sb" ? "sb_cfg" : "hv_cfg";
  // A scalar integer column: update2 carries the new value itself.
  return waitForRow(
    client,
    NB,
    "NB_Global",
    { columns: [column] },
    (r) => typeof r[column] === "number" && (r[column] as number) >= target,
    timeoutMs,
    `${column} did not reach ${target} within ${timeoutMs}ms (is ovn-northd running?)`,
  );
}
