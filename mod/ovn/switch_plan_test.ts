import assert from "node:assert/strict";
import { map, type Operation, set, uuid } from "../ovsdb/mod.ts";
import { EXT, OWNER_KEY, OWNER_PRISMNET, routerMac } from "./names.ts";
import { namespaceSwitchOps, type SelRow, SubnetConflictError } from "./switch_plan.ts";

const net = { namespace: "a", subnets: [{ cidr: "10.5.1.0/24", gateway: "10.5.1.1" }] };
const shape = (ops: Operation[]) => ops.map((o) => `${o.op} ${"table" in o ? o.table : ""}`);
const row = (id: string, r: Record<string, unknown>) => ({ _uuid: ["uuid", id], ...r }) as SelRow;
const current = () => ({
  sw: row("sw", {
    ports: uuid("stor"),
    other_config: map({ subnet: "10.5.1.0/24", exclude_ips: "10.5.1.1" }),
    external_ids: map({
      [OWNER_KEY]: OWNER_PRISMNET,
      [EXT.namespace]: "a",
      [EXT.subnet]: "10.5.1.0/24",
      [EXT.gateway]: "10.5.1.1",
    }),
  }),
  lrp: row("lrp", { networks: "10.5.1.1/24", mac: routerMac("10.5.1.1") }),
  stor: row("stor", {}),
  router: row("r", {}),
});

Deno.test("switch plan: from nothing, one guarded transaction creates everything", () => {
  const ops = namespaceSwitchOps(net, {});
  assert.deepEqual(shape(ops), [
    "wait Logical_Switch",
    "insert Logical_Switch_Port",
    "insert Logical_Switch",
    "insert Logical_Router_Port",
    "wait Logical_Router",
    "insert Logical_Router",
  ]);
  const router = ops[5] as { row: Record<string, unknown> };
  assert.deepEqual(router.row.ports, ["named-uuid", "lrp"]);
  assert.throws(() => namespaceSwitchOps({ namespace: "a", subnets: [] }, {}), TypeError);
});

Deno.test("switch plan: nothing to do when the rows match; repairs what is missing", () => {
  assert.deepEqual(namespaceSwitchOps(net, current()), []);
  const noStor = { ...current(), stor: undefined };
  assert.deepEqual(shape(namespaceSwitchOps(net, noStor)), [
    "insert Logical_Switch_Port",
    "mutate Logical_Switch",
  ]);
  const noLrp = { ...current(), lrp: undefined };
  assert.deepEqual(shape(namespaceSwitchOps(net, noLrp)), [
    "insert Logical_Router_Port",
    "mutate Logical_Router",
  ]);
  const wrongMac = {
    ...current(),
    lrp: row("lrp", { networks: "10.5.1.1/24", mac: "0a:58:00:00:00:00" }),
  };
  assert.deepEqual(shape(namespaceSwitchOps(net, wrongMac)), ["update Logical_Router_Port"]);
});

Deno.test("switch plan: a subnet moves only while no pod is on the switch", () => {
  const moved = { namespace: "a", subnets: [{ cidr: "10.6.0.0/24", gateway: "10.6.0.1" }] };
  assert.deepEqual(shape(namespaceSwitchOps(moved, current())), [
    "update Logical_Switch",
    "update Logical_Router_Port",
  ]);
  const busy = current();
  busy.sw.ports = set([uuid("stor"), uuid("pod1")]);
  assert.throws(() => namespaceSwitchOps(moved, busy), SubnetConflictError);
});

Deno.test("switch plan: dual stack", () => {
  const dual = {
    namespace: "d",
    subnets: [{ cidr: "10.7.0.0/24", gateway: "10.7.0.1" }, {
      cidr: "fd00:7::/64",
      gateway: "fd00:7::1",
    }],
  };
  const ops = namespaceSwitchOps(dual, {});
  const sw = ops[2] as { row: Record<string, unknown> };
  assert.deepEqual(
    sw.row.other_config,
    map({ subnet: "10.7.0.0/24", exclude_ips: "10.7.0.1", ipv6_prefix: "fd00:7::" }),
  );
  const lrp = ops[3] as { row: Record<string, unknown> };
  assert.deepEqual(lrp.row.networks, ["set", ["10.7.0.1/24", "fd00:7::1/64"]]);
});
