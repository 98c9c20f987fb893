/**
 * The rows a namespace's network needs, planned from what the NB holds (pure): the switch
 * `k8s-<ns>` with its subnet settings, the router port pair `rtos-`/`stor-k8s-<ns>`, and the
 * cluster router itself when it is missing. Creation is guarded with `wait` on the switch and
 * router names (neither table has a unique index), so two nodes racing to create the same
 * namespace's switch cannot both succeed; the loser plans again from fresh rows.
 */
import {
  asMap,
  asStrings,
  asUuids,
  insert,
  map,
  mutate,
  type NamedUuid,
  namedUuid,
  type Operation,
  type OpResult,
  type Row,
  select,
  set,
  update,
  waitRows,
  where,
} from "../ovsdb/mod.ts";
import {
  CLUSTER_ROUTER,
  EXT,
  OWNER_KEY,
  OWNER_PRISMNET,
  routerMac,
  routerPortName,
  switchName,
  switchRouterPortName,
} from "./names.ts";

export interface Subnet {
  cidr: string;
  gateway: string;
}

export interface NamespaceNetwork {
  namespace: string;
  /** One per address family in use. */
  subnets: Subnet[];
  externalIds?: Record<string, string>;
}

/** The namespace's switch already serves pods in another subnet. */
export class SubnetConflictError extends Error {
  override name = "SubnetConflictError";
}

export type SelRow = Row & { _uuid: ["uuid", string] };
export const rowsOf = (r: OpResult) => (r.rows ?? []) as SelRow[];
export const idOf = (r: SelRow) => r._uuid[1];

/** The four selects whose answers namespaceSwitchOps plans from, in its order. */
export function switchQueries(namespace: string): Operation[] {
  return [
    select("Logical_Switch", [where.eq("name", switchName(namespace))], [
      "_uuid",
      "ports",
      "other_config",
      "external_ids",
    ]),
    select("Logical_Router_Port", [where.eq("name", routerPortName(namespace))], [
      "_uuid",
      "networks",
      "mac",
    ]),
    select("Logical_Switch_Port", [where.eq("name", switchRouterPortName(namespace))], ["_uuid"]),
    select("Logical_Router", [where.eq("name", CLUSTER_ROUTER)], ["_uuid"]),
  ];
}

export interface SwitchRows {
  sw?: SelRow;
  lrp?: SelRow;
  stor?: SelRow;
  router?: SelRow;
}

export function createRouterOps(ports: NamedUuid[] = []): Operation[] {
  return [
    waitRows("Logical_Router", [where.eq("name", CLUSTER_ROUTER)], ["name"], []),
    insert("Logical_Router", {
      name: CLUSTER_ROUTER,
      ports: set(ports),
      external_ids: map({ [OWNER_KEY]: OWNER_PRISMNET }),
    }),
  ];
}

/** Operations that make the namespace's rows as `net` says ([] when they already are). */
export function namespaceSwitchOps(net: NamespaceNetwork, have: SwitchRows): Operation[] {
  if (net.subnets.length === 0) throw new TypeError(`namespace ${net.namespace}: no subnet`);
  const ns = net.namespace;
  const sw = switchName(ns);
  const lrpName = routerPortName(ns);
  const v4 = net.subnets.find((s) => !s.cidr.includes(":"));
  const v6 = net.subnets.find((s) => s.cidr.includes(":"));
  const otherConfig: Record<string, string> = {};
  if (v4) Object.assign(otherConfig, { subnet: v4.cidr, exclude_ips: v4.gateway });
  if (v6) otherConfig.ipv6_prefix = v6.cidr.split("/")[0];
  const externalIds = {
    ...net.externalIds,
    [OWNER_KEY]: OWNER_PRISMNET,
    [EXT.namespace]: ns,
    [EXT.subnet]: net.subnets.map((s) => s.cidr).join(","),
    [EXT.gateway]: net.subnets.map((s) => s.gateway).join(","),
  };
  const portIds = map({ [OWNER_KEY]: OWNER_PRISMNET, [EXT.namespace]: ns });
  const networks = net.subnets.map((s) => `${s.gateway}/${s.cidr.split("/")[1]}`);
  const mac = routerMac(net.subnets[0].gateway);
  const stor = insert("Logical_Switch_Port", {
    name: switchRouterPortName(ns),
    type: "router",
    addresses: "router",
    options: map({ "router-port": lrpName }),
    external_ids: portIds,
  }, "stor");

  const ops: Operation[] = [];
  if (!have.sw) {
    ops.push(
      waitRows("Logical_Switch", [where.eq("name", sw)], ["name"], []),
      stor,
      insert("Logical_Switch", {
        name: sw,
        ports: namedUuid("stor"),
        other_config: map(otherConfig),
        external_ids: map(externalIds),
      }),
    );
  } else {
    const id = idOf(have.sw);
    const ids = asMap(have.sw.external_ids);
    const podPorts = asUuids(have.sw.ports).length - (have.stor ? 1 : 0);
    if (ids[EXT.subnet] && ids[EXT.subnet] !== externalIds[EXT.subnet] && podPorts > 0) {
      // Moving a subnet under live pods would cut them off; nodes must share one IPAM.
      throw new SubnetConflictError(
        `logical switch ${sw} serves ${ids[EXT.subnet]} with ${podPorts} pod port(s); refusing ` +
          `to move it to ${externalIds[EXT.subnet]} (do all nodes use one PrismNET IPAM?)`,
      );
    }
    const cur = asMap(have.sw.other_config);
    const want = { ...cur, ...otherConfig };
    if (!sameMap(cur, want) || !sameMap(ids, externalIds)) {
      ops.push(update("Logical_Switch", [where.uuid(id)], {
        other_config: map(want),
        external_ids: map(externalIds),
      }));
    }
    if (!have.stor) {
      ops.push(
        stor,
        mutate("Logical_Switch", [where.uuid(id)], [["ports", "insert", namedUuid("stor")]]),
      );
    }
  }
  if (!have.lrp) {
    ops.push(insert("Logical_Router_Port", {
      name: lrpName,
      mac,
      networks: set(networks),
      external_ids: portIds,
    }, "lrp"));
    if (have.router) {
      ops.push(
        mutate("Logical_Router", [where.uuid(idOf(have.router))], [[
          "ports",
          "insert",
          namedUuid("lrp"),
        ]]),
      );
    }
  } else if (have.lrp.mac !== mac || !sameSet(asStrings(have.lrp.networks), networks)) {
    ops.push(
      update("Logical_Router_Port", [where.uuid(idOf(have.lrp))], { mac, networks: set(networks) }),
    );
  }
  // The router itself, created in the same transaction, takes the new port directly.
  if (!have.router) ops.push(...createRouterOps(have.lrp ? [] : [namedUuid("lrp")]));
  return ops;
}

export function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
