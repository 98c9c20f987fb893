import assert from "node:assert/strict";
import { AffinityTable, Balancer, type Candidate, rendezvous } from "./balancer.ts";

const c = (key: string, weight = 1, active = 0): Candidate => ({ key, weight, active });

Deno.test("round-robin: even interleaving, exact weighted shares, members coming and going", () => {
  const b = new Balancer("ROUND_ROBIN");
  const abc = [c("a"), c("b"), c("c")];
  assert.deepEqual(Array.from({ length: 6 }, () => b.pick(abc, "x")!.key), [
    "a",
    "b",
    "c",
    "a",
    "b",
    "c",
  ]);
  const w = new Balancer("ROUND_ROBIN");
  const weighted = [c("a", 5), c("b", 1), c("c", 1)];
  const seq = Array.from({ length: 7 }, () => w.pick(weighted, "x")!.key);
  assert.deepEqual(
    seq,
    ["a", "a", "b", "a", "c", "a", "a"],
    "smooth: b and c are interleaved, not bunched",
  );
  assert.equal(
    b.pick([c("b"), c("c")], "x")!.key === b.pick([c("b"), c("c")], "x")!.key,
    false,
    "alternates after a removal",
  );
  assert.equal(b.pick([], "x"), undefined);
  assert.equal(
    new Balancer("ROUND_ROBIN").pick([c("only", 0)], "x")!.key,
    "only",
    "weight 0 counts as 1",
  );
});

Deno.test("least-conn: fewest active per weight, ties rotate", () => {
  const b = new Balancer("LEAST_CONN");
  assert.equal(b.pick([c("a", 1, 3), c("b", 1, 1), c("c", 1, 2)], "x")!.key, "b");
  assert.equal(b.pick([c("a", 4, 4), c("b", 1, 2)], "x")!.key, "a", "4/4 beats 2/1");
  const ties = Array.from({ length: 4 }, () => b.pick([c("a"), c("b")], "x")!.key);
  assert.equal(new Set(ties).size, 2);
});

Deno.test("ip-hash: stable per client, spread across clients, minimal movement", () => {
  const members = [c("a"), c("b"), c("c"), c("d")];
  const clients = Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 255}.7`);
  const before = new Map(clients.map((ip) => [ip, rendezvous(members, ip).key]));
  const b = new Balancer("IP_HASH");
  for (const ip of clients.slice(0, 50)) assert.equal(b.pick(members, ip)!.key, before.get(ip));
  const share = new Map<string, number>();
  for (const k of before.values()) share.set(k, (share.get(k) ?? 0) + 1);
  for (const [k, n] of share) assert.ok(n > 350 && n < 650, `${k} got ${n} of 2000`);
  const without = members.filter((m) => m.key !== "d");
  let moved = 0;
  for (const ip of clients) {
    const now = rendezvous(without, ip).key;
    if (before.get(ip) !== "d" && now !== before.get(ip)) moved++;
  }
  assert.equal(moved, 0, "only d's clients move when d leaves");
  const heavy = [c("a", 3), c("b", 1)];
  const heavyShare = clients.filter((ip) => rendezvous(heavy, ip).key === "a").length /
    clients.length;
  assert.ok(heavyShare > 0.68 && heavyShare < 0.82, `weight 3:1 gave ${heavyShare}`);
});

Deno.test("affinity table: remembers, expires, sweeps", () => {
  const t = new AffinityTable(1000);
  t.remember("1.1.1.1", "a", 0);
  assert.equal(t.lookup("1.1.1.1", 999), "a");
  assert.equal(t.lookup("1.1.1.1", 1000), undefined);
  t.remember("2.2.2.2", "b", 0);
  t.remember("3.3.3.3", "c", 500);
  assert.equal(t.sweep(1200), 1);
  t.forget("3.3.3.3");
  assert.equal(t.lookup("3.3.3.3", 1200), undefined);
});
