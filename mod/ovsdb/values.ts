/**
 * OVSDB's JSON encodings of atoms, sets and maps (RFC 7047 §5.1), both ways, and the column
 * types of a schema (§3.2) that say how a value and an update2 diff are to be read.
 */
export type Uuid = ["uuid", string];
export type NamedUuid = ["named-uuid", string];
export type Atom = string | number | boolean | Uuid | NamedUuid;
export type OvsdbSet = ["set", Atom[]];
export type OvsdbMap = ["map", Array<[Atom, Atom]>];
export type Value = Atom | OvsdbSet | OvsdbMap;
/** A row as the wire carries it: column name → encoded value. */
export type Row = Record<string, Value>;

export const uuid = (id: string): Uuid => ["uuid", id];
export const namedUuid = (name: string): NamedUuid => ["named-uuid", name];

/** A set of atoms; one element goes as the bare atom, which §5.1 allows and servers accept. */
export function set(items: readonly Atom[]): Value {
  return items.length === 1 ? items[0] : ["set", [...items]];
}

/** A string map, keys sorted so that equal maps encode equally. */
export function map(obj: Record<string, string>): OvsdbMap {
  return ["map", Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))];
}

function isTagged(v: unknown, tag: string): v is [string, unknown] {
  return Array.isArray(v) && v.length === 2 && v[0] === tag;
}

/** A column value as a list of atoms, whether the server sent an atom or a set. */
export function asList(v: unknown): Atom[] {
  if (v === undefined || v === null) return [];
  if (isTagged(v, "set")) return v[1] as Atom[];
  if (isTagged(v, "map")) throw new TypeError("asList: value is a map");
  return [v as Atom];
}

export function asStrings(v: unknown): string[] {
  return asList(v).map((a) => String(a));
}

/** A string→string map column as an object (non-string atoms are stringified). */
export function asMap(v: unknown): Record<string, string> {
  if (!isTagged(v, "map")) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of v[1] as Array<[Atom, Atom]>) out[atomText(k)] = atomText(x);
  return out;
}

export function uuidOf(v: unknown): string | undefined {
  return isTagged(v, "uuid") ? v[1] as string : undefined;
}

export function asUuids(v: unknown): string[] {
  return asList(v).map(uuidOf).filter((x): x is string => x !== undefined);
}

/** The optional (0..1) atom of a column, undefined when the set is empty. */
export function optional<T extends Atom>(v: unknown): T | undefined {
  return asList(v)[0] as T | undefined;
}

function atomText(a: Atom): string {
  return Array.isArray(a) ? a[1] : String(a);
}

/** Canonical text of an atom, for set arithmetic and comparisons. */
export function atomKey(a: Atom): string {
  return Array.isArray(a) ? `${a[0]}:${a[1]}` : `${typeof a}:${a}`;
}

// ---- schema ----

export interface BaseType {
  type: "integer" | "real" | "boolean" | "string" | "uuid";
  refTable?: string;
  refType?: "strong" | "weak";
}
export interface ColumnType {
  key: BaseType;
  value?: BaseType;
  min: number;
  max: number | "unlimited";
}
export interface TableSchema {
  columns: Record<string, { type: ColumnType; ephemeral?: boolean; mutable?: boolean }>;
  isRoot?: boolean;
  indexes?: string[][];
  maxRows?: number;
}
export interface DbSchema {
  name: string;
  version: string;
  tables: Record<string, TableSchema>;
}

type RawBase = string | { type: string; refTable?: string; refType?: "strong" | "weak" };
type RawType = string | { key: RawBase; value?: RawBase; min?: number; max?: number | "unlimited" };

function baseType(b: RawBase): BaseType {
  return typeof b === "string"
    ? { type: b as BaseType["type"] }
    : { type: b.type as BaseType["type"], refTable: b.refTable, refType: b.refType };
}

/** Normalizes a column type as get_schema returns it (§3.2: "string" or a full object). */
export function columnType(raw: RawType): ColumnType {
  if (typeof raw === "string") return { key: baseType(raw), min: 1, max: 1 };
  return {
    key: baseType(raw.key),
    value: raw.value === undefined ? undefined : baseType(raw.value),
    min: raw.min ?? 1,
    max: raw.max ?? 1,
  };
}

/** Parses get_schema's answer into normalized column types (the implicit _uuid included). */
export function parseSchema(raw: unknown): DbSchema {
  const r = raw as { name: string; version: string; tables: Record<string, unknown> };
  if (!r || typeof r.name !== "string" || typeof r.tables !== "object") {
    throw new TypeError("not an OVSDB schema");
  }
  const tables: Record<string, TableSchema> = {};
  for (const [name, t] of Object.entries(r.tables)) {
    const tt = t as { columns: Record<string, { type: RawType }> } & TableSchema;
    const columns: TableSchema["columns"] = {
      _uuid: { type: { key: { type: "uuid" }, min: 1, max: 1 } },
      _version: { type: { key: { type: "uuid" }, min: 1, max: 1 } },
    };
    for (const [c, spec] of Object.entries(tt.columns)) {
      columns[c] = { ...spec, type: columnType(spec.type) };
    }
    tables[name] = { columns, isRoot: tt.isRoot, indexes: tt.indexes, maxRows: tt.maxRows };
  }
  return { name: r.name, version: r.version, tables };
}

export const isMapType = (t: ColumnType) => t.value !== undefined;
/** Anything but exactly one atom is encoded as a set (or a map). */
export const isSetType = (t: ColumnType) => !(t.min === 1 && t.max === 1) && !isMapType(t);

/**
 * Applies one column of an update2 "modify" (ovsdb-server(7) §4.1.14): a column holding at
 * most one value (a scalar or an optional) carries the new value; a set column carries the
 * symmetric difference; a map column carries pairs to add (new key), remove (same key and
 * value) or replace (same key, new value).
 */
export function applyColumnDiff(old: Value | undefined, diff: Value, t: ColumnType): Value {
  if (isMapType(t)) {
    const cur = new Map<string, [Atom, Atom]>();
    if (isTagged(old, "map")) {
      for (const p of old[1] as Array<[Atom, Atom]>) cur.set(atomKey(p[0]), p);
    }
    const pairs = isTagged(diff, "map") ? diff[1] as Array<[Atom, Atom]> : [];
    for (const [k, v] of pairs) {
      const key = atomKey(k);
      const have = cur.get(key);
      if (have && atomKey(have[1]) === atomKey(v)) cur.delete(key);
      else cur.set(key, [k, v]);
    }
    return ["map", [...cur.values()]];
  }
  if (t.max !== 1) {
    const cur = new Map<string, Atom>();
    for (const a of asList(old)) cur.set(atomKey(a), a);
    for (const a of asList(diff)) {
      const key = atomKey(a);
      if (cur.has(key)) cur.delete(key);
      else cur.set(key, a);
    }
    return ["set", [...cur.values()]];
  }
  return diff;
}
