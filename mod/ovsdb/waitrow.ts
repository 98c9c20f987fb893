/**
 * Waiting for a database to reach a state: a temporary monitor_cond on one table whose rows
 * (initial, inserted or modified) are tested until one passes. Used for `Logical_Switch_Port`
 * coming up, `Open_vSwitch.cur_cfg` catching up and `NB_Global.sb_cfg` / `hv_cfg`.
 */
import type { OvsdbClient } from "./client.ts";
import { RequestTimeoutError } from "./errors.ts";
import {
  monitorCancel,
  monitorCond,
  type MonitorRequest,
  newMonitorId,
  type TableUpdates2,
} from "./monitor.ts";
import type { Row } from "./values.ts";

/**
 * Resolves once a row of `table` (as the monitor sends it: full on initial/insert, changed
 * columns on modify) satisfies `pred`; rejects with RequestTimeoutError(`timeoutMessage`)
 * after `timeoutMs`, or when the connection closes.
 */
export async function waitForRow(
  client: OvsdbClient,
  db: string,
  table: string,
  request: MonitorRequest,
  pred: (row: Row) => boolean,
  timeoutMs: number,
  timeoutMessage: string,
): Promise<void> {
  const id = newMonitorId("wait");
  let done!: () => void;
  let fail!: (e: Error) => void;
  const reached = new Promise<void>((res, rej) => {
    done = res;
    fail = rej;
  });
  client.closed.then(fail);
  const check = (u: TableUpdates2) => {
    for (const ru of Object.values(u?.[table] ?? {})) {
      const r = ru.initial ?? ru.insert ?? ru.modify;
      if (r && pred(r)) done();
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    check(await monitorCond(client, db, id, { [table]: request }, check));
    await Promise.race([
      reached,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new RequestTimeoutError(timeoutMessage)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await monitorCancel(client, id);
  }
}
