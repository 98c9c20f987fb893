/**
 * The northbound topology PrismNET keeps for pods: the cluster router, a logical switch per
 * namespace (subnet, gateway excluded from dynamic addressing, a router port), and a logical
 * switch port per pod interface. Reads are narrow selects (a node must not mirror the whole
 * NB); every write is one transaction, idempotent, and guarded against a concurrent creator
 * (`wait` on tables without a unique name index), retried when it loses such a race.
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
  TransactError,
  update,
  uuid,
  waitForRow,
  where,
} from "../ovsdb/mod.ts";
import {
  CLUSTER_ROUTER,
  EXT,
  lspAddress,
  OWNER_KEY,
  OWNER_PRISMNET,
  routerPortName,
  switchName,
} from "./names.ts";
import {
  createRouterOps,
  idOf,
  type NamespaceNetwork,
  namespaceSwitchOps,
  rowsOf,
  switchQueries,
} from "./switch_plan.ts";

const NB = "OVN_Northbound";
export type { NamespaceNetwork, Subnet } from "./switch_plan.ts";
export { SubnetConflictError } from "./switch_plan.ts";

export interface PodPort {
  /** Logical switch port name (names.ts podPortName). */
  name: string;
  namespace: string;
  mac: string;
  ips: string[];
  externalIds: Record<string, string>;
}

/** The namespace's switch does not exist (yet, or any more): ensure it and retry. */
export class SwitchMissingError extends Error {
  override name = "SwitchMissingError";
}

export class OvnTopology {
  constructor(private readonly nb: OvsdbSession, private readonly retries = 3) {}

  private async conn(): Promise<Connection> {
    return await this.nb.get();
  }

  /** Reads, plans, writes; a write that lost a race to another node is planned again. */
  private async converge(plan: (c: Connection) => Promise<Operation[]>): Promise<OpResult[]> {
    for (let attempt = 0;; attempt++) {
      const c = await this.conn();
      const ops = await plan(c);
      if (ops.length === 0) return [];
      try {
        return await c.client.transact(NB, ops);
      } catch (e) {
        if (!(e instanceof TransactError && e.retryable) || attempt >= this.retries) throw e;
      }
    }
  }

  /** Creates `k8s-cluster-router` unless it exists. */
  async ensureClusterRouter(): Promise<void> {
    await this.converge(async (c) => {
      const [r] = await c.client.transact(NB, [
        select("Logical_Router", [where.eq("name", CLUSTER_ROUTER)], ["_uuid"]),
      ]);
      return rowsOf(r).length ? [] : createRouterOps();
    });
  }

  /** Creates or repairs the namespace's switch, its router port pair and subnet settings. */
  async ensureNamespaceSwitch(net: NamespaceNetwork): Promise<void> {
    const q = switchQueries(net.namespace);
    await this.converge(async (c) => {
      const [ls, lrp, stor, lr] = await c.client.transact(NB, q);
      return namespaceSwitchOps(net, {
        sw: rowsOf(ls)[0],
        lrp: rowsOf(lrp)[0],
        stor: rowsOf(stor)[0],
        router: rowsOf(lr)[0],
      });
    });
  }

  /** Deletes the namespace's switch (with every port on it) and its router port. */
  async removeNamespaceSwitch(namespace: string): Promise<boolean> {
    const res = await this.converge(async (c) => {
      const [ls, lrp] = await c.client.transact(NB, [
        select("Logical_Switch", [where.eq("name", switchName(namespace))], ["_uuid"]),
        select("Logical_Router_Port", [where.eq("name", routerPortName(namespace))], ["_uuid"]),
      ]);
      const ops: Operation[] = rowsOf(ls).map((r) => ({
        op: "delete" as const,
        table: "Logical_Switch",
        where: [where.uuid(idOf(r))],
      }));
      for (const r of rowsOf(lrp)) {
        ops.push(mutate("Logical_Router", [where.includes("ports", uuid(idOf(r)))], [[
          "ports",
          "delete",
          uuid(idOf(r)),
        ]]));
      }
      return ops;
    });
    return res.length > 0;
  }

