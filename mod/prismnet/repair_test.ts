import assert from "node:assert/strict";
import { planGc, planSweep, type RepairInput } from "./repair.ts";

const old = "2020-01-01T00:00:00Z";
const rec = (containerId: string, extra: Partial<RepairInput["records"][0]> = {}) => ({
  network: "net",
  containerId,
  ifname: "eth0",
  netns: `/run/netns/${containerId}`,
  hostVeth: `kh${containerId.padEnd(13, "0")}`,
  createdAt: old,
  ...extra,
});
const lease = (containerId: string, extra: Partial<RepairInput["leases"][0]> = {}) => ({
  network: "net",
  containerId,
  ifname: "eth0",
  podUid: "",
  namespace: "ns",
  createdAt: old,
  ...extra,
});

function input(over: Partial<RepairInput> = {}): RepairInput {
  return {
    records: [rec("a"), rec("b"), rec("c", { network: "other" })],
    leases: [lease("a"), lease("b"), lease("x"), lease("y", { network: "other" })],
    ports: [rec("a").hostVeth, rec("b").hostVeth, "kh" + "f".repeat(13), "eth0", "khshort"],
    busy: () => false,
    now: Date.parse("2020-01-02T00:00:00Z"),
    graceMs: 60_000,
    ...over,
  };
}

Deno.test("GC: unlisted attachments and record-less leases of that network; orphan ports", () => {
  const p = planGc(input(), "net", [{ containerId: "a", ifname: "eth0" }]);
  assert.deepEqual(p.records.map((r) => r.containerId), ["b"]);
  assert.deepEqual(
    p.leases.map((l) => l.containerId),
    ["x"],
    "other networks' leases are not ours to judge",
  );
  assert.deepEqual(p.ports, ["kh" + "f".repeat(13)], "only kh-named ports without a record");
});

Deno.test("GC spares busy containers and anything younger than the grace period", () => {
  const young = new Date(Date.parse("2020-01-02T00:00:00Z") - 1000).toISOString();
  const p = planGc(
    input({
      records: [rec("a"), rec("b", { createdAt: young })],
      leases: [lease("x", { createdAt: young }), lease("z")],
      busy: (id) => id === "z",
    }),
    "net",
    [],
  );
  assert.deepEqual(p.records.map((r) => r.containerId), ["a"]);
  assert.deepEqual(p.leases, []);
});

Deno.test("sweep: attachments whose namespace is gone, in every network", () => {
  const alive = new Set(["/run/netns/a"]);
  const p = planSweep(input(), (path) => alive.has(path));
  assert.deepEqual(p.records.map((r) => r.containerId), ["b", "c"]);
  assert.deepEqual(p.leases.map((l) => l.containerId), ["x", "y"]);
});
