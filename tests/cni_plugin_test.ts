/**
 * The prismnet plugin driven as a container runtime drives it (exec, CNI_* env, config on
 * stdin, exit status and stdout), against the real node daemon in its own network namespace,
 * with real pod namespaces. Needs root, iproute2 and ping.
 */
import assert from "node:assert/strict";
import { ERR, SUPPORTED_VERSIONS } from "../cni/spec.ts";
import { hostVethName } from "../mod/prismnet/desired.ts";
import { must, NodeHarness, ping, sh } from "./cni_helpers.ts";

const k8sArgs = (ns: string, pod: string, uid = crypto.randomUUID()) =>
  `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=x;K8S_POD_UID=${uid}`;

function env(command: string, containerId: string, netns: string, ifname = "eth0", args = "") {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: netns,
    CNI_IFNAME: ifname,
    CNI_ARGS: args,
  };
}

Deno.test("ADD connects pods, CHECK notices a removed address, DEL removes everything and is idempotent", async () => {
  const h = await NodeHarness.create();
  try {
    const a = await h.pod();
    const b = await h.pod();
    const addA = await h.plugin(
      env("ADD", "khcniA", a.path, "eth0", k8sArgs("team-a", "web")),
      h.conf(),
    );
    assert.equal(addA.code, 0, addA.stdout + addA.stderr);
    const ra = addA.json as {
      cniVersion: string;
      interfaces: Array<{ name: string; mac?: string; sandbox?: string; mtu?: number }>;
      ips: Array<{ address: string; gateway: string; interface: number }>;
      routes: Array<{ dst: string; gw: string }>;
      dns: unknown;
    };
    assert.equal(ra.cniVersion, "1.0.0");
    assert.deepEqual(ra.interfaces.map((i) => i.name), [
      h.bridge,
      hostVethName("khcniA", "eth0"),
      "eth0",
    ]);
    assert.equal(ra.interfaces[2].sandbox, a.path);
    assert.equal(ra.interfaces[2].mtu, undefined, "1.0.0 results carry no interface mtu");
    assert.equal(ra.ips.length, 1);
    assert.equal(ra.ips[0].interface, 2);
    assert.ok(!("version" in ra.ips[0]), "1.0.0 ips carry no version");
    assert.deepEqual(ra.routes, [{ dst: "0.0.0.0/0", gw: ra.ips[0].gateway }]);
    assert.deepEqual(ra.dns, {});

    // The pod interface is what the result says: name, MAC, MTU, address, default route.
    const link =
      JSON.parse(await must(["ip", "-n", a.name, "-json", "addr", "show", "dev", "eth0"]))[0];
    assert.equal(link.address, ra.interfaces[2].mac);
    assert.equal(link.mtu, 1400);
    assert.ok(
      link.addr_info.some((x: { local: string; prefixlen: number }) =>
        `${x.local}/${x.prefixlen}` === ra.ips[0].address
      ),
    );

    const addB = await h.plugin(
      env("ADD", "khcniB", b.path, "eth0", k8sArgs("team-a", "db")),
      h.conf({}, "1.1.0"),
    );
    assert.equal(addB.code, 0, addB.stdout);
    const rb = addB.json as typeof ra;
    assert.equal(rb.cniVersion, "1.1.0");
    assert.equal(rb.interfaces[2].mtu, 1400, "1.1.0 results carry the interface mtu");
    assert.equal(rb.ips[0].gateway, ra.ips[0].gateway, "same namespace, same subnet");
    assert.notEqual(rb.ips[0].address, ra.ips[0].address);

    const ipA = ra.ips[0].address.split("/")[0];
    const ipB = rb.ips[0].address.split("/")[0];
    assert.ok(await ping(a.name, ra.ips[0].gateway), "pod A reaches its gateway");
    assert.ok(await ping(a.name, ipB), "pod A reaches pod B");
    assert.ok(await ping(b.name, ipA), "pod B reaches pod A");

    // CHECK with prevResult passes, then fails once the address is gone.
    const check = h.conf({ prevResult: ra });
    const ok = await h.plugin(env("CHECK", "khcniA", a.path), check);
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout.trim(), "");
    await must(["ip", "-n", a.name, "addr", "del", ra.ips[0].address, "dev", "eth0"]);
    const bad = await h.plugin(env("CHECK", "khcniA", a.path), check);
    assert.equal(bad.code, 1);
    assert.equal(bad.json?.code, ERR.checkFailed);
    assert.match(String(bad.json?.details), new RegExp(`lacks address ${ra.ips[0].address}`));
    assert.equal(bad.json?.cniVersion, "1.0.0");

    // DEL removes link, lease and record; again and again it succeeds.
    const leasesBefore = await h.leases();
    assert.equal(leasesBefore.length, 2);
    for (let i = 0; i < 2; i++) {
      const del = await h.plugin(env("DEL", "khcniA", a.path), h.conf({ prevResult: ra }));
      assert.equal(del.code, 0, del.stdout);
      assert.equal(del.stdout.trim(), "");
    }
    assert.deepEqual(await h.ports(), [hostVethName("khcniB", "eth0")]);
    assert.deepEqual(await h.leases(), [ipB]);
    assert.equal((await h.records()).length, 1);
    const gone = await sh(["ip", "-n", a.name, "link", "show", "eth0"]);
    assert.notEqual(gone.code, 0, "pod end is gone with its pair");

    // DEL with the namespace and all state already gone, no CNI_NETNS at all.
    await must(["ip", "netns", "del", b.name]);
    const delB = await h.plugin({ ...env("DEL", "khcniB", ""), CNI_NETNS: "" }, h.conf());
    assert.equal(delB.code, 0, delB.stdout);
    const delNever = await h.plugin({ ...env("DEL", "khcniNever", "") }, h.conf());
    assert.equal(delNever.code, 0, delNever.stdout);
    assert.deepEqual(await h.leases(), []);
    assert.deepEqual(await h.records(), []);
    assert.deepEqual(await h.ports(), []);
  } finally {
    await h.cleanup();
  }
});

