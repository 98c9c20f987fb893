/**
 * Desired rows vs the northbound's rows → the operations that make them equal. Pure: it
 * reads a snapshot of the NB (as the monitor cache holds it) and returns transactions.
 *
 * Rows are found by name (port groups, address sets: unique indexes) and, for ACLs, by the
 * `k8shost.io/id` external id within their port group; everything carrying our owner mark
 * that is not desired is deleted. Set columns change by `mutate` deltas, so a label change
 * that moves one pod costs a few elements on the wire, not whole sets.
 */
import {
  asMap,
  asStrings,
  asUuids,
  del,
  insert,
  map,
  mutate,
  namedUuid,
  type Operation,
  optional,
  type Row,
  set,
  update,
  uuid,
  where,
} from "../ovsdb/mod.ts";
import { KEYS, OWNER, OWNER_KEY } from "./names.ts";
import type { DesiredAcl, DesiredState } from "./types.ts";

/** The NB tables the plan reads, by row uuid. */
export interface NbSnapshot {
  portGroups: Map<string, Row>;
  acls: Map<string, Row>;
  addressSets: Map<string, Row>;
  /** Logical switch port uuid by name. */
  lspByName: Map<string, string>;
}

export interface Plan {
  /** Transactions, in order; each at most `maxOps` operations (a port group stays whole). */
  transactions: Operation[][];
  counts: { inserted: number; updated: number; mutated: number; deleted: number };
}

const isOwned = (r: Row) => asMap(r.external_ids)[OWNER_KEY] === OWNER;
const sameMap = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

function aclRow(a: DesiredAcl): Row {
  return {
    name: set([a.name]),
    priority: a.priority,
    direction: a.direction,
    match: a.match,
    action: a.action,
    log: false,
    options: map(a.options),
    external_ids: map(a.externalIds),
  };
}

function aclDiffers(have: Row, a: DesiredAcl): boolean {
  return have.priority !== a.priority || have.direction !== a.direction || have.match !== a.match ||
    have.action !== a.action || optional(have.name) !== a.name || have.log === true ||
    !sameMap(asMap(have.options), a.options) || !sameMap(asMap(have.external_ids), a.externalIds);
}

