/** `k8shost doctor`'s OVN check against real OVN databases and broken configurations. */
import assert from "node:assert/strict";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import { ovnCheck } from "../mod/doctor/ovn.ts";
import type { Finding } from "../mod/doctor/types.ts";
import { startOvn } from "./support/ovn.ts";

function config(raw: Record<string, unknown>): Config {
  const issues: ConfigIssue[] = [];
  const c = validate(configSpec, raw, "", issues) as Config;
  assert.deepEqual(issues, []);
  return c;
}

const PATH = (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":");
const run = (c: Config) => ovnCheck.run({ config: c, path: PATH, root: true });
const byCheck = (f: Finding[]) => Object.fromEntries(f.map((x) => [x.check, x]));

Deno.test("doctor ovn: standalone mode needs nothing", async () => {
  const f = await run(config({}));
  assert.equal(f.length, 1);
  assert.equal(f[0].status, "ok");
  assert.match(f[0].detail, /standalone/);
});

Deno.test("doctor ovn: a healthy OVN node, then broken settings", async () => {
  const ovn = await startOvn();
  try {
    const ovnCfg = {
      northbound: ovn.nb,
      southbound: ovn.sb,
      ovsdb: ovn.ovs,
      integrationBridge: ovn.bridge,
      datapathType: "netdev",
      encapIp: "127.0.0.1",
    };
    const good = byCheck(await run(config({ nodeName: ovn.systemId, prismnet: { ovn: ovnCfg } })));
    for (const k of ["prismnet.ovn.northbound", "prismnet.ovn.southbound", "prismnet.ovn.ovsdb"]) {
      assert.equal(good[`ovn ${k}`].status, "ok", JSON.stringify(good[`ovn ${k}`]));
    }
    assert.equal(good["ovn integration bridge"].status, "ok");
    assert.equal(good["ovn chassis"].status, "ok");

    const bad = byCheck(
      await run(config({
        nodeName: "not-a-chassis",
        prismnet: {
          ovn: {
            ...ovnCfg,
            northbound: ovn.sb, // the SB where the NB should be
            southbound: `unix:${ovn.dir}/missing.sock`,
            datapathType: "system",
          },
        },
      })),
    );
    assert.equal(bad["ovn prismnet.ovn.northbound"].status, "fail");
    assert.match(bad["ovn prismnet.ovn.northbound"].detail, /not OVN_Northbound/);
    assert.equal(bad["ovn prismnet.ovn.southbound"].status, "fail");
    assert.equal(bad["ovn integration bridge"].status, "fail");
    assert.match(bad["ovn integration bridge"].detail, /datapath netdev/);
    assert.equal(bad["ovn chassis"], undefined, "no chassis lookup without a working SB");

    const unknown = byCheck(
      await run(
        config({
          nodeName: "stranger",
          prismnet: { ovn: { ...ovnCfg, integrationBridge: "br-none" } },
        }),
      ),
    );
    assert.equal(unknown["ovn chassis"].status, "warn");
    assert.equal(unknown["ovn integration bridge"].status, "warn");

    const syntax = byCheck(
      await run(config({ prismnet: { ovn: { ...ovnCfg, northbound: "ssl:1.2.3.4:6641" } } })),
    );
    assert.equal(syntax["ovn prismnet.ovn.northbound"].status, "fail");
    assert.match(syntax["ovn prismnet.ovn.northbound"].fix!, /tcp:HOST:PORT/);
  } finally {
    await ovn.stop();
  }
});
