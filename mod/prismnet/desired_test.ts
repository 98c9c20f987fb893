import assert from "node:assert/strict";
import { ERR, isCniError } from "../../cni/spec.ts";
import { checkProblems, expectedFromPrev } from "./check_compare.ts";
import {
  attachmentId,
  attachmentResult,
  HOST_VETH,
  hostVethName,
  macFrom,
  podRoutes,
} from "./desired.ts";
import { type NetConf, parseNetConf, podIdentity } from "./request.ts";

const base = { cniVersion: "1.0.0", name: "prismnet", type: "prismnet" };

Deno.test("parseNetConf reads mtu, dns, routes, runtimeConfig, prevResult and GC lists", () => {
  const c = parseNetConf({
    ...base,
    mtu: 9000,
    dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
    ipam: {
      type: "ignored",
      routes: [{ dst: "10.96.0.0/12" }, { dst: "0.0.0.0/0", gw: "10.244.0.254" }],
    },
    runtimeConfig: {
      ips: ["10.244.0.7/24", "fd00::7"],
      mac: "02:AA:bb:cc:dd:ee",
      portMappings: [{ hostPort: 80 }],
    },
    prevResult: { cniVersion: "1.0.0", interfaces: [{ name: "x" }], ips: [] },
    "cni.dev/attachments": [{ containerID: "c1", ifname: "eth0" }],
  }) as NetConf;
  assert.ok(!isCniError(c));
  assert.equal(c.mtu, 9000);
  assert.deepEqual(c.dns, { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] });
  assert.deepEqual(c.routes, [{ dst: "10.96.0.0/12" }, { dst: "0.0.0.0/0", gw: "10.244.0.254" }]);
  assert.deepEqual(c.requestedIps, ["10.244.0.7", "fd00::7"]);
  assert.equal(c.requestedMac, "02:aa:bb:cc:dd:ee");
  assert.equal(c.prevResult?.interfaces[0].name, "x");
  assert.deepEqual(c.validAttachments, [{ containerId: "c1", ifname: "eth0" }]);
  const both = parseNetConf({
    ...base,
    "cni.dev/valid-attachments": [],
    "cni.dev/attachments": [{ containerID: "x", ifname: "y" }],
  });
  assert.deepEqual(
    (both as NetConf).validAttachments,
    [],
    "the spec's name wins when both are sent",
  );
});

Deno.test("parseNetConf rejects bad fields with code 7 naming the key", () => {
  for (
    const [extra, key] of [
      [{ mtu: 100 }, "mtu"],
      [{ mtu: "1400" }, "mtu"],
      [{ dns: "x" }, "dns"],
      [{ ipam: { routes: [{ dst: "nope" }] } }, "ipam.routes"],
      [{ runtimeConfig: { ips: ["300.1.1.1"] } }, "runtimeConfig.ips"],
      [{ runtimeConfig: { mac: "03:00:00:00:00:01" } }, "runtimeConfig.mac"],
      [{ "cni.dev/valid-attachments": [{ containerID: 1 }] }, "cni.dev/valid-attachments"],
    ] as const
  ) {
    const r = parseNetConf({ ...base, ...extra });
    assert.ok(isCniError(r) && r.code === ERR.invalidConfig && r.msg.includes(key), key);
  }
  const prev = parseNetConf({ ...base, prevResult: { ips: [{ address: "nope" }] } });
  assert.ok(isCniError(prev) && prev.code === ERR.decodingFailure);
});

Deno.test("pod identity from CNI_ARGS; non-Kubernetes runtimes land in default", () => {
  assert.deepEqual(
    podIdentity({ args: "K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=web-0;K8S_POD_UID=u1" }),
    {
      namespace: "team-a",
      name: "web-0",
      uid: "u1",
    },
  );
  assert.deepEqual(podIdentity({ args: "" }), { namespace: "default", name: "", uid: "" });
  const bad = podIdentity({ args: "K8S_POD_NAMESPACE=Bad_NS;K8S_POD_UID=u1" });
  assert.ok(isCniError(bad) && bad.code === ERR.invalidEnv, "kubelet never sends such a namespace");
  assert.deepEqual(podIdentity({ args: "K8S_POD_NAMESPACE=my_app;K8S_POD_NAME=my_app" }), {
    namespace: "default",
    name: "my_app",
    uid: "",
  });
  assert.deepEqual(podIdentity({ args: "IgnoreUnknown=1;IP=10.1.0.7;MAC=02:AA:00:00:00:01" }), {
    namespace: "default",
    name: "",
    uid: "",
    ip: "10.1.0.7",
    mac: "02:aa:00:00:00:01",
  });
  for (const args of ["IP=10.1.0.300", "MAC=01:00:00:00:00:00", "MAC=zz"]) {
    const r = podIdentity({ args });
    assert.ok(isCniError(r) && r.code === ERR.invalidEnv, args);
  }
});

