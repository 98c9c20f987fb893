import assert from "node:assert/strict";
import { isCniError } from "../../cni/spec.ts";
import { chainResult, type CniResult, parseResult, renderResult } from "./result.ts";

const ours: CniResult = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "br", mac: "02:00:00:00:00:01" },
    { name: "kh1", mac: "02:00:00:00:00:02" },
    { name: "eth0", mac: "02:00:00:00:00:03", mtu: 1400, sandbox: "/run/netns/p" },
  ],
  ips: [{ address: "10.244.0.5/24", gateway: "10.244.0.1", interface: 2 }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.244.0.1", mtu: 1400 }],
  dns: {},
};

Deno.test("renderResult prints only what each spec version has", () => {
  const v11 = renderResult(ours, "1.1.0") as {
    interfaces: Array<Record<string, unknown>>;
    routes: Array<Record<string, unknown>>;
  };
  assert.equal(v11.interfaces[2].mtu, 1400);
  assert.equal(v11.routes[0].mtu, 1400);
  const v10 = renderResult(ours, "1.0.0");
  assert.deepEqual(v10, {
    cniVersion: "1.0.0",
    interfaces: [
      { name: "br", mac: "02:00:00:00:00:01" },
      { name: "kh1", mac: "02:00:00:00:00:02" },
      { name: "eth0", mac: "02:00:00:00:00:03", sandbox: "/run/netns/p" },
    ],
    ips: [{ interface: 2, address: "10.244.0.5/24", gateway: "10.244.0.1" }],
    routes: [{ dst: "0.0.0.0/0", gw: "10.244.0.1" }],
    dns: {},
  });
  const v04 = renderResult(ours, "0.4.0") as { ips: Array<Record<string, unknown>> };
  assert.equal(v04.ips[0].version, "4");
  const v6 = renderResult({ ...ours, ips: [{ address: "fd00::5/64" }] }, "0.3.1") as {
    ips: Array<Record<string, unknown>>;
  };
  assert.equal(v6.ips[0].version, "6");
});

Deno.test("chainResult keeps earlier plugins first and shifts our interface indexes", () => {
  const prev = parseResult({
    cniVersion: "0.4.0",
    interfaces: [{ name: "a" }, { name: "b", sandbox: "" }],
    ips: [{ version: "4", address: "192.0.2.1/24", interface: 1 }],
    routes: [{ dst: "192.0.2.0/24" }],
    dns: { nameservers: ["192.0.2.53"] },
  }, "0.4.0");
  assert.ok(!isCniError(prev));
  assert.equal(prev.interfaces[1].sandbox, undefined, "empty sandbox means a host interface");
  const chained = chainResult(prev, ours);
  assert.deepEqual(chained.interfaces.map((i) => i.name), ["a", "b", "br", "kh1", "eth0"]);
  assert.deepEqual(chained.ips.map((i) => i.interface), [1, 4]);
  assert.deepEqual(chained.routes.map((r) => r.dst), ["192.0.2.0/24", "0.0.0.0/0"]);
  assert.deepEqual(chained.dns, { nameservers: ["192.0.2.53"] }, "theirs when we have none");
  assert.equal(chainResult(undefined, ours), ours);
});

Deno.test("parseResult rejects malformed results", () => {
  for (
    const bad of [null, [], { interfaces: [{}] }, { ips: [{ address: "10.0.0.1" }] }, {
      interfaces: [],
      ips: [{ address: "10.0.0.1/8", interface: 0 }],
    }, { routes: [{}] }]
  ) {
    assert.ok(isCniError(parseResult(bad, "1.0.0")), JSON.stringify(bad));
  }
});
