/**
 * The node's local Open_vSwitch database, written with our OVSDB client (no ovs-vsctl): the
 * chassis settings ovn-controller reads, the integration bridge, and one port per pod whose
 * interface carries `external_ids:iface-id=<logical port>` — the binding ovn-controller looks
 * for. Like ovs-vsctl, a change bumps next_cfg and waits for ovs-vswitchd's cur_cfg, then
 * reports the interface's error column if vswitchd could not open the device.
 */
import {
  asMap,
  asUuids,
  type Connection,
  insert,
  map,
  mutate,
  namedUuid,
  type Operation,
  type OpResult,
  type OvsdbSession,
  type Row,
  select,
  set,
  update,
  uuid,
  waitForRow,
  where,
} from "../ovsdb/mod.ts";
import { OWNER_KEY, OWNER_PRISMNET } from "./names.ts";

const DB = "Open_vSwitch";

export interface ChassisConfig {
  systemId: string;
  /** ovn-remote: the southbound DB. */
  southbound: string;
  encapType: string;
  encapIp: string;
  bridge: string;
  datapathType: string;
}

export interface OvsPort {
  name: string;
  ifaceId: string;
  externalIds: Record<string, string>;
  /** vswitchd's complaint about the interface (e.g. the device does not exist). */
  error?: string;
  ofport?: number;
}

type SelRow = Row & { _uuid: ["uuid", string] };
const rowsOf = (r: OpResult) => (r.rows ?? []) as SelRow[];
const idOf = (r: SelRow) => r._uuid[1];

export class LocalOvs {
  constructor(private readonly ovs: OvsdbSession, private readonly reconfigureTimeoutMs = 30_000) {}

  private conn(): Promise<Connection> {
    return this.ovs.get();
  }

  /** Runs ops plus a next_cfg bump, then waits until ovs-vswitchd has applied them. */
  private async apply(c: Connection, ops: Operation[]): Promise<OpResult[]> {
    const res = await c.client.transact(DB, [
      ...ops,
      mutate("Open_vSwitch", [], [["next_cfg", "+=", 1]]),
      select("Open_vSwitch", [], ["next_cfg"]),
    ]);
    const target = Number(rowsOf(res[res.length - 1])[0]?.next_cfg);
    await waitCurCfg(c, target, this.reconfigureTimeoutMs);
    return res.slice(0, ops.length);
  }

  /** Sets the external_ids ovn-controller reads (ovn-remote, encapsulation, bridge). */
  async configureChassis(cfg: ChassisConfig): Promise<void> {
    const ids: Record<string, string> = {
      "system-id": cfg.systemId,
      "ovn-remote": cfg.southbound,
      "ovn-encap-type": cfg.encapType,
      "ovn-encap-ip": cfg.encapIp,
      "ovn-bridge": cfg.bridge,
      "ovn-bridge-datapath-type": cfg.datapathType,
    };
    const c = await this.conn();
    const [r] = await c.client.transact(DB, [select("Open_vSwitch", [], ["external_ids"])]);
    const have = asMap(rowsOf(r)[0]?.external_ids);
    if (Object.entries(ids).every(([k, v]) => have[k] === v)) return;
    // A map "insert" keeps existing keys, so the keys are deleted first in the same mutation.
    await c.client.transact(DB, [
      mutate("Open_vSwitch", [], [
        ["external_ids", "delete", set(Object.keys(ids))],
        ["external_ids", "insert", map(ids)],
      ]),
    ]);
  }

  /** Creates the integration bridge (secure fail mode, in-band off) unless it exists. */
  async ensureBridge(name: string, datapathType: string): Promise<void> {
    const c = await this.conn();
    const [r] = await c.client.transact(DB, [
      select("Bridge", [where.eq("name", name)], ["_uuid", "datapath_type"]),
    ]);
    const have = rowsOf(r)[0];
    if (have) {
      if (have.datapath_type !== datapathType) {
        await this.apply(c, [
          update("Bridge", [where.uuid(idOf(have))], { datapath_type: datapathType }),
        ]);
      }
      return;
    }
    await this.apply(c, [
      insert("Interface", { name, type: "internal" }, "iface"),
      insert("Port", { name, interfaces: namedUuid("iface") }, "port"),
      insert("Bridge", {
        name,
        ports: namedUuid("port"),
        datapath_type: datapathType,
        fail_mode: "secure",
        other_config: map({ "disable-in-band": "true" }),
      }, "bridge"),
      mutate("Open_vSwitch", [], [["bridges", "insert", namedUuid("bridge")]]),
    ]);
  }

