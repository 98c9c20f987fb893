import assert from "node:assert/strict";
import { AllocationTable, type Holder } from "./allocations.ts";

const h = (key: string, o: Partial<Holder> = {}): Holder => ({
  key,
  sharingKey: "",
  tenant: "o/p",
  ports: ["TCP/80"],
  ...o,
});

Deno.test("assign/release: one holder per address unless sharing", () => {
  const t = new AllocationTable();
  t.assign("192.0.2.1", h("ns/a"));
  assert.equal(t.ipOf("ns/a"), "192.0.2.1");
  assert.equal(t.conflict("192.0.2.1", h("ns/b")), "192.0.2.1 is assigned to ns/a");
  assert.throws(() => t.assign("192.0.2.1", h("ns/b")), /assigned to ns\/a/);
  assert.equal(
    t.conflict("192.0.2.1", h("ns/a", { ports: ["TCP/443"] })),
    undefined,
    "a holder never conflicts with itself",
  );
  t.assign("192.0.2.2", h("ns/a"));
  assert.equal(t.isUsed("192.0.2.1"), false, "moving frees the old address");
  assert.equal(t.release("ns/a"), "192.0.2.2");
  assert.equal(t.release("ns/a"), undefined);
  assert.equal(t.size, 0);
});

Deno.test("sharing: same key and tenant, no port overlap", () => {
  const t = new AllocationTable();
  t.assign("192.0.2.1", h("ns/a", { sharingKey: "k" }));
  assert.equal(
    t.conflict("192.0.2.1", h("ns/b", { sharingKey: "k", ports: ["TCP/443", "UDP/80"] })),
    undefined,
  );
  assert.match(
    t.conflict("192.0.2.1", h("ns/b", { sharingKey: "k" }))!,
    /TCP\/80 on shared IP 192\.0\.2\.1 is already used by ns\/a/,
  );
  assert.match(
    t.conflict("192.0.2.1", h("ns/b", { sharingKey: "other", ports: ["TCP/1"] }))!,
    /assigned to ns\/a/,
  );
  assert.match(
    t.conflict("192.0.2.1", h("ns/b", { sharingKey: "", ports: ["TCP/1"] }))!,
    /assigned to ns\/a/,
  );
  assert.match(
    t.conflict("192.0.2.1", h("ns/b", { sharingKey: "k", tenant: "x/y", ports: ["TCP/1"] }))!,
    /another tenant/,
  );
  t.assign("192.0.2.1", h("ns/b", { sharingKey: "k", ports: ["TCP/443"] }));
  assert.equal(t.holders("192.0.2.1").length, 2);
  assert.equal(t.release("ns/a"), undefined, "still held by ns/b");
  assert.equal(t.release("ns/b"), "192.0.2.1");
});

Deno.test("shareable: finds another holder's address for the same key", () => {
  const t = new AllocationTable();
  t.assign("192.0.2.1", h("ns/a", { sharingKey: "k" }));
  t.assign("192.0.2.2", h("ns/c", { sharingKey: "k", ports: ["TCP/443"] }));
  assert.equal(
    t.shareable(h("ns/b", { sharingKey: "k" }), () => true),
    "192.0.2.2",
    "80 clashes on .1",
  );
  assert.equal(
    t.shareable(h("ns/b", { sharingKey: "k", ports: ["TCP/8080"] }), () => true),
    "192.0.2.1",
  );
  assert.equal(
    t.shareable(h("ns/b", { sharingKey: "k", ports: ["TCP/8080"] }), (ip) => ip !== "192.0.2.1"),
    "192.0.2.2",
  );
  assert.equal(t.shareable(h("ns/b", { sharingKey: "" }), () => true), undefined);
  assert.equal(
    t.shareable(h("ns/a", { sharingKey: "k", ports: ["TCP/9"] }), (ip) => ip === "192.0.2.1"),
    undefined,
    "not with itself",
  );
});
