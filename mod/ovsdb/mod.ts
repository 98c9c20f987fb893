/**
 * A small OVSDB client (RFC 7047 and ovsdb-server(7)'s extensions): transact with every
 * operation result checked, monitor / monitor_cond with a row cache, echo keep-alive, and
 * waiting for ovn-northd like `ovn-nbctl --wait`. See docs/ovn.md.
 */
export { type ClientOptions, OvsdbClient, parseRemote, type Remote } from "./client.ts";
export { ConnectionClosedError, OvsdbError, RequestTimeoutError, TransactError } from "./errors.ts";
export { FramingError, JsonStreamSplitter } from "./framing.ts";
export {
  monitor,
  monitorCancel,
  monitorCond,
  type MonitorRequest,
  newMonitorId,
  RowCache,
  type RowChange,
  type TableUpdates,
  type TableUpdates2,
} from "./monitor.ts";
export * from "./ops.ts";
export { type Connection, OvsdbSession, type SessionOptions } from "./session.ts";
export * from "./values.ts";
export { bumpNbCfg, transactAndWait, type WaitFor, waitForCfg } from "./wait.ts";
export { waitForRow } from "./waitrow.ts";
