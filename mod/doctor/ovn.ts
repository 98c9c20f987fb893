/**
 * PrismNET's OVN mode: the configured databases answer and hold what they should, the
 * integration bridge exists with the configured datapath, this node is a registered chassis,
 * and ethtool is there when the userspace datapath needs it.
 */
import type { Config } from "../config/spec.ts";
import { asMap, OvsdbClient, parseRemote, select, where } from "../ovsdb/mod.ts";
import { which } from "./host.ts";
import { type DoctorCheck, fail, type Finding, ok, warn } from "./types.ts";

const TIMEOUT_MS = 3000;

async function withDb<T>(
  remote: string,
  fn: (c: OvsdbClient) => Promise<T>,
): Promise<T | Error> {
  let c: OvsdbClient | undefined;
  try {
    c = await OvsdbClient.connect(remote, {
      connectTimeoutMs: TIMEOUT_MS,
      requestTimeoutMs: TIMEOUT_MS,
      probeIntervalMs: 0,
    });
    return await fn(c);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  } finally {
    c?.close();
  }
}

/** Checks one remote: syntax, reachability, the database it must serve. */
async function dbFinding(key: string, remote: string, db: string, fix: string): Promise<Finding> {
  const check = `ovn ${key}`;
  try {
    parseRemote(remote);
  } catch (e) {
    return fail(check, (e as Error).message, `set ${key} to tcp:HOST:PORT or unix:/path`);
  }
  const dbs = await withDb(remote, (c) => c.listDbs());
  if (dbs instanceof Error) return fail(check, `${remote}: ${dbs.message}`, fix);
  if (!dbs.includes(db)) {
    return fail(check, `${remote} serves ${dbs.join(", ")}, not ${db}`, `point ${key} at ${db}`);
  }
  return ok(check, `${remote} serves ${db}`);
}

export const ovnCheck: DoctorCheck = {
  name: "ovn",
  async run({ config, path }) {
    const o = config.prismnet.ovn;
    if (!o.northbound) {
      return [ok("ovn", "standalone PrismNET (prismnet.ovn.northbound is empty): OVN not used")];
    }
    const out: Finding[] = [
      await dbFinding(
        "prismnet.ovn.northbound",
        o.northbound,
        "OVN_Northbound",
        "start ovn-northd's NB ovsdb-server (ovn-central) or correct the address",
      ),
    ];
    if (!o.southbound) {
      out.push(fail("ovn prismnet.ovn.southbound", "empty", "set the OVN SB DB address"));
    } else {
      out.push(
        await dbFinding(
          "prismnet.ovn.southbound",
          o.southbound,
          "OVN_Southbound",
          "start the SB ovsdb-server (ovn-central) or correct the address",
        ),
      );
    }
    const sbOk = out.at(-1)?.status === "ok";
    if (config.prismnet.enable) out.push(...await nodeFindings(config, path, sbOk));
    return out;
  },
};

async function nodeFindings(config: Config, path: string[], sbOk: boolean): Promise<Finding[]> {
  const o = config.prismnet.ovn;
  const out: Finding[] = [];
  const local = await dbFinding(
    "prismnet.ovn.ovsdb",
    o.ovsdb,
    "Open_vSwitch",
    "start openvswitch-switch (ovsdb-server and ovs-vswitchd) or correct the address",
  );
  out.push(local);
  if (local.status === "ok") {
    const br = await withDb(o.ovsdb, async (c) => {
      const [r] = await c.transact("Open_vSwitch", [
        select("Bridge", [where.eq("name", o.integrationBridge)], ["datapath_type"]),
      ]);
      return r.rows?.[0];
    });
    const check = "ovn integration bridge";
    if (br instanceof Error) out.push(fail(check, br.message, "check ovsdb-server"));
    else if (!br) {
      out.push(
        warn(
          check,
          `${o.integrationBridge} does not exist yet`,
          "the node daemon creates it at start",
        ),
      );
    } else if ((br.datapath_type || "system") !== o.datapathType) {
      out.push(
        fail(
          check,
          `${o.integrationBridge} has datapath ${
            br.datapath_type || "system"
          }, config says ${o.datapathType}`,
          "set prismnet.ovn.datapathType to match, or recreate the bridge",
        ),
      );
    } else out.push(ok(check, `${o.integrationBridge} (${o.datapathType} datapath)`));
  }
  if (sbOk) {
    const chassis = await withDb(o.southbound, async (c) => {
      const [r] = await c.transact("OVN_Southbound", [
        select("Chassis", [where.eq("name", config.nodeName || Deno.hostname())], [
          "name",
          "encaps",
          "external_ids",
        ]),
      ]);
      return r.rows ?? [];
    });
    const check = "ovn chassis";
    const name = config.nodeName || Deno.hostname();
    if (chassis instanceof Error) out.push(fail(check, chassis.message, "check the SB DB"));
    else if (chassis.length === 0) {
      out.push(
        warn(
          check,
          `no chassis "${name}" in the SB`,
          "start ovn-controller (ovn-host) on this node",
        ),
      );
    } else {out.push(
        ok(
          check,
          `"${name}" registered (${Object.keys(asMap(chassis[0].external_ids)).length} ids)`,
        ),
      );}
  }
  if (!o.encapIp && !config.networking.nodeIP) {
    out.push(
      warn(
        "ovn encapsulation",
        "neither prismnet.ovn.encapIp nor networking.nodeIP is set",
        "set one so ovn-controller knows its tunnel endpoint",
      ),
    );
  }
  if (o.datapathType === "netdev" && !which("ethtool", path)) {
    out.push(
      fail(
        "ovn ethtool",
        "not found on PATH; the userspace datapath needs TX checksum offload off on pod veths",
        "apt-get install ethtool (NixOS: add pkgs.ethtool to the unit's path)",
      ),
    );
  }
  return out;
}
