/**
 * The operations of a transact request (RFC 7047 §5.2) and the conditions and mutations they
 * take (§5.1), typed so that a malformed operation fails to compile rather than at the server.
 */
import type { Row, Value } from "./values.ts";

export type ConditionFn = "<" | "<=" | "==" | "!=" | ">=" | ">" | "includes" | "excludes";
export type Condition = [column: string, fn: ConditionFn, value: Value];
export type Mutator = "+=" | "-=" | "*=" | "/=" | "%=" | "insert" | "delete";
export type Mutation = [column: string, mutator: Mutator, value: Value];

export type Operation =
  | { op: "insert"; table: string; row: Row; "uuid-name"?: string }
  | { op: "select"; table: string; where: Condition[]; columns?: string[] }
  | { op: "update"; table: string; where: Condition[]; row: Row }
  | { op: "mutate"; table: string; where: Condition[]; mutations: Mutation[] }
  | { op: "delete"; table: string; where: Condition[] }
  | {
    op: "wait";
    table: string;
    where: Condition[];
    columns: string[];
    until: "==" | "!=";
    rows: Row[];
    timeout?: number;
  }
  | { op: "commit"; durable: boolean }
  | { op: "abort" }
  | { op: "comment"; comment: string }
  | { op: "assert"; lock: string };

/** What a successful operation returns (§5.2): rows for select, a count for update/mutate/delete. */
export interface OpResult {
  uuid?: ["uuid", string];
  rows?: Array<Row & { _uuid?: ["uuid", string] }>;
  count?: number;
}

export const where = {
  uuid: (id: string): Condition => ["_uuid", "==", ["uuid", id]],
  eq: (column: string, value: Value): Condition => [column, "==", value],
  includes: (column: string, value: Value): Condition => [column, "includes", value],
};

export const insert = (table: string, row: Row, uuidName?: string): Operation =>
  uuidName === undefined ? { op: "insert", table, row } : {
    op: "insert",
    table,
    row,
    "uuid-name": uuidName,
  };
export const select = (table: string, w: Condition[], columns?: string[]): Operation =>
  columns ? { op: "select", table, where: w, columns } : { op: "select", table, where: w };
export const update = (table: string, w: Condition[], row: Row): Operation => ({
  op: "update",
  table,
  where: w,
  row,
});
export const mutate = (table: string, w: Condition[], mutations: Mutation[]): Operation => ({
  op: "mutate",
  table,
  where: w,
  mutations,
});
export const del = (table: string, w: Condition[]): Operation => ({
  op: "delete",
  table,
  where: w,
});
/** Fails the transaction at once unless `rows` is exactly what `where` selects now. */
export const waitRows = (
  table: string,
  w: Condition[],
  columns: string[],
  rows: Row[],
): Operation => ({ op: "wait", table, where: w, columns, until: "==", rows, timeout: 0 });
export const comment = (text: string): Operation => ({ op: "comment", comment: text });
