/**
 * prismnet across restarts and repairs: leases survive a daemon restart, GC releases what the
 * runtime no longer lists, the sweep releases attachments whose namespace vanished, a failed
 * ADD rolls back, and runtimeConfig / prevResult are honoured. Needs root and iproute2.
 */
import assert from "node:assert/strict";
import { ERR } from "../cni/spec.ts";
import { hostVethName } from "../mod/prismnet/desired.ts";
import { cniEnv, DaemonClient, must, NodeHarness } from "./cni_helpers.ts";

type Result = {
  cniVersion: string;
  interfaces: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips: Array<{ address: string; gateway: string; interface: number; version?: string }>;
};

async function add(
  c: DaemonClient,
  h: NodeHarness,
  id: string,
  netns: string,
  conf = h.conf(),
  args = "",
) {
  const r = await c.send({
    env: cniEnv("ADD", id, netns, "eth0", args),
    stdin: JSON.stringify(conf),
  });
  assert.equal(r.exit, 0, r.output);
  return JSON.parse(r.output) as Result;
}

Deno.test("daemon restart keeps leases; a repeated ADD returns the same address", async () => {
  const h = await NodeHarness.create();
  try {
    const a = await h.pod();
    let c = await DaemonClient.connect(h.socket);
    const first = await add(c, h, "khcniR1", a.path, h.conf(), "K8S_POD_NAMESPACE=restart");
    c.close();
    await h.stop();
    await h.start();
    c = await DaemonClient.connect(h.socket);
    try {
      const b = await h.pod();
      const second = await add(c, h, "khcniR2", b.path, h.conf(), "K8S_POD_NAMESPACE=restart");
      assert.notEqual(
        second.ips[0].address,
        first.ips[0].address,
        "no double allocation after restart",
      );
      const again = await add(c, h, "khcniR1", a.path, h.conf(), "K8S_POD_NAMESPACE=restart");
      assert.equal(again.ips[0].address, first.ips[0].address);
      assert.equal(again.interfaces[2].mac, first.interfaces[2].mac);
      assert.equal((await h.leases()).length, 2);
      for (const id of ["khcniR1", "khcniR2"]) {
        const r = await c.send({ env: cniEnv("DEL", id, ""), stdin: JSON.stringify(h.conf()) });
        assert.equal(r.exit, 0, r.output);
      }
      assert.deepEqual(await h.leases(), []);
    } finally {
      c.close();
    }
  } finally {
    await h.cleanup();
  }
});

Deno.test("GC releases unlisted attachments; the sweep releases those whose netns is gone", async () => {
  const h = await NodeHarness.create();
  const c = await DaemonClient.connect(h.socket);
  try {
    const pods = [await h.pod(), await h.pod(), await h.pod()];
    for (const [i, p] of pods.entries()) await add(c, h, `khcniG${i}`, p.path);
    assert.equal((await h.leases()).length, 3);
    // libcni sends the list under both names; either alone must work.
    const gc = await c.send({
      env: cniEnv("GC", "", ""),
      stdin: JSON.stringify(
        h.conf({
          "cni.dev/attachments": [{ containerID: "khcniG0", ifname: "eth0" }, {
            containerID: "khcniG1",
            ifname: "eth0",
          }],
        }, "1.1.0"),
      ),
    });
    assert.equal(gc.exit, 0, gc.output);
    assert.equal(gc.output, "");
    assert.equal((await h.leases()).length, 2);
    assert.deepEqual(
      (await h.ports()).sort(),
      [hostVethName("khcniG0", "eth0"), hostVethName("khcniG1", "eth0")].sort(),
    );

    // The pod namespace disappears without a DEL: the pair goes with it, the lease must not stay.
    await must(["ip", "netns", "del", pods[1].name]);
    await h.stop();
    await h.start(); // the daemon sweeps once when it starts
    const deadline = Date.now() + 10_000;
    while ((await h.leases()).length !== 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await h.leases()).length, 1);
    assert.equal((await h.records()).length, 1);
    assert.deepEqual(await h.ports(), [hostVethName("khcniG0", "eth0")]);

    // An orphan host port (no record) is swept too; a valid one survives a GC listing it.
    await must([
      "ip",
      "-n",
      h.nodeNs,
      "link",
      "add",
      "kh0123456789abc",
      "master",
      h.bridge,
      "type",
      "veth",
      "peer",
      "name",
      "khcniorph",
    ]);
    const c2 = await DaemonClient.connect(h.socket);
    try {
      const gc2 = await c2.send({
        env: cniEnv("GC", "", ""),
        stdin: JSON.stringify(
          h.conf(
            { "cni.dev/valid-attachments": [{ containerID: "khcniG0", ifname: "eth0" }] },
            "1.1.0",
          ),
        ),
      });
      assert.equal(gc2.exit, 0, gc2.output);
      assert.deepEqual(await h.ports(), [hostVethName("khcniG0", "eth0")]);
      assert.equal((await h.leases()).length, 1);
      const missing = await c2.send({
        env: cniEnv("GC", "", ""),
        stdin: JSON.stringify(h.conf({}, "1.1.0")),
      });
      assert.equal(missing.exit, 1);
      assert.equal(JSON.parse(missing.output).code, ERR.invalidConfig);
    } finally {
      c2.close();
    }
  } finally {
    c.close();
    await h.cleanup();
  }
});

