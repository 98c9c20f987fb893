import assert from "node:assert/strict";
import { map, type Operation, type Row, set, uuid } from "../ovsdb/mod.ts";
import { KEYS, owned } from "./names.ts";
import { type NbSnapshot, planNb } from "./plan.ts";
import { staleSwitches } from "./switches.ts";
import type { DesiredAcl, DesiredState } from "./types.ts";

const acl = (id: string, match = "outport == @pg"): DesiredAcl => ({
  id,
  direction: "to-lport",
  priority: 1001,
  match,
  action: "allow-related",
  name: `NP:${id}`,
  options: {},
  externalIds: owned("NetworkPolicy", "ns:p", { [KEYS.id]: id }),
});

function desired(
  acls = [acl("a1")],
  addresses = ["10.0.0.1", "10.0.0.2"],
  ports = ["lsp1"],
): DesiredState {
  return {
    portGroups: new Map([["pg", {
      name: "pg",
      ports,
      acls,
      externalIds: owned("NetworkPolicy", "ns:p"),
    }]]),
    addressSets: new Map([["as_v4", {
      name: "as_v4",
      addresses,
      externalIds: owned("NetpolPeers", "ns:p"),
    }]]),
    problems: [],
  };
}

/** The NB as if `d` had been applied, with row uuids u-*. */
function applied(d: DesiredState): NbSnapshot {
  const acls = new Map<string, Row>();
  const portGroups = new Map<string, Row>();
  const addressSets = new Map<string, Row>();
  let n = 0;
  for (const pg of d.portGroups.values()) {
    const ids = pg.acls.map((a) => {
      const id = `u-acl-${n++}`;
      acls.set(id, {
        name: a.name,
        priority: a.priority,
        direction: a.direction,
        match: a.match,
        action: a.action,
        log: false,
        options: map(a.options),
        external_ids: map(a.externalIds),
      });
      return id;
    });
    portGroups.set(`u-pg-${n++}`, {
      name: pg.name,
      ports: set(pg.ports.map((p) => uuid(`u-${p}`))),
      acls: set(ids.map(uuid)),
      external_ids: map(pg.externalIds),
    });
  }
  for (const as of d.addressSets.values()) {
    addressSets.set(`u-as-${n++}`, {
      name: as.name,
      addresses: set(as.addresses),
      external_ids: map(as.externalIds),
    });
  }
  return {
    portGroups,
    acls,
    addressSets,
    lspByName: new Map([["lsp1", "u-lsp1"], ["lsp2", "u-lsp2"]]),
  };
}

const flat = (t: Operation[][]) => t.flat();

Deno.test("netpol plan: empty NB → address sets first, then the group with its ACLs", () => {
  const nb = {
    portGroups: new Map(),
    acls: new Map(),
    addressSets: new Map(),
    lspByName: new Map([["lsp1", "u-lsp1"]]),
  };
  const p = planNb(desired(), nb);
  assert.equal(p.transactions.length, 1);
  const ops = flat(p.transactions);
  assert.deepEqual(ops.map((o) => `${o.op} ${"table" in o ? o.table : ""}`), [
    "insert Address_Set",
    "insert ACL",
    "insert Port_Group",
  ]);
  const pg = ops[2] as { row: Row };
  assert.deepEqual(pg.row.ports, ["uuid", "u-lsp1"]);
  assert.deepEqual(pg.row.acls, ["named-uuid", (ops[1] as { "uuid-name": string })["uuid-name"]]);
});

Deno.test("netpol plan: nothing to do when the NB matches", () => {
  const d = desired();
  assert.deepEqual(planNb(d, applied(d)).transactions, []);
});

Deno.test("netpol plan: set columns change by delta mutations", () => {
  const nb = applied(desired());
  const p = planNb(desired([acl("a1")], ["10.0.0.2", "10.0.0.3"], ["lsp2"]), nb);
  const ops = flat(p.transactions);
  assert.equal(ops.length, 2);
  assert.deepEqual(ops[0], {
    op: "mutate",
    table: "Address_Set",
    where: [["_uuid", "==", ["uuid", [...nb.addressSets.keys()][0]]]],
    mutations: [["addresses", "delete", "10.0.0.1"], ["addresses", "insert", "10.0.0.3"]],
  });
  assert.deepEqual((ops[1] as { mutations: unknown }).mutations, [
    ["ports", "delete", ["uuid", "u-lsp1"]],
    ["ports", "insert", ["uuid", "u-lsp2"]],
  ]);
});

