/**
 * PrismNET's OVN topology against real OVN: rows for namespaces and pods, the local
 * Open_vSwitch side, a port coming up once ovn-controller binds it, and removal.
 */
import assert from "node:assert/strict";
import {
  CLUSTER_ROUTER,
  EXT,
  LocalOvs,
  OvnTopology,
  podPortName,
  routerMac,
  SubnetConflictError,
  SwitchMissingError,
  txChecksumming,
} from "../mod/ovn/mod.ts";
import { disableTxOffload } from "../mod/ovn/ethtool.ts";
import { OvsdbSession } from "../mod/ovsdb/mod.ts";
import { must, type OvnHarness, run, startOvn } from "./support/ovn.ts";

/** `ovn-nbctl --format=json` table as objects (values stay in OVSDB encoding). */
async function nbRows(ovn: OvnHarness, table: string): Promise<Array<Record<string, unknown>>> {
  const out = JSON.parse(await ovn.nbctl("--format=json", "list", table)) as {
    headings: string[];
    data: unknown[][];
  };
  return out.data.map((r) => Object.fromEntries(out.headings.map((h, i) => [h, r[i]])));
}
const mapOf = (v: unknown) => Object.fromEntries((v as ["map", [string, string][]])[1]);
const listOf = (v: unknown) => Array.isArray(v) && v[0] === "set" ? (v[1] as unknown[]) : [v];

async function withTopology(
  fn: (ovn: OvnHarness, topo: OvnTopology, ovs: LocalOvs) => Promise<void>,
) {
  const ovn = await startOvn();
  const nb = new OvsdbSession(ovn.nb, "OVN_Northbound");
  const ovsDb = new OvsdbSession(ovn.ovs, "Open_vSwitch");
  try {
    await fn(ovn, new OvnTopology(nb), new LocalOvs(ovsDb, 10_000));
  } catch (e) {
    console.error(await ovn.logTail());
    throw e;
  } finally {
    nb.close();
    ovsDb.close();
    await ovn.stop();
  }
}

Deno.test("ovn topology: router, namespace switches and pod ports as rows", async () => {
  await withTopology(async (ovn, topo) => {
    await topo.ensureClusterRouter();
    await topo.ensureClusterRouter();
    // Two nodes racing to create the same namespace's switch end up with one.
    const net = { namespace: "team-a", subnets: [{ cidr: "10.81.1.0/24", gateway: "10.81.1.1" }] };
    await Promise.all([topo.ensureNamespaceSwitch(net), topo.ensureNamespaceSwitch(net)]);
    await topo.ensureNamespaceSwitch({
      namespace: "team-b",
      subnets: [{ cidr: "10.81.2.0/24", gateway: "10.81.2.1" }],
    });

    const routers = await nbRows(ovn, "Logical_Router");
    assert.deepEqual(routers.map((r) => r.name), [CLUSTER_ROUTER]);
    assert.equal(listOf(routers[0].ports).length, 2);
    const switches = await nbRows(ovn, "Logical_Switch");
    assert.deepEqual(switches.map((s) => s.name).sort(), ["k8s-team-a", "k8s-team-b"]);
    const a = switches.find((s) => s.name === "k8s-team-a")!;
    assert.deepEqual(mapOf(a.other_config), { subnet: "10.81.1.0/24", exclude_ips: "10.81.1.1" });
    assert.equal(mapOf(a.external_ids)[EXT.namespace], "team-a");
    const lrps = await nbRows(ovn, "Logical_Router_Port");
    const lrpA = lrps.find((p) => p.name === "rtos-k8s-team-a")!;
    assert.equal(lrpA.networks, "10.81.1.1/24");
    assert.equal(lrpA.mac, routerMac("10.81.1.1"));
    const stor = (await nbRows(ovn, "Logical_Switch_Port")).find((p) =>
      p.name === "stor-k8s-team-a"
    )!;
    assert.equal(stor.type, "router");
    assert.deepEqual(mapOf(stor.options), { "router-port": "rtos-k8s-team-a" });

    const name = podPortName("web-0", "c0ffee");
    const port = {
      name,
      namespace: "team-a",
      mac: "0A:58:0A:51:01:05",
      ips: ["10.81.1.5"],
      externalIds: { [EXT.pod]: "web-0", [EXT.containerId]: "c0ffee", [EXT.ifname]: "eth0" },
    };
    await topo.addPodPort(port);
    await topo.addPodPort({ ...port, ips: ["10.81.1.6"] }); // a retried ADD updates in place
    const lsps = (await nbRows(ovn, "Logical_Switch_Port")).filter((p) => p.name === name);
    assert.equal(lsps.length, 1);
    assert.equal(lsps[0].addresses, "0a:58:0a:51:01:05 10.81.1.6");
    assert.equal(lsps[0].port_security, "0a:58:0a:51:01:05 10.81.1.6");
    assert.equal(mapOf(lsps[0].external_ids)[EXT.containerId], "c0ffee");
    assert.deepEqual((await topo.listPodPorts()).map((p) => p.name), [name]);

    // The namespace's subnet cannot move under a live pod; a missing switch is reported.
    await assert.rejects(
      topo.ensureNamespaceSwitch({
        namespace: "team-a",
        subnets: [{ cidr: "10.99.0.0/24", gateway: "10.99.0.1" }],
      }),
      SubnetConflictError,
    );
    await assert.rejects(
      topo.addPodPort({ ...port, name: "x", namespace: "nope" }),
      SwitchMissingError,
    );

    assert.deepEqual(
      await topo.removePodPortsByIds({ [EXT.containerId]: "c0ffee", [EXT.ifname]: "eth0" }),
      [name],
    );
    assert.equal(await topo.removePodPort(name), false);
    assert.equal(
      (await nbRows(ovn, "Logical_Switch_Port")).filter((p) => p.name === name).length,
      0,
    );

    assert.equal(await topo.removeNamespaceSwitch("team-b"), true);
    assert.equal(await topo.removeNamespaceSwitch("team-b"), false);
    assert.deepEqual((await nbRows(ovn, "Logical_Switch")).map((s) => s.name), ["k8s-team-a"]);
    assert.equal((await nbRows(ovn, "Logical_Router_Port")).length, 1);
  });
});