Deno.test("malformed invocations get the spec's error codes; VERSION; daemon down is code 11 fast", async () => {
  const h = await NodeHarness.create();
  try {
    const p = await h.pod();
    const run = async (e: Record<string, string>, stdin: string | Record<string, unknown>) => {
      const r = await h.plugin(e, stdin);
      assert.equal(r.code, 1, `expected failure: ${r.stdout}`);
      assert.ok(r.json, `error JSON on stdout: ${r.stdout}`);
      assert.equal(typeof r.json!.msg, "string");
      assert.equal(typeof r.json!.cniVersion, "string");
      return r.json!;
    };
    assert.equal((await run(env("ADD", "khcni1", p.path), "{not json")).code, ERR.decodingFailure);
    assert.equal((await run(env("ADD", "khcni1", p.path), "[1,2]")).code, ERR.decodingFailure);
    const missing = await run({ CNI_COMMAND: "ADD", CNI_NETNS: p.path }, h.conf());
    assert.equal(missing.code, ERR.invalidEnv);
    assert.match(String(missing.msg), /CNI_CONTAINERID,CNI_IFNAME/);
    assert.equal((await run({}, h.conf())).code, ERR.invalidEnv);
    assert.equal((await run({ ...env("FROB", "khcni1", p.path) }, h.conf())).code, ERR.invalidEnv);
    const badNs = await run(env("ADD", "khcni1", "/var/run/netns/khcni-does-not-exist"), h.conf());
    assert.equal(badNs.code, ERR.invalidEnv);
    assert.match(String(badNs.msg), /CNI_NETNS/);
    const notNs = await run(env("ADD", "khcni1", "/etc/hostname"), h.conf());
    assert.equal(notNs.code, ERR.invalidEnv, "a file that is no network namespace");
    assert.match(String(notNs.msg), /not a network namespace/);
    for (const ifname of ["eth0:1", "a very long ifname", "..", "x/y", "abcdefghijklmnop"]) {
      assert.equal(
        (await run(env("ADD", "khcni1", p.path, ifname), h.conf())).code,
        ERR.invalidEnv,
        ifname,
      );
    }
    assert.equal((await run(env("ADD", "-bad", p.path), h.conf())).code, ERR.invalidEnv);
    const v = await run(env("ADD", "khcni1", p.path), h.conf({}, "2.0.0"));
    assert.equal(v.code, ERR.incompatibleVersion);
    assert.equal(
      (await run(env("CHECK", "khcni1", p.path), h.conf({}, "0.3.1"))).code,
      ERR.incompatibleVersion,
    );
    assert.equal((await run(env("GC", "", ""), h.conf({}, "1.0.0"))).code, ERR.incompatibleVersion);
    assert.equal(
      (await run(env("ADD", "khcni1", p.path), { cniVersion: "1.0.0", name: "" })).code,
      ERR.invalidConfig,
    );
    assert.equal(
      (await run(env("ADD", "khcni1", p.path), h.conf({ mtu: 10 }))).code,
      ERR.invalidConfig,
    );
    const rc = await run(
      env("ADD", "khcni1", p.path),
      h.conf({ runtimeConfig: { mac: "01:00:00:00:00:01" } }),
    );
    assert.equal(rc.code, ERR.invalidConfig);
    assert.equal(
      (await run(env("CHECK", "khcni1", p.path), h.conf())).code,
      ERR.invalidConfig,
      "CHECK without prevResult",
    );
    assert.deepEqual(await h.leases(), [], "no failed call left a lease");

    // VERSION mirrors the asked version and lists every supported one; no env besides the command.
    for (const asked of ["1.0.0", "1.1.0"]) {
      const r = await h.plugin({ CNI_COMMAND: "VERSION" }, { cniVersion: asked });
      assert.equal(r.code, 0);
      assert.deepEqual(r.json, { cniVersion: asked, supportedVersions: [...SUPPORTED_VERSIONS] });
    }
    const status = await h.plugin({ CNI_COMMAND: "STATUS" }, h.conf({}, "1.1.0"));
    assert.equal(status.code, 0, status.stdout);
    assert.equal(status.stdout.trim(), "");

    await h.stop();
    const t0 = performance.now();
    const down = await run(env("ADD", "khcni1", p.path), h.conf());
    const took = performance.now() - t0;
    assert.equal(down.code, ERR.tryAgainLater);
    assert.ok(took < 3000, `daemon down answered in ${took.toFixed(0)}ms`);
    assert.equal((await run(env("DEL", "khcni1", p.path), h.conf())).code, ERR.tryAgainLater);
    assert.equal(
      (await run({ CNI_COMMAND: "STATUS" }, h.conf({}, "1.1.0"))).code,
      ERR.pluginNotAvailable,
    );
  } finally {
    await h.cleanup();
  }
});