Deno.test("netpol plan: ACLs updated in place, added, removed; duplicates and strangers dropped", () => {
  const nb = applied(desired([acl("a1"), acl("gone")]));
  const [pgId, pg] = [...nb.portGroups][0];
  // A duplicate of a1 and an ACL someone else put in our group.
  nb.acls.set("u-dup", { ...nb.acls.get("u-acl-0")! });
  nb.acls.set("u-stranger", { match: "1", external_ids: map({}) });
  pg.acls = set([
    ...(pg.acls as ["set", Array<["uuid", string]>])[1],
    uuid("u-dup"),
    uuid("u-stranger"),
  ]);
  const p = planNb(desired([acl("a1", "outport == @pg && tcp"), acl("new")]), nb);
  const ops = flat(p.transactions);
  const upd = ops.find((o) => o.op === "update" && o.table === "ACL") as {
    where: unknown;
    row: Row;
  };
  assert.deepEqual(upd.where, [["_uuid", "==", ["uuid", "u-acl-0"]]]);
  assert.equal(upd.row.match, "outport == @pg && tcp");
  assert.equal(ops.filter((o) => o.op === "insert").length, 1);
  const m = ops.find((o) => o.op === "mutate" && o.table === "Port_Group") as {
    where: unknown;
    mutations: unknown[];
  };
  assert.deepEqual(m.where, [["_uuid", "==", ["uuid", pgId]]]);
  const [del, ins] = m.mutations as Array<[string, string, unknown]>;
  assert.equal(del[1], "delete");
  assert.deepEqual(
    new Set((del[2] as ["set", Array<["uuid", string]>])[1].map((u) => u[1])),
    new Set(["u-stranger", "u-acl-1", "u-dup"]),
  );
  assert.equal(ins[1], "insert");
});

Deno.test("netpol plan: owned rows no longer wanted are deleted, others left alone", () => {
  const nb = applied(desired());
  nb.portGroups.set("u-foreign", {
    name: "someone_elses",
    external_ids: map({ owner: "neutron" }),
  });
  nb.addressSets.set("u-foreign-as", { name: "theirs", external_ids: map({}) });
  const empty: DesiredState = { portGroups: new Map(), addressSets: new Map(), problems: [] };
  const ops = flat(planNb(empty, nb).transactions);
  assert.deepEqual(ops.map((o) => `${o.op} ${"table" in o ? o.table : ""}`), [
    "delete Port_Group",
    "delete Address_Set",
  ]);
  assert.ok(!JSON.stringify(ops).includes("u-foreign"));
});

Deno.test("netpol plan: transactions are packed without splitting a port group", () => {
  const d: DesiredState = { portGroups: new Map(), addressSets: new Map(), problems: [] };
  for (let i = 0; i < 5; i++) {
    d.portGroups.set(`pg${i}`, {
      name: `pg${i}`,
      ports: [],
      acls: [acl(`a${i}`), acl(`b${i}`)],
      externalIds: owned("NetworkPolicy", `n:${i}`),
    });
  }
  const nb = {
    portGroups: new Map(),
    acls: new Map(),
    addressSets: new Map(),
    lspByName: new Map(),
  };
  const p = planNb(d, nb, 7);
  assert.deepEqual(p.transactions.map((t) => t.length), [6, 6, 3]);
  for (const t of p.transactions) {
    // Every named ACL is referenced by the group inserted in the same transaction.
    const names = t.filter((o) => o.op === "insert" && o.table === "ACL").map((o) =>
      (o as { "uuid-name": string })["uuid-name"]
    );
    const refs = JSON.stringify(t.filter((o) => o.op === "insert" && o.table === "Port_Group"));
    for (const n of names) assert.ok(refs.includes(n));
  }
});

Deno.test("netpol switches: only empty prismnet switches of deleted namespaces go", () => {
  const owned = (ns: string) => map({ "k8shost.io/owner": "prismnet", "k8shost.io/namespace": ns });
  const switches = new Map<string, Row>([
    ["s1", { name: "k8s-gone", ports: uuid("stor1"), external_ids: owned("gone") }],
    ["s2", {
      name: "k8s-busy",
      ports: set([uuid("stor2"), uuid("pod2")]),
      external_ids: owned("busy"),
    }],
    ["s3", { name: "k8s-live", ports: uuid("stor3"), external_ids: owned("live") }],
    ["s4", { name: "other", ports: set([]), external_ids: map({}) }],
    ["s5", { name: "k8s-empty", ports: set([]), external_ids: owned("empty") }],
  ]);
  const ports = new Map<string, Row>([
    ["stor1", { type: "router" }],
    ["stor2", { type: "router" }],
    ["pod2", { type: "" }],
    ["stor3", { type: "router" }],
  ]);
  assert.deepEqual(staleSwitches(switches, ports, new Set(["live"])), ["empty", "gone"]);
});