Deno.test("names and MACs are deterministic, short and locally administered", () => {
  const n = hostVethName("0123456789abcdef".repeat(4), "eth0");
  assert.equal(n.length, 15);
  assert.match(n, HOST_VETH);
  assert.equal(n, hostVethName("0123456789abcdef".repeat(4), "eth0"));
  assert.notEqual(n, hostVethName("0123456789abcdef".repeat(4), "net1"));
  const mac = macFrom("seed");
  assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.equal(parseInt(mac.slice(0, 2), 16) & 0x03, 0x02, "unicast, locally administered");
  assert.equal(mac, macFrom("seed"));
  assert.notEqual(attachmentId("n", "c", "eth0"), attachmentId("n", "c", "eth1"));
});

Deno.test("pod routes: one default route, or the configured ones of the address family", () => {
  const conf = parseNetConf(base) as NetConf;
  assert.deepEqual(podRoutes(conf, "10.244.0.5/24", "10.244.0.1"), [{
    dst: "0.0.0.0/0",
    gw: "10.244.0.1",
  }]);
  assert.deepEqual(podRoutes(conf, "fd00::5/64", "fd00::1"), [{ dst: "::/0", gw: "fd00::1" }]);
  const routed = parseNetConf({
    ...base,
    ipam: { routes: [{ dst: "10.96.0.0/12" }, { dst: "fd00:96::/108" }] },
  }) as NetConf;
  assert.deepEqual(podRoutes(routed, "10.244.0.5/24", "10.244.0.1"), [{
    dst: "10.96.0.0/12",
    gw: "10.244.0.1",
  }]);
});

Deno.test("CHECK compares prevResult with what is observed", () => {
  const result = attachmentResult("1.0.0", {
    bridge: "br",
    bridgeMac: "02:00:00:00:00:01",
    hostVeth: "kh0",
    hostMac: "02:00:00:00:00:02",
    ifname: "eth0",
    podMac: "02:00:00:00:00:03",
    netns: "/run/netns/p",
    mtu: 1400,
    address: "10.244.0.5/24",
    gateway: "10.244.0.1",
    routes: [{ dst: "0.0.0.0/0", gw: "10.244.0.1" }],
    dns: {},
  });
  const exp = expectedFromPrev(result, "eth0", "/run/netns/p");
  assert.ok(!isCniError(exp));
  const good = {
    link: { mac: "02:00:00:00:00:03", mtu: 1400, up: true },
    addresses: ["10.244.0.5/24", "fe80::1/64"],
    routes: [{ dst: "default", gw: "10.244.0.1" }, { dst: "10.244.0.0/24" }],
    hostProblems: [],
    leasedIp: "10.244.0.5",
  };
  assert.deepEqual(checkProblems(exp, good, "10.244.0.1"), []);
  assert.deepEqual(checkProblems(exp, { ...good, addresses: [] }, "10.244.0.1"), [
    "interface eth0 lacks address 10.244.0.5/24",
  ]);
  assert.deepEqual(checkProblems(exp, { ...good, leasedIp: undefined }, "10.244.0.1"), [
    "no IPAM lease holds 10.244.0.5",
  ]);
  assert.deepEqual(checkProblems(exp, { ...good, routes: [] }, "10.244.0.1"), [
    "route 0.0.0.0/0 via 10.244.0.1 is missing",
  ]);
  assert.deepEqual(
    checkProblems(exp, { ...good, routes: [] }, undefined),
    [],
    "routes we did not make may change",
  );
  assert.deepEqual(
    checkProblems(exp, { ...good, link: { ...good.link, up: false, mtu: 1500 } }, "10.244.0.1"),
    [
      "interface eth0 is down",
      "interface eth0 has MTU 1500, expected 1400",
    ],
  );
  assert.deepEqual(
    checkProblems(exp, {
      ...good,
      link: undefined,
      hostProblems: ["host interface kh0 is missing"],
    }),
    [
      "interface eth0 is missing",
      "host interface kh0 is missing",
    ],
  );
  const other = expectedFromPrev(result, "eth1", "/run/netns/p");
  assert.ok(isCniError(other) && other.code === ERR.checkFailed);
});