  /** The MAC vswitchd uses for an interface (mac_in_use), "" when unknown. */
  async interfaceMac(name: string): Promise<string> {
    const c = await this.conn();
    const [r] = await c.client.transact(DB, [
      select("Interface", [where.eq("name", name)], ["mac_in_use"]),
    ]);
    const mac = rowsOf(r)[0]?.mac_in_use;
    return typeof mac === "string" ? mac : "";
  }

  async bridgeExists(name: string): Promise<boolean> {
    const c = await this.conn();
    const [r] = await c.client.transact(DB, [
      select("Bridge", [where.eq("name", name)], ["_uuid"]),
    ]);
    return rowsOf(r).length > 0;
  }

  /**
   * Puts `ifname` on `bridge` with external_ids iface-id=`ifaceId` (plus `ids`), or updates an
   * existing port's ids; waits for vswitchd and throws if it could not open the device.
   */
  async attachPort(
    bridge: string,
    ifname: string,
    ifaceId: string,
    ids: Record<string, string> = {},
  ) {
    const externalIds = map({ ...ids, "iface-id": ifaceId, [OWNER_KEY]: OWNER_PRISMNET });
    const c = await this.conn();
    const [br, port, iface] = await c.client.transact(DB, [
      select("Bridge", [where.eq("name", bridge)], ["_uuid", "ports"]),
      select("Port", [where.eq("name", ifname)], ["_uuid"]),
      select("Interface", [where.eq("name", ifname)], ["_uuid"]),
    ]);
    const brRow = rowsOf(br)[0];
    if (!brRow) throw new Error(`OVS bridge ${bridge} does not exist`);
    const portRow = rowsOf(port)[0];
    const ifaceRow = rowsOf(iface)[0];
    const ops: Operation[] = [];
    const onBridge = portRow !== undefined && asUuids(brRow.ports).includes(idOf(portRow));
    if (portRow && ifaceRow && onBridge) {
      ops.push(update("Interface", [where.uuid(idOf(ifaceRow))], { external_ids: externalIds }));
    } else {
      if (portRow) {
        ops.push(mutate("Bridge", [where.includes("ports", uuid(idOf(portRow)))], [[
          "ports",
          "delete",
          uuid(idOf(portRow)),
        ]]));
      }
      ops.push(
        insert("Interface", { name: ifname, external_ids: externalIds }, "iface"),
        insert("Port", { name: ifname, interfaces: namedUuid("iface") }, "port"),
        mutate("Bridge", [where.uuid(idOf(brRow))], [["ports", "insert", namedUuid("port")]]),
      );
    }
    await this.apply(c, ops);
    const [after] = await c.client.transact(DB, [
      select("Interface", [where.eq("name", ifname)], ["error", "ofport"]),
    ]);
    const row = rowsOf(after)[0];
    const error = row?.error;
    if (typeof error === "string" && error) {
      throw new Error(`OVS could not attach ${ifname}: ${error}`);
    }
    if (row && row.ofport === -1) throw new Error(`OVS could not attach ${ifname} (ofport -1)`);
  }

  /** Takes the port off whatever bridge holds it; false when there was none. */
  async detachPort(ifname: string): Promise<boolean> {
    const c = await this.conn();
    const [port] = await c.client.transact(DB, [
      select("Port", [where.eq("name", ifname)], ["_uuid"]),
    ]);
    const rows = rowsOf(port);
    if (rows.length === 0) return false;
    await this.apply(
      c,
      rows.map((r) =>
        mutate("Bridge", [where.includes("ports", uuid(idOf(r)))], [[
          "ports",
          "delete",
          uuid(idOf(r)),
        ]])
      ),
    );
    return true;
  }

  /** Interfaces prismnet attached (by our owner mark), with their iface-id and health. */
  async listPorts(): Promise<OvsPort[]> {
    const c = await this.conn();
    const [r] = await c.client.transact(DB, [
      select("Interface", [where.includes("external_ids", map({ [OWNER_KEY]: OWNER_PRISMNET }))], [
        "name",
        "external_ids",
        "error",
        "ofport",
      ]),
    ]);
    return rowsOf(r).map((x) => ({
      name: String(x.name),
      ifaceId: asMap(x.external_ids)["iface-id"] ?? "",
      externalIds: asMap(x.external_ids),
      error: typeof x.error === "string" ? x.error : undefined,
      ofport: typeof x.ofport === "number" ? x.ofport : undefined,
    }));
  }
}

function waitCurCfg(c: Connection, target: number, timeoutMs: number): Promise<void> {
  return waitForRow(
    c.client,
    DB,
    "Open_vSwitch",
    { columns: ["cur_cfg"] },
    (r) => typeof r.cur_cfg === "number" && r.cur_cfg >= target,
    timeoutMs,
    `ovs-vswitchd did not apply configuration ${target} within ${timeoutMs}ms (is it running?)`,
  );
}