  /**
   * Creates the pod's logical switch port on its namespace switch, or brings an existing one
   * (a retried ADD) up to date. Throws SwitchMissingError when the switch does not exist.
   */
  async addPodPort(p: PodPort): Promise<void> {
    const sw = switchName(p.namespace);
    const row: Row = {
      addresses: lspAddress(p.mac, p.ips),
      port_security: lspAddress(p.mac, p.ips),
      external_ids: map({
        ...p.externalIds,
        [OWNER_KEY]: OWNER_PRISMNET,
        [EXT.namespace]: p.namespace,
      }),
    };
    await this.converge(async (c) => {
      const [lsp, ls] = await c.client.transact(NB, [
        select("Logical_Switch_Port", [where.eq("name", p.name)], [
          "_uuid",
          "addresses",
          "port_security",
          "external_ids",
        ]),
        select("Logical_Switch", [where.eq("name", sw)], ["_uuid", "ports"]),
      ]);
      const swRow = rowsOf(ls)[0];
      if (!swRow) throw new SwitchMissingError(`logical switch ${sw} does not exist`);
      const have = rowsOf(lsp)[0];
      if (have && asUuids(swRow.ports).includes(idOf(have))) {
        return [update("Logical_Switch_Port", [where.uuid(idOf(have))], row)];
      }
      const ops: Operation[] = [];
      if (have) {
        // On another switch (a stale port of the same name): take it off there first.
        ops.push(mutate("Logical_Switch", [where.includes("ports", uuid(idOf(have)))], [[
          "ports",
          "delete",
          uuid(idOf(have)),
        ]]));
      }
      ops.push(
        insert("Logical_Switch_Port", { name: p.name, ...row }, "lsp"),
        mutate("Logical_Switch", [where.uuid(idOf(swRow))], [[
          "ports",
          "insert",
          namedUuid("lsp"),
        ]]),
      );
      return ops;
    });
  }

  /** Resolves once northd reports the port up (ovn-controller bound it and installed flows). */
  async waitPortUp(name: string, timeoutMs: number): Promise<void> {
    const c = await this.conn();
    await waitForRow(
      c.client,
      NB,
      "Logical_Switch_Port",
      { columns: ["up"], where: [["name", "==", name]] },
      (r) => r.up === true,
      timeoutMs,
      `logical port ${name} is not up after ${timeoutMs}ms (is ovn-controller running on this node, and the interface on the integration bridge?)`,
    );
  }

  /** Removes logical switch ports by name; true when any existed. */
  async removePodPort(name: string): Promise<boolean> {
    return (await this.removePorts([where.eq("name", name)])).length > 0;
  }

  /** Removes every pod port whose external_ids include all of `ids`; returns their names. */
  async removePodPortsByIds(ids: Record<string, string>): Promise<string[]> {
    return await this.removePorts([where.includes("external_ids", map(ids))]);
  }

  private async removePorts(w: ReturnType<typeof where.eq>[]): Promise<string[]> {
    let names: string[] = [];
    await this.converge(async (c) => {
      const [lsp] = await c.client.transact(NB, [
        select("Logical_Switch_Port", w, ["_uuid", "name"]),
      ]);
      names = rowsOf(lsp).map((r) => String(r.name));
      return rowsOf(lsp).map((r) =>
        mutate("Logical_Switch", [where.includes("ports", uuid(idOf(r)))], [[
          "ports",
          "delete",
          uuid(idOf(r)),
        ]])
      );
    });
    return names;
  }

  /** Pod ports (owned by prismnet, not router ports) with their state. */
  async listPodPorts(): Promise<
    Array<{ name: string; up: boolean; externalIds: Record<string, string> }>
  > {
    const c = await this.conn();
    const [r] = await c.client.transact(NB, [
      select("Logical_Switch_Port", [
        where.includes("external_ids", map({ [OWNER_KEY]: OWNER_PRISMNET })),
      ], [
        "name",
        "type",
        "up",
        "external_ids",
      ]),
    ]);
    return rowsOf(r).filter((x) => x.type !== "router").map((x) => ({
      name: String(x.name),
      up: x.up === true,
      externalIds: asMap(x.external_ids),
    }));
  }
}
