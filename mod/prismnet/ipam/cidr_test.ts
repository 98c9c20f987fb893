import assert from "node:assert/strict";
import {
  contains,
  formatCidr,
  formatIp,
  gatewayOf,
  nthSubnet,
  parseCidr,
  parseIp,
  parseIpWithPrefix,
  size,
  subnetCount,
  usableRange,
} from "./cidr.ts";
import { leaseKey, pickOffset, pickSubnetIndex, subnetAt } from "./allocator.ts";

Deno.test("IPv4 and IPv6 parse and format round-trip", () => {
  for (
    const s of [
      "0.0.0.0",
      "10.244.1.5",
      "255.255.255.255",
      "::",
      "::1",
      "fd00::1",
      "2001:db8::8:800:200c:417a",
      "1:2:3:4:5:6:7:8",
    ]
  ) {
    assert.equal(formatIp(parseIp(s)!), s);
  }
  assert.equal(formatIp(parseIp("2001:0db8:0000:0000:0000:0000:0000:0001")!), "2001:db8::1");
  assert.equal(formatIp(parseIp("::ffff:10.0.0.1")!), "::ffff:a00:1");
  for (
    const bad of ["10.0.0", "10.0.0.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", ""]
  ) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("CIDRs: host bits, containment, carving", () => {
  assert.equal(parseCidr("10.244.0.1/16"), undefined);
  assert.equal(formatCidr(parseCidr("10.244.0.1/16", true)!), "10.244.0.0/16");
  assert.equal(parseCidr("10.0.0.0/33"), undefined);
  const c = parseCidr("10.244.0.0/16")!;
  assert.equal(size(c), 65536n);
  assert.equal(subnetCount(c, 24), 256n);
  assert.equal(subnetCount(c, 8), 0n);
  assert.equal(formatCidr(nthSubnet(c, 24, 3n)), "10.244.3.0/24");
  assert.ok(contains(c, parseIp("10.244.200.1")!));
  assert.ok(!contains(c, parseIp("10.245.0.1")!));
  assert.ok(!contains(c, parseIp("::1")!));
  const s = parseCidr("10.244.3.0/24")!;
  assert.equal(formatIp(gatewayOf(s)), "10.244.3.1");
  assert.deepEqual(
    usableRange(s),
    { first: 2n, last: 254n },
    "network, gateway and broadcast excluded",
  );
  assert.deepEqual(usableRange(parseCidr("fd00::/120")!), { first: 2n, last: 255n });
  assert.equal(formatCidr(nthSubnet(parseCidr("fd00:10::/48")!, 64, 5n)), "fd00:10:0:5::/64");
  assert.deepEqual(parseIpWithPrefix("10.1.2.3/24"), { ip: parseIp("10.1.2.3"), prefix: 24 });
});

Deno.test("next-fit picks after the cursor, wraps, and reports exhaustion", () => {
  const s = parseCidr("10.0.0.0/29")!; // usable offsets 2..6
  const used = new Set<bigint>([2n, 3n]);
  const isUsed = (o: bigint) => used.has(o);
  assert.equal(pickOffset(s, isUsed, 0n), 4n);
  assert.equal(pickOffset(s, isUsed, 4n), 5n);
  assert.equal(pickOffset(s, isUsed, 6n), 4n, "wraps past the end");
  used.add(4n).add(5n).add(6n);
  assert.equal(pickOffset(s, isUsed, 0n), undefined);
  assert.equal(
    pickOffset(parseCidr("10.0.0.0/31")!, () => false, 0n),
    undefined,
    "no usable address",
  );
});

Deno.test("namespace subnets: lowest free index, carved in order", () => {
  const c = parseCidr("10.244.0.0/22")!;
  assert.equal(pickSubnetIndex(c, 24, new Set()), 0);
  assert.equal(pickSubnetIndex(c, 24, new Set([0, 1, 3])), 2);
  assert.equal(pickSubnetIndex(c, 24, new Set([0, 1, 2, 3])), undefined);
  assert.equal(formatCidr(subnetAt(c, 24, 2)), "10.244.2.0/24");
  assert.equal(leaseKey("net", "cid", "eth0"), "net/cid/eth0");
});
