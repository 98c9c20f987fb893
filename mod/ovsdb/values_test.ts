import assert from "node:assert/strict";
import {
  applyColumnDiff,
  asList,
  asMap,
  asStrings,
  asUuids,
  columnType,
  map,
  optional,
  parseSchema,
  set,
  uuid,
  uuidOf,
} from "./values.ts";

Deno.test("values: sets and maps encode per RFC 7047 §5.1", () => {
  assert.deepEqual(set([]), ["set", []]);
  assert.equal(set(["a"]), "a");
  assert.deepEqual(set(["a", "b"]), ["set", ["a", "b"]]);
  assert.deepEqual(set([uuid("x")]), ["uuid", "x"]);
  assert.deepEqual(map({ b: "2", a: "1" }), ["map", [["a", "1"], ["b", "2"]]]);
  assert.deepEqual(map({}), ["map", []]);
});

Deno.test("values: decoding tolerates atoms, sets, absent columns", () => {
  assert.deepEqual(asList("a"), ["a"]);
  assert.deepEqual(asList(["set", ["a", "b"]]), ["a", "b"]);
  assert.deepEqual(asList(undefined), []);
  assert.deepEqual(asList(["uuid", "u1"]), [["uuid", "u1"]]);
  assert.throws(() => asList(["map", []]), TypeError);
  assert.deepEqual(asStrings(["set", [1, true, "x"]]), ["1", "true", "x"]);
  assert.deepEqual(asUuids(["set", [["uuid", "a"], ["uuid", "b"]]]), ["a", "b"]);
  assert.deepEqual(asUuids(["uuid", "a"]), ["a"]);
  assert.equal(uuidOf("a"), undefined);
  assert.deepEqual(asMap(["map", [["k", "v"], ["n", 3]]]), { k: "v", n: "3" });
  assert.deepEqual(asMap(undefined), {});
  assert.equal(optional(["set", []]), undefined);
  assert.equal(optional(true), true);
});

Deno.test("values: column types normalize from both schema forms", () => {
  assert.deepEqual(columnType("string"), { key: { type: "string" }, min: 1, max: 1 });
  const t = columnType({
    key: { type: "uuid", refTable: "ACL", refType: "strong" },
    min: 0,
    max: "unlimited",
  });
  assert.equal(t.key.refTable, "ACL");
  assert.equal(t.min, 0);
  const s = parseSchema({
    name: "X",
    version: "1.0.0",
    tables: { T: { columns: { a: { type: "integer" } }, isRoot: true, indexes: [["a"]] } },
  });
  assert.deepEqual(Object.keys(s.tables.T.columns).sort(), ["_uuid", "_version", "a"]);
  assert.deepEqual(s.tables.T.indexes, [["a"]]);
  assert.throws(() => parseSchema({ nope: 1 }), TypeError);
});

Deno.test("values: update2 diffs apply per column kind", () => {
  const strSet = columnType({ key: "string", min: 0, max: "unlimited" });
  // Set: symmetric difference (b removed, c added).
  assert.deepEqual(applyColumnDiff(["set", ["a", "b"]], ["set", ["b", "c"]], strSet), [
    "set",
    ["a", "c"],
  ]);
  assert.deepEqual(applyColumnDiff(undefined, "a", strSet), ["set", ["a"]]);
  assert.deepEqual(applyColumnDiff("a", "a", strSet), ["set", []]);
  // Map: new key added, same pair removed, same key with another value replaced.
  const strMap = columnType({ key: "string", value: "string", min: 0, max: "unlimited" });
  assert.deepEqual(
    applyColumnDiff(
      ["map", [["keep", "1"], ["drop", "2"], ["change", "3"]]],
      ["map", [["drop", "2"], ["change", "4"], ["new", "5"]]],
      strMap,
    ),
    ["map", [["keep", "1"], ["change", "4"], ["new", "5"]]],
  );
  // A scalar and an optional (at most one value) carry the new value itself.
  assert.equal(applyColumnDiff(5, 6, columnType("integer")), 6);
  const opt = columnType({ key: "boolean", min: 0, max: 1 });
  assert.equal(applyColumnDiff(false, true, opt), true);
  assert.deepEqual(applyColumnDiff(true, ["set", []], opt), ["set", []]);
  // uuid sets compare by value, not identity.
  const refs = columnType({ key: { type: "uuid", refTable: "X" }, min: 0, max: "unlimited" });
  assert.deepEqual(
    applyColumnDiff(["set", [["uuid", "1"], ["uuid", "2"]]], ["uuid", "1"], refs),
    ["set", [["uuid", "2"]]],
  );
});
