import assert from "node:assert/strict";
import { validate } from "../config/schema.ts";
import type { ConfigIssue } from "../config/schema.ts";
import { type Config, configSpec } from "../config/spec.ts";
import { conflist, CONFLIST_NAME, install, pluginBinary } from "./install.ts";
import { nodeNetworkOptions } from "./node.ts";

Deno.test("install writes the conflist and links the plugin, idempotently", async () => {
  const dir = await Deno.makeTempDir({ prefix: "khcni-install-" });
  try {
    const opts = {
      confDir: `${dir}/net.d`,
      binDir: `${dir}/bin`,
      socket: "/run/k8shost/prismnet.sock",
      mtu: 1400,
      pluginTimeoutMs: 30_000,
      chainPortmap: true,
      binary: "/usr/bin/k8shost",
    };
    await Deno.mkdir(opts.confDir, { recursive: true });
    await Deno.writeTextFile(`${opts.confDir}/05-other.conflist`, "{}");
    const r = await install(opts);
    assert.equal(r.conflistPath, `${opts.confDir}/${CONFLIST_NAME}`);
    assert.deepEqual(r.shadowedBy, ["05-other.conflist"]);
    const written = JSON.parse(await Deno.readTextFile(r.conflistPath)) as {
      cniVersion: string;
      cniVersions?: string[];
      plugins: Array<Record<string, unknown>>;
    };
    assert.deepEqual(written, conflist(opts));
    assert.equal(written.cniVersion, "1.0.0");
    assert.equal(written.cniVersions, undefined, "portmap's versions are not ours to promise");
    assert.deepEqual(written.plugins[0].prismnet, {
      socket: "/run/k8shost/prismnet.sock",
      timeoutSeconds: 30,
    });
    assert.deepEqual(written.plugins[0].capabilities, { ips: true, mac: true });
    assert.equal(written.plugins[1].type, "portmap");
    assert.equal(await Deno.readLink(`${opts.binDir}/prismnet`), "/usr/bin/k8shost");
    assert.equal((await Deno.stat(r.conflistPath)).mode! & 0o777, 0o644);
    await install({ ...opts, binary: "/opt/k8shost", chainPortmap: false });
    assert.equal(await Deno.readLink(`${opts.binDir}/prismnet`), "/opt/k8shost");
    const solo = JSON.parse(await Deno.readTextFile(r.conflistPath));
    assert.deepEqual(solo.cniVersions, ["1.0.0", "1.1.0"]);
    assert.equal(solo.plugins.length, 1);
    assert.deepEqual(
      [...Deno.readDirSync(opts.binDir)].map((e) => e.name),
      ["prismnet"],
      "no temp links left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the plugin binary is the compiled program, or scripts/k8shost from source", () => {
  assert.equal(pluginBinary("/usr/local/bin/k8shost"), "/usr/local/bin/k8shost");
  assert.match(
    pluginBinary("/root/.local/share/k8shost/deno/2.9.6/node_modules/@deno/linux-x64-glibc/deno"),
    /\/scripts\/k8shost$/,
  );
});

Deno.test("node daemon options come from the config, k3s paths unless overridden", () => {
  const issues: ConfigIssue[] = [];
  const config = validate(
    configSpec,
    { dataDir: "/var/lib/kh", prismnet: { cniBinDir: "/opt/cni/bin" } },
    "",
    issues,
  ) as Config;
  assert.deepEqual(issues, []);
  const o = nodeNetworkOptions(config, "node-1");
  assert.equal(o.stateDir, "/var/lib/kh/prismnet");
  assert.equal(o.socket, "/run/k8shost/prismnet.sock");
  assert.equal(o.clusterCidr, "10.244.0.0/16");
  assert.equal(o.install?.binDir, "/opt/cni/bin");
  assert.equal(o.install?.confDir, "/var/lib/kh/k3s/agent/etc/cni/net.d", "k3s's own conf dir");
  assert.equal(o.endpoint, "", "embedded PrismNET by default");
  assert.equal(o.sweepIntervalMs, 300_000);
});
