import assert from "node:assert/strict";
import {
  dashedIp,
  normalizeRecordSet,
  normalizeValue,
  reverseName,
  reverseZone,
} from "./records.ts";

Deno.test("records: reverse zones on octet and nibble boundaries", () => {
  assert.equal(reverseZone("10.96.0.0/12"), "10.in-addr.arpa");
  assert.equal(reverseZone("10.244.0.0/16"), "244.10.in-addr.arpa");
  assert.equal(reverseZone("192.168.7.0/24"), "7.168.192.in-addr.arpa");
  assert.equal(reverseZone("10.0.0.0/7"), "in-addr.arpa");
  assert.equal(reverseZone("fd00:10:96::/64"), "0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa");
  assert.throws(() => reverseZone("10.0.0.0"), /not a CIDR/);
});

Deno.test("records: reverse names and dashed IPs", () => {
  assert.equal(reverseName("10.96.0.100"), "100.0.96.10.in-addr.arpa");
  assert.equal(reverseName("::1"), `1.${"0.".repeat(31)}ip6.arpa`);
  assert.equal(dashedIp("10.244.1.5"), "10-244-1-5");
  assert.equal(dashedIp("FD00:0::5"), "fd00--5");
});

Deno.test("records: values are validated and canonical per type", () => {
  assert.equal(normalizeValue("AAAA", "FD00:0:0::1"), "fd00::1");
  assert.equal(
    normalizeValue("SRV", "0  50 80 Web.Default.svc.cluster.local"),
    "0 50 80 web.default.svc.cluster.local.",
  );
  assert.equal(normalizeValue("MX", "10 mx.example.com"), "10 mx.example.com.");
  assert.throws(() => normalizeValue("A", "fd00::1"), /not an IPv4/);
  assert.throws(() => normalizeValue("SRV", "0 50 70000 x."), /port must be/);
  assert.throws(() => normalizeValue("CNAME", "a..b"), /invalid label/);
  assert.throws(() => normalizeValue("HINFO", "x"), /not one of/);
  assert.throws(() => normalizeValue("TXT", "x".repeat(256)), /255 bytes/);
});

Deno.test("records: sets are sorted, de-duplicated, and a CNAME has one value", () => {
  const s = normalizeRecordSet({
    zone: "Cluster.Local.",
    name: "@",
    type: "a",
    values: ["10.0.0.2", "10.0.0.1", "10.0.0.2"],
    ttl: 5,
  });
  assert.deepEqual([s.zone, s.name, s.type, s.values], ["cluster.local", "@", "A", [
    "10.0.0.1",
    "10.0.0.2",
  ]]);
  assert.throws(
    () => normalizeRecordSet({ zone: "z", name: "a", type: "CNAME", values: ["x.", "y."], ttl: 5 }),
    /several values/,
  );
  assert.throws(
    () => normalizeRecordSet({ zone: "z", name: "a", type: "A", values: [], ttl: 5 }),
    /no values/,
  );
  assert.throws(
    () => normalizeRecordSet({ zone: "z", name: "a", type: "A", values: ["10.0.0.1"], ttl: -1 }),
    /ttl/,
  );
});