Deno.test("runtimeConfig ips and mac are honoured; prevResult is chained; a failed ADD rolls back", async () => {
  const h = await NodeHarness.create();
  const c = await DaemonClient.connect(h.socket);
  try {
    const base = h.cidr.split(".").slice(0, 2).join(".");
    const a = await h.pod();
    // The first namespace gets the first /24 of the cluster CIDR.
    const wanted = `${base}.0.77`;
    const prev = {
      cniVersion: "0.4.0",
      interfaces: [{ name: "other0" }],
      ips: [{ version: "4", address: "192.0.2.9/24", interface: 0 }],
      routes: [{ dst: "192.0.2.0/24" }],
      dns: { nameservers: ["192.0.2.53"] },
    };
    const r = await add(
      c,
      h,
      "khcniC1",
      a.path,
      h.conf({
        runtimeConfig: { ips: [`${wanted}/24`], mac: "02:aa:bb:cc:dd:ee", portMappings: [] },
        prevResult: prev,
      }, "0.4.0"),
    );
    assert.equal(r.cniVersion, "0.4.0");
    assert.equal(r.interfaces[0].name, "other0", "earlier plugin's interface stays first");
    assert.equal(r.interfaces[3].mac, "02:aa:bb:cc:dd:ee");
    assert.deepEqual(r.ips.map((x) => [x.address, x.interface, x.version]), [
      ["192.0.2.9/24", 0, "4"],
      [`${wanted}/24`, 3, "4"],
    ]);
    const link = JSON.parse(await must(["ip", "-n", a.name, "-json", "link", "show", "eth0"]))[0];
    assert.equal(link.address, "02:aa:bb:cc:dd:ee");

    // The same address for another container is refused and nothing is left behind.
    const b = await h.pod();
    const taken = await c.send({
      env: cniEnv("ADD", "khcniC2", b.path),
      stdin: JSON.stringify(h.conf({ runtimeConfig: { ips: [wanted] } })),
    });
    assert.equal(taken.exit, 1);
    assert.equal(JSON.parse(taken.output).code, ERR.requestedUnavailable);
    assert.deepEqual(await h.ports(), [hostVethName("khcniC1", "eth0")]);
    assert.equal((await h.leases()).length, 1);

    // eth0 already exists in the pod: data plane error, lease and record rolled back.
    await must([
      "ip",
      "-n",
      b.name,
      "link",
      "add",
      "eth0",
      "type",
      "veth",
      "peer",
      "name",
      "khcnitmp",
    ]);
    const clash = await c.send({
      env: cniEnv("ADD", "khcniC3", b.path),
      stdin: JSON.stringify(h.conf()),
    });
    assert.equal(clash.exit, 1);
    assert.equal(JSON.parse(clash.output).code, ERR.dataplaneFailed);
    assert.equal((await h.leases()).length, 1);
    assert.equal((await h.records()).length, 1);
    const kept = JSON.parse(await must(["ip", "-n", b.name, "-json", "link", "show", "eth0"]))[0];
    assert.equal(kept.link, "khcnitmp", "the pod's own eth0 is untouched");
  } finally {
    c.close();
    await h.cleanup();
  }
});
