/**
 * Monitors (RFC 7047 §4.1.5 `monitor` with `update` notifications; ovsdb-server(7) §4.1.12
 * `monitor_cond` with `update2` diffs) and a row cache kept by either. The server sends the
 * updates a transaction causes before its reply (ovsdb-server(7) §4.1.5), so a cache on the
 * same connection as the transact is current when the transact resolves.
 */
import type { OvsdbClient } from "./client.ts";
import type { Condition } from "./ops.ts";
import { applyColumnDiff, type DbSchema, type Row } from "./values.ts";

export interface MonitorRequest {
  columns?: string[];
  /** monitor_cond only: rows matching ANY of these conditions (absent or empty: all rows). */
  where?: Condition[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}

/** <table-updates>: table → uuid → {old?, new?}. */
export type TableUpdates = Record<string, Record<string, { old?: Row; new?: Row }>>;
/** <table-updates2>: table → uuid → {initial|insert|delete|modify}. */
export type TableUpdates2 = Record<
  string,
  Record<string, { initial?: Row; insert?: Row; delete?: null; modify?: Row }>
>;

let monitorSeq = 0;
/** A monitor id unique within the process (ids share one space per session). */
export const newMonitorId = (prefix = "m") => `${prefix}-${++monitorSeq}`;

/** `monitor`: full rows; returns the initial contents and calls `onUpdate` for each change. */
export async function monitor(
  client: OvsdbClient,
  db: string,
  id: string,
  requests: Record<string, MonitorRequest>,
  onUpdate: (u: TableUpdates) => void,
): Promise<TableUpdates> {
  const req: Record<string, unknown> = {};
  for (const [t, r] of Object.entries(requests)) req[t] = { columns: r.columns, select: r.select };
  client.onMonitor(id, (params) => onUpdate(params[1] as TableUpdates));
  try {
    return await client.request<TableUpdates>("monitor", [db, id, req]);
  } catch (e) {
    client.offMonitor(id);
    throw e;
  }
}

/** `monitor_cond`: rows matching `where`; changes come as update2 diffs. */
export async function monitorCond(
  client: OvsdbClient,
  db: string,
  id: string,
  requests: Record<string, MonitorRequest>,
  onUpdate: (u: TableUpdates2) => void,
): Promise<TableUpdates2> {
  const req: Record<string, unknown> = {};
  for (const [t, r] of Object.entries(requests)) {
    req[t] = [{ columns: r.columns, where: r.where, select: r.select }];
  }
  client.onMonitor(id, (params) => onUpdate(params[1] as TableUpdates2));
  try {
    return await client.request<TableUpdates2>("monitor_cond", [db, id, req]);
  } catch (e) {
    client.offMonitor(id);
    throw e;
  }
}

export async function monitorCancel(client: OvsdbClient, id: string): Promise<void> {
  client.offMonitor(id);
  if (!client.isClosed) await client.request("monitor_cancel", [id]).catch(() => {});
}

export interface RowChange {
  table: string;
  uuid: string;
  old?: Row;
  new?: Row;
}

/**
 * The monitored rows of some tables, kept current by a monitor_cond on one connection.
 * Rows are in wire form (decode with values.ts); listeners hear every change after it applies.
 */
export class RowCache {
  private tables = new Map<string, Map<string, Row>>();
  private listeners: Array<(changes: RowChange[]) => void> = [];
  readonly id = newMonitorId("cache");

  private constructor(
    readonly client: OvsdbClient,
    readonly db: string,
    private readonly schema: DbSchema,
  ) {}

  /** Starts the monitor and loads the initial rows. */
  static async start(
    client: OvsdbClient,
    db: string,
    schema: DbSchema,
    requests: Record<string, MonitorRequest>,
  ): Promise<RowCache> {
    for (const t of Object.keys(requests)) {
      if (!schema.tables[t]) throw new TypeError(`${db} has no table ${t}`);
      for (const c of requests[t].columns ?? []) {
        if (!schema.tables[t].columns[c]) throw new TypeError(`${db}.${t} has no column ${c}`);
      }
    }
    const cache = new RowCache(client, db, schema);
    for (const t of Object.keys(requests)) cache.tables.set(t, new Map());
    const initial = await monitorCond(client, db, cache.id, requests, (u) => cache.apply(u));
    cache.apply(initial);
    return cache;
  }

  /** Rows of a table by uuid (live view: do not modify). */
  rows(table: string): Map<string, Row> {
    const t = this.tables.get(table);
    if (!t) throw new TypeError(`table ${table} is not monitored`);
    return t;
  }

  get(table: string, uuid: string): Row | undefined {
    return this.tables.get(table)?.get(uuid);
  }

  /** Finds rows whose column equals a value (a scan; indexes are the caller's business). */
  find(table: string, pred: (row: Row, uuid: string) => boolean): Array<[string, Row]> {
    const out: Array<[string, Row]> = [];
    for (const [u, r] of this.rows(table)) if (pred(r, u)) out.push([u, r]);
    return out;
  }

  onChange(fn: (changes: RowChange[]) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  cancel(): Promise<void> {
    return monitorCancel(this.client, this.id);
  }

  private apply(u: TableUpdates2): void {
    const changes: RowChange[] = [];
    for (const [table, rows] of Object.entries(u ?? {})) {
      const t = this.tables.get(table);
      const ts = this.schema.tables[table];
      if (!t || !ts) continue;
      for (const [uuid, ru] of Object.entries(rows)) {
        const old = t.get(uuid);
        const fresh = ru.initial ?? ru.insert;
        if (fresh) {
          t.set(uuid, fresh);
          changes.push({ table, uuid, old, new: fresh });
        } else if ("delete" in ru) {
          t.delete(uuid);
          changes.push({ table, uuid, old });
        } else if (ru.modify) {
          const next: Row = { ...(old ?? {}) };
          for (const [col, diff] of Object.entries(ru.modify)) {
            const ct = ts.columns[col]?.type;
            next[col] = ct ? applyColumnDiff(old?.[col], diff, ct) : diff;
          }
          t.set(uuid, next);
          changes.push({ table, uuid, old, new: next });
        }
      }
    }
    if (changes.length) { for (const l of this.listeners) l(changes); }
  }
}
