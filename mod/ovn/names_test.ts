import assert from "node:assert/strict";
import { type ConfigIssue, validate } from "../config/schema.ts";
import { type Config, configSpec } from "../config/spec.ts";
import {
  defaultGateway,
  lspAddress,
  ovnEnabled,
  ovnNodeOptions,
  parseAddress,
  podPortName,
  routerMac,
  routerPortName,
  switchName,
  switchRouterPortName,
} from "./mod.ts";

Deno.test("ovn names: the spec's naming", () => {
  assert.equal(switchName("project-123"), "k8s-project-123");
  assert.equal(routerPortName("a"), "rtos-k8s-a");
  assert.equal(switchRouterPortName("a"), "stor-k8s-a");
  assert.equal(podPortName("web-0", "abc123"), "web-0-abc123");
  assert.equal(podPortName("web-0", "abc123", "net1"), "web-0-abc123-net1");
  assert.equal(
    lspAddress("0A:58:0A:00:00:05", ["10.0.0.5", "fd00::5"]),
    "0a:58:0a:00:00:05 10.0.0.5 fd00::5",
  );
});

Deno.test("ovn names: addresses, subnets, gateways, router MACs", () => {
  assert.deepEqual(parseAddress("10.244.1.5/24"), {
    ip: "10.244.1.5",
    prefix: 24,
    cidr: "10.244.1.0/24",
    v6: false,
  });
  assert.deepEqual(parseAddress("fd00:10::5/64"), {
    ip: "fd00:10::5",
    prefix: 64,
    cidr: "fd00:10::/64",
    v6: true,
  });
  assert.throws(() => parseAddress("10.244.1.5"), TypeError);
  assert.throws(() => parseAddress("nope/24"), TypeError);
  assert.equal(defaultGateway("10.244.1.0/24"), "10.244.1.1");
  assert.equal(defaultGateway("10.244.1.77/24"), "10.244.1.1");
  assert.equal(defaultGateway("fd00:10::/64"), "fd00:10::1");
  assert.equal(routerMac("10.244.1.1"), "0a:58:0a:f4:01:01");
  const v6 = routerMac("fd00:10::1");
  assert.match(v6, /^0a:58(:[0-9a-f]{2}){4}$/);
  assert.equal(routerMac("fd00:10::1"), v6);
  assert.notEqual(routerMac("fd00:11::1"), v6);
});

function config(raw: Record<string, unknown>): Config {
  const issues: ConfigIssue[] = [];
  const c = validate(configSpec, raw, "", issues) as Config;
  assert.deepEqual(issues, []);
  return c;
}

Deno.test("ovn config: OVN mode follows prismnet.ovn.northbound", () => {
  assert.equal(ovnEnabled(config({})), false);
  assert.equal(ovnNodeOptions(config({}), "n1"), undefined);
  const o = ovnNodeOptions(
    config({
      networking: { nodeIP: "192.0.2.10" },
      prismnet: {
        ovn: {
          northbound: "tcp:10.0.0.1:6641",
          southbound: "tcp:10.0.0.1:6642",
          datapathType: "netdev",
        },
      },
    }),
    "n1",
  )!;
  assert.equal(o.systemId, "n1");
  assert.equal(o.encapIp, "192.0.2.10");
  assert.equal(o.bridge, "br-int");
  assert.equal(o.datapathType, "netdev");
  assert.equal(o.portUpTimeoutMs, 30_000);
  const issues: ConfigIssue[] = [];
  validate(configSpec, { prismnet: { ovn: { datapathType: "dpdk" } } }, "", issues);
  assert.equal(issues[0]?.path, "prismnet.ovn.datapathType");
});