export function planNb(desired: DesiredState, nb: NbSnapshot, maxOps = 2000): Plan {
  const counts = { inserted: 0, updated: 0, mutated: 0, deleted: 0 };
  const first: Operation[][] = []; // address sets created or changed
  const middle: Operation[][] = []; // port groups and their ACLs
  const last: Operation[][] = []; // address sets no longer wanted
  let seq = 0;

  const setsByName = new Map<string, [string, Row]>();
  for (const [id, r] of nb.addressSets) setsByName.set(String(r.name), [id, r]);
  for (const want of desired.addressSets.values()) {
    const have = setsByName.get(want.name);
    if (!have) {
      counts.inserted++;
      first.push([insert("Address_Set", {
        name: want.name,
        addresses: set(want.addresses),
        external_ids: map(want.externalIds),
      })]);
      continue;
    }
    const [id, row] = have;
    const ops = setDelta("Address_Set", id, "addresses", asStrings(row.addresses), want.addresses);
    if (!sameMap(asMap(row.external_ids), want.externalIds)) {
      ops.push(update("Address_Set", [where.uuid(id)], { external_ids: map(want.externalIds) }));
    }
    if (ops.length) {
      counts.mutated += ops.length;
      first.push(ops);
    }
  }
  for (const [id, r] of nb.addressSets) {
    if (isOwned(r) && !desired.addressSets.has(String(r.name))) {
      counts.deleted++;
      last.push([del("Address_Set", [where.uuid(id)])]);
    }
  }

  const groupsByName = new Map<string, [string, Row]>();
  for (const [id, r] of nb.portGroups) groupsByName.set(String(r.name), [id, r]);
  for (const want of desired.portGroups.values()) {
    const ports = want.ports.map((n) => nb.lspByName.get(n)).filter((x): x is string => !!x);
    const have = groupsByName.get(want.name);
    if (!have) {
      const ops: Operation[] = [];
      const names = want.acls.map((a) => {
        const n = `acl${seq++}`;
        ops.push(insert("ACL", aclRow(a), n));
        return namedUuid(n);
      });
      ops.push(insert("Port_Group", {
        name: want.name,
        ports: set(ports.map(uuid)),
        acls: set(names),
        external_ids: map(want.externalIds),
      }));
      counts.inserted += ops.length;
      middle.push(ops);
      continue;
    }
    const [pgId, row] = have;
    const ops = setDelta("Port_Group", pgId, "ports", asUuids(row.ports), ports, uuid);
    if (!sameMap(asMap(row.external_ids), want.externalIds)) {
      ops.push(update("Port_Group", [where.uuid(pgId)], { external_ids: map(want.externalIds) }));
    }
    // ACLs of the group by our id; duplicates and strangers are dropped from the group.
    const byId = new Map<string, string[]>();
    const drop: string[] = [];
    for (const aclId of asUuids(row.acls)) {
      const acl = nb.acls.get(aclId);
      const key = acl ? asMap(acl.external_ids)[KEYS.id] : undefined;
      if (!key) {
        if (acl) drop.push(aclId); // not ours to keep in our group
        continue;
      }
      byId.set(key, [...(byId.get(key) ?? []), aclId]);
    }
    const wanted = new Set(want.acls.map((a) => a.id));
    for (const [key, ids] of byId) {
      if (!wanted.has(key)) drop.push(...ids);
      else drop.push(...ids.slice(1));
    }
    const add: ReturnType<typeof namedUuid>[] = [];
    for (const a of want.acls) {
      const existing = byId.get(a.id)?.[0];
      if (!existing) {
        const n = `acl${seq++}`;
        ops.push(insert("ACL", aclRow(a), n));
        add.push(namedUuid(n));
        counts.inserted++;
      } else if (aclDiffers(nb.acls.get(existing)!, a)) {
        ops.push(update("ACL", [where.uuid(existing)], aclRow(a)));
        counts.updated++;
      }
    }
    const mutations: Array<[string, "insert" | "delete", ReturnType<typeof set>]> = [];
    if (drop.length) mutations.push(["acls", "delete", set(drop.map(uuid))]);
    if (add.length) mutations.push(["acls", "insert", set(add)]);
    if (mutations.length) ops.push(mutate("Port_Group", [where.uuid(pgId)], mutations));
    counts.deleted += drop.length;
    if (ops.length) {
      counts.mutated++;
      middle.push(ops);
    }
  }
  for (const [id, r] of nb.portGroups) {
    if (isOwned(r) && !desired.portGroups.has(String(r.name))) {
      counts.deleted++;
      middle.push([del("Port_Group", [where.uuid(id)])]); // its ACLs go with it (strong refs)
    }
  }
  return { transactions: pack([...first, ...middle, ...last], maxOps), counts };
}

/** mutate ops turning set column `have` into `want` (delete first: a set may be bounded). */
function setDelta(
  table: string,
  id: string,
  column: string,
  have: string[],
  want: string[],
  wrap: (s: string) => string | ReturnType<typeof uuid> = (s) => s,
): Operation[] {
  const h = new Set(have);
  const w = new Set(want);
  const rem = have.filter((x) => !w.has(x));
  const add = want.filter((x) => !h.has(x));
  const mutations: Array<[string, "insert" | "delete", ReturnType<typeof set>]> = [];
  if (rem.length) mutations.push([column, "delete", set(rem.map(wrap))]);
  if (add.length) mutations.push([column, "insert", set(add.map(wrap))]);
  return mutations.length ? [mutate(table, [where.uuid(id)], mutations)] : [];
}

/** Packs op groups into transactions of at most `maxOps` operations, order kept. */
function pack(groups: Operation[][], maxOps: number): Operation[][] {
  const out: Operation[][] = [];
  let cur: Operation[] = [];
  for (const g of groups) {
    if (cur.length && cur.length + g.length > maxOps) {
      out.push(cur);
      cur = [];
    }
    cur.push(...g);
  }
  if (cur.length) out.push(cur);
  return out;
}
