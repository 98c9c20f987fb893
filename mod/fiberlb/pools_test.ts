import assert from "node:assert/strict";
import {
  AddressSet,
  canonicalIp,
  firstFree,
  type IpPool,
  parsePools,
  parseRange,
  poolContains,
  poolOf,
  poolSize,
} from "./pools.ts";

Deno.test("parseRange: CIDRs skip network/broadcast (v4) and the anycast address (v6)", () => {
  const r = parseRange("10.0.0.0/24");
  assert.deepEqual([canonicalIp("10.0.0.1"), r.first, r.last], [
    "10.0.0.1",
    167772161n,
    167772414n,
  ]);
  assert.equal(parseRange("10.0.0.0/31").first, 167772160n, "/31 is used whole");
  assert.equal(parseRange("10.0.0.7/32").last, 167772167n);
  const host = parseRange("10.0.0.77/30");
  assert.deepEqual([host.first, host.last], [167772237n, 167772238n], "host bits are masked off");
  const v6 = parseRange("fd00::/126");
  assert.deepEqual([v6.family, v6.first, v6.last], [
    6,
    BigInt("0xfd000000000000000000000000000001"),
    BigInt("0xfd000000000000000000000000000003"),
  ]);
  const big = parseRange("2001:db8::/64");
  assert.equal(big.last - big.first + 1n, (1n << 64n) - 1n);
});

Deno.test("parseRange: first-last ranges and single addresses, with clear errors", () => {
  const r = parseRange(" 192.0.2.10-192.0.2.20 ");
  assert.equal(r.last - r.first, 10n);
  assert.equal(parseRange("2001:db8::5-2001:db8::9").family, 6);
  assert.equal(parseRange("192.0.2.9").first, parseRange("192.0.2.9").last);
  assert.throws(() => parseRange("192.0.2.20-192.0.2.10"), /ends before it starts/);
  assert.throws(() => parseRange("192.0.2.1-2001:db8::1"), /mixes IPv4 and IPv6/);
  assert.throws(() => parseRange("10.0.0.0/33"), /not a CIDR/);
  assert.throws(() => parseRange("10.0.0/24"), /not a CIDR/);
  assert.throws(() => parseRange("banana"), /not an IP address, CIDR or first-last range/);
  assert.throws(() => parseRange("300.0.0.1"), /not an IP/);
});

Deno.test("canonicalIp: one spelling per address; rejects prefixes and zones", () => {
  assert.equal(canonicalIp("2001:DB8:0:0::1"), "2001:db8::1");
  assert.equal(canonicalIp("::ffff:192.0.2.1") !== undefined, true);
  assert.equal(canonicalIp("192.0.2.1/32"), undefined);
  assert.equal(canonicalIp("fe80::1%eth0"), undefined);
  assert.equal(canonicalIp("01.2.3.4"), undefined);
  assert.equal(canonicalIp(""), undefined);
});

Deno.test("parsePools: default pool, named pools, errors and overlaps", () => {
  const ok = parsePools({
    externalIpPool: "192.0.2.0/28, 2001:db8::/120",
    pools: ["blue=198.51.100.1-198.51.100.3,198.51.100.9"],
  });
  assert.deepEqual(ok.errors, []);
  assert.deepEqual([...ok.pools.keys()], ["default", "blue"]);
  assert.equal(poolSize(ok.pools.get("blue")!), 4n);
  assert.equal(poolOf(ok.pools, "198.51.100.9")?.name, "blue");
  assert.equal(poolOf(ok.pools, "2001:db8::ff")?.name, "default");
  assert.equal(poolOf(ok.pools, "203.0.113.1"), undefined);

  const bad = parsePools({
    externalIpPool: "192.0.2.0/24",
    pools: [
      "Blue=10.0.0.0/24",
      "green",
      "red=192.0.2.128/25",
      "red=10.1.0.0/24",
      "empty=",
      "x=nope",
    ],
  });
  assert.deepEqual(bad.errors, [
    'fiberlb.pools[0]: "Blue=10.0.0.0/24" — expected name=cidr-or-range[,...] with a DNS-label name',
    'fiberlb.pools[1]: "green" — expected name=cidr-or-range[,...] with a DNS-label name',
    'fiberlb.pools[3]: pool "red" is defined twice',
    'fiberlb.pools[4]: pool "empty" has no addresses',
    'fiberlb.pools[5]: "nope" is not an IP address, CIDR or first-last range',
    'fiberlb.pools[5]: pool "x" has no addresses',
    'pool "default" range 192.0.2.0/24 overlaps pool "red" range 192.0.2.128/25',
  ]);
  assert.deepEqual(parsePools({ externalIpPool: "", pools: [] }), { pools: new Map(), errors: [] });
});

Deno.test("firstFree: lowest free address, family preference, exhaustion, huge ranges", () => {
  const pool: IpPool = {
    name: "p",
    ranges: [parseRange("192.0.2.1-192.0.2.3"), parseRange("2001:db8::1-2001:db8::2")],
  };
  const used = AddressSet.of(["192.0.2.1", "192.0.2.3"]);
  assert.equal(firstFree(pool, used), "192.0.2.2");
  assert.equal(firstFree(pool, used, 6), "2001:db8::1");
  used.add("192.0.2.2");
  assert.equal(firstFree(pool, used, 4), "2001:db8::1", "falls back to the other family");
  used.add("2001:db8::1");
  used.add("2001:DB8::2");
  assert.equal(firstFree(pool, used), undefined);
  used.delete("192.0.2.2");
  assert.equal(firstFree(pool, used), "192.0.2.2", "a released address is found again");
  assert.ok(poolContains(pool, "2001:DB8::2"));
  assert.ok(!poolContains(pool, "192.0.2.4"));

  const huge: IpPool = { name: "h", ranges: [parseRange("2001:db8::/64")] };
  const taken = AddressSet.of(
    Array.from({ length: 1000 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`),
  );
  const t0 = performance.now();
  assert.equal(firstFree(huge, taken), "2001:db8::3e9");
  assert.ok(performance.now() - t0 < 200, "search cost is bounded by the used addresses");
});