Deno.test("ovn topology: a veth on br-int with iface-id brings the logical port up", async () => {
  await withTopology(async (ovn, topo, ovs) => {
    const pod = `khovn-p-${ovn.id}`;
    const host = `khv${ovn.id}`;
    await must(["ip", "netns", "add", pod]);
    try {
      await must([
        "ip",
        "-n",
        ovn.netns,
        "link",
        "add",
        host,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        pod,
      ]);
      await must(["ip", "-n", ovn.netns, "link", "set", host, "up"]);
      await topo.ensureNamespaceSwitch({
        namespace: "ns1",
        subnets: [{ cidr: "10.82.0.0/24", gateway: "10.82.0.1" }],
      });
      const name = podPortName("p", "cid1");
      await topo.addPodPort({
        name,
        namespace: "ns1",
        mac: "0a:58:0a:52:00:05",
        ips: ["10.82.0.5"],
        externalIds: {},
      });
      await assert.rejects(topo.waitPortUp(name, 300), /not up after 300ms/);

      await ovs.attachPort(ovn.bridge, host, name, { [EXT.pod]: "p" });
      await ovs.attachPort(ovn.bridge, host, name, { [EXT.pod]: "p" }); // idempotent
      const t0 = Date.now();
      await topo.waitPortUp(name, 15_000);
      const upMs = Date.now() - t0;
      const iface = JSON.parse(
        await ovn.vsctl("--format=json", "--columns=external_ids", "list", "Interface", host),
      );
      assert.equal(mapOf(iface.data[0][0])["iface-id"], name);
      assert.deepEqual((await ovs.listPorts()).map((p) => [p.name, p.ifaceId]), [[host, name]]);
      const binding = await ovn.sbctl(
        "--bare",
        "--columns=chassis",
        "find",
        "Port_Binding",
        `logical_port=${name}`,
      );
      assert.ok(binding.trim().length > 0, "port bound to the chassis");
      console.log(`  port up ${upMs}ms after attach`);

      // TX checksum offload off on both veth ends (the userspace datapath needs it).
      await disableTxOffload(host, ovn.netns);
      await disableTxOffload("eth0", `/var/run/netns/${pod}`);
      assert.equal(await txChecksumming(host, ovn.netns), false);
      assert.equal(await txChecksumming("eth0", pod), false);

      // A device vswitchd cannot open is an error, not a silent half-attach.
      await assert.rejects(
        ovs.attachPort(ovn.bridge, "khnodev0", "x"),
        /could not attach khnodev0/,
      );
      await ovs.detachPort("khnodev0");

      assert.equal(await ovs.detachPort(host), true);
      assert.equal(await ovs.detachPort(host), false);
      assert.deepEqual(await ovs.listPorts(), []);
    } finally {
      await run(["ip", "netns", "del", pod]);
    }
  });
});

Deno.test("ovn topology: chassis settings and the integration bridge via OVSDB", async () => {
  await withTopology(async (ovn, _topo, ovs) => {
    await ovs.configureChassis({
      systemId: ovn.systemId,
      southbound: ovn.sb,
      encapType: "geneve",
      encapIp: "127.0.0.1",
      bridge: ovn.bridge,
      datapathType: "netdev",
    });
    const ids = mapOf(
      JSON.parse(await ovn.vsctl("--format=json", "--columns=external_ids", "list", "Open_vSwitch"))
        .data[0][0],
    );
    assert.equal(ids["ovn-remote"], ovn.sb);
    assert.equal(ids["ovn-bridge-datapath-type"], "netdev");
    await ovs.configureChassis({ // a changed value replaces the old one
      systemId: ovn.systemId,
      southbound: ovn.sb,
      encapType: "vxlan",
      encapIp: "127.0.0.1",
      bridge: ovn.bridge,
      datapathType: "netdev",
    });
    const after = mapOf(
      JSON.parse(await ovn.vsctl("--format=json", "--columns=external_ids", "list", "Open_vSwitch"))
        .data[0][0],
    );
    assert.equal(after["ovn-encap-type"], "vxlan");
    const br = `khbx${ovn.id}`;
    assert.equal(await ovs.bridgeExists(br), false);
    await ovs.ensureBridge(br, "netdev");
    await ovs.ensureBridge(br, "netdev");
    assert.equal(await ovs.bridgeExists(br), true);
    assert.match(await ovs.interfaceMac(br), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const dp = await ovn.vsctl("get", "bridge", br, "datapath_type");
    assert.equal(dp.trim(), "netdev");
  });
});
