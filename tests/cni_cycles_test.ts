/**
 * Leak test: 200 ADD/DEL cycles through the daemon socket plus some through the real plugin
 * leave no lease, record, host link or pod address behind; parallel ADDs never share an address.
 * Needs root and iproute2.
 */
import assert from "node:assert/strict";
import { cniEnv, DaemonClient, must, NodeHarness } from "./cni_helpers.ts";

Deno.test("200 ADD/DEL cycles leak no lease, link or address", async () => {
  const h = await NodeHarness.create();
  const c = await DaemonClient.connect(h.socket);
  try {
    const pods = [await h.pod(), await h.pod()];
    const conf = JSON.stringify(h.conf());
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = pods[i % 2];
      const id = `khcniL${i}`;
      const args = `K8S_POD_NAMESPACE=leak${i % 3};K8S_POD_NAME=p${i};K8S_POD_UID=u${i}`;
      const added = await c.send({ env: cniEnv("ADD", id, p.path, "eth0", args), stdin: conf });
      assert.equal(added.exit, 0, `cycle ${i}: ${added.output}`);
      seen.add(JSON.parse(added.output).ips[0].address);
      const deleted = await c.send({ env: cniEnv("DEL", id, p.path, "eth0", args), stdin: conf });
      assert.equal(deleted.exit, 0, `cycle ${i}: ${deleted.output}`);
    }
    assert.ok(seen.size > 3, "next-fit spreads addresses instead of reusing one");
    for (let i = 0; i < 5; i++) {
      const e = {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: `khcniX${i}`,
        CNI_NETNS: pods[0].path,
        CNI_IFNAME: "eth0",
      };
      const added = await h.plugin(e, conf);
      assert.equal(added.code, 0, added.stdout);
      const deleted = await h.plugin({ ...e, CNI_COMMAND: "DEL" }, conf);
      assert.equal(deleted.code, 0, deleted.stdout);
    }
    assert.deepEqual(await h.leases(), []);
    assert.deepEqual(await h.records(), []);
    assert.deepEqual(await h.ports(), []);
    for (const p of pods) {
      const links = JSON.parse(await must(["ip", "-n", p.name, "-json", "addr", "show"])) as Array<
        { ifname: string; addr_info: unknown[] }
      >;
      assert.deepEqual(links.map((l) => l.ifname), ["lo"], `only lo is left in ${p.name}`);
      assert.deepEqual(links[0].addr_info, [], "lo was never given an address");
    }
  } finally {
    c.close();
    await h.cleanup();
  }
});

Deno.test("parallel ADDs get distinct addresses and all DEL cleanly", async () => {
  const h = await NodeHarness.create();
  try {
    const pods = await Promise.all(Array.from({ length: 12 }, () => h.pod()));
    const conf = JSON.stringify(h.conf());
    const clients = await Promise.all(pods.map(() => DaemonClient.connect(h.socket)));
    try {
      const results = await Promise.all(
        pods.map((p, i) =>
          clients[i].send({
            env: cniEnv("ADD", `khcniP${i}`, p.path, "eth0", "K8S_POD_NAMESPACE=par"),
            stdin: conf,
          })
        ),
      );
      const addrs = results.map((r) => {
        assert.equal(r.exit, 0, r.output);
        return JSON.parse(r.output).ips[0].address;
      });
      assert.equal(new Set(addrs).size, pods.length);
      assert.equal((await h.leases()).length, pods.length);
      assert.equal((await h.ports()).length, pods.length);
      const dels = await Promise.all(
        pods.map((p, i) =>
          clients[i].send({ env: cniEnv("DEL", `khcniP${i}`, p.path), stdin: conf })
        ),
      );
      for (const d of dels) assert.equal(d.exit, 0, d.output);
      assert.deepEqual(await h.leases(), []);
      assert.deepEqual(await h.ports(), []);
    } finally {
      for (const c of clients) c.close();
    }
  } finally {
    await h.cleanup();
  }
});
