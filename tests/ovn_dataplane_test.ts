/**
 * The whole OVN data plane on one host: real OVN (NB/SB, northd, ovs-vswitchd on the userspace
 * datapath, ovn-controller), the prismnet node daemon in OVN mode inside the node namespace,
 * pods attached through the CNI path (the `prismnet` plugin executed as a runtime does), the
 * NetworkPolicy controller against the test API server — and real ping and TCP between pod
 * namespaces, blocked and unblocked as policies and labels change.
 */
import assert from "node:assert/strict";
import { configureLogging, logger } from "../mod/log/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { NETPOL_TABLES, runNetpolController } from "../mod/netpol/mod.ts";
import { txChecksumming } from "../mod/ovn/mod.ts";
import { OvsdbSession } from "../mod/ovsdb/mod.ts";
import type { NodeNetworkOptions } from "../mod/prismnet/node.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { type OvnHarness, run, startOvn } from "./support/ovn.ts";
import { ROOT, sh } from "./cni_helpers.ts";

configureLogging({ level: "error" });

interface Pod {
  namespace: string;
  name: string;
  netns: string;
  containerId: string;
  ip: string;
}

class OvnNode {
  private proc?: Deno.ChildProcess;
  private servers: Deno.ChildProcess[] = [];
  readonly pods: Pod[] = [];
  readonly socket: string;
  readonly plugin: string;

  constructor(readonly ovn: OvnHarness, readonly dir: string) {
    this.socket = `${dir}/prismnet.sock`;
    this.plugin = `${dir}/bin/prismnet`;
  }

  async start(): Promise<void> {
    await Deno.mkdir(`${this.dir}/bin`);
    await Deno.symlink(`${ROOT}scripts/k8shost`, this.plugin);
    const o = this.ovn;
    const opts: NodeNetworkOptions = {
      stateDir: `${this.dir}/state`,
      socket: this.socket,
      node: o.systemId,
      bridge: "unused0",
      mtu: 1400,
      clusterCidr: "10.94.0.0/16",
      namespaceSubnetPrefix: 24,
      endpoint: "",
      callTimeoutMs: 5000,
      sweepIntervalMs: 3_600_000,
      gcGraceMs: 0,
      ovn: {
        northbound: o.nb,
        southbound: o.sb,
        ovsdb: o.ovs,
        bridge: o.bridge,
        encapType: "geneve",
        encapIp: "127.0.0.1",
        systemId: o.systemId,
        datapathType: "netdev",
        portUpTimeoutMs: 20_000,
        configureChassis: true,
        node: o.systemId,
      },
    };
    this.proc = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        o.netns,
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        `${ROOT}tests/cni_daemon_main.ts`,
        JSON.stringify(opts),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = this.proc.stdout.getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("prismnet daemon exited before it was ready");
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    this.proc.stdout.pipeTo(new WritableStream()).catch(() => {});
  }

  async cni(command: "ADD" | "DEL", pod: Omit<Pod, "ip">) {
    const r = await sh([this.plugin], {
      stdin: JSON.stringify({
        cniVersion: "1.0.0",
        name: "prismnet",
        type: "prismnet",
        prismnet: { socket: this.socket },
      }),
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: Deno.env.get("HOME") ?? "/root",
        CNI_COMMAND: command,
        CNI_CONTAINERID: pod.containerId,
        CNI_NETNS: `/var/run/netns/${pod.netns}`,
        CNI_IFNAME: "eth0",
        CNI_PATH: "/opt/cni/bin",
        CNI_ARGS:
          `K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_UID=uid-${pod.name}`,
      },
    });
    if (r.code !== 0) {
      throw new Error(`CNI ${command} ${pod.namespace}/${pod.name}: ${r.stdout} ${r.stderr}`);
    }
    return r.stdout ? JSON.parse(r.stdout) : undefined;
  }

  async addPod(namespace: string, name: string): Promise<Pod> {
    const netns = `khovn-${this.ovn.id}-${this.pods.length}`;
    await run(["ip", "netns", "add", netns]);
    await run(["ip", "-n", netns, "link", "set", "lo", "up"]);
    const base = { namespace, name, netns, containerId: crypto.randomUUID().replaceAll("-", "") };
    const res = await this.cni("ADD", base);
    const pod = { ...base, ip: String(res.ips[0].address).split("/")[0] };
    this.pods.push(pod);
    // A TCP server on 8080 and 2222 answering "ok", for the connectivity checks.
    const code =
      `for (const port of [8080, 2222]) (async () => { for await (const c of Deno.listen({ port })) { await c.write(new TextEncoder().encode("ok")).catch(() => {}); c.close(); } })();`;
    this.servers.push(
      new Deno.Command("ip", {
        args: ["netns", "exec", netns, Deno.execPath(), "eval", code],
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
    return pod;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      try {
        s.kill("SIGKILL");
      } catch { /* gone */ }
      await s.status;
    }
    if (this.proc) {
      try {
        this.proc.kill("SIGTERM");
      } catch { /* gone */ }
      await this.proc.status;
    }
    for (const p of this.pods) await run(["ip", "netns", "del", p.netns]);
  }
}

const ping = async (from: Pod, to: Pod) =>
  (await sh(["ip", "netns", "exec", from.netns, "ping", "-c", "1", "-W", "1", to.ip])).code === 0;

async function tcp(from: Pod, to: Pod, port: number): Promise<boolean> {
  const code =
    `const c = await Promise.race([Deno.connect({ hostname: "${to.ip}", port: ${port} }), new Promise((_, r) => setTimeout(() => r(new Error("timeout")), 1500))]); const b = new Uint8Array(2); const n = await c.read(b); console.log(new TextDecoder().decode(b.subarray(0, n ?? 0))); Deno.exit(0);`;
  const r = await sh(["ip", "netns", "exec", from.netns, Deno.execPath(), "eval", code]);
  return r.code === 0 && r.stdout.trim() === "ok";
}

/** Polls `check` until it returns `want` (policy changes take a moment to reach the flows). */
async function eventually(what: string, check: () => Promise<boolean>, want: boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await check()) === want) return;
    if (Date.now() > deadline) assert.fail(`${what}: still ${!want} after ${ms}ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test("ovn dataplane: pods via the CNI path, real ping/TCP, policies and labels", async () => {
  const ovn = await startOvn();
  const dir = await Deno.makeTempDir({ prefix: "kh-ovn-node-" });
  const node = new OvnNode(ovn, dir);
  const k8s = await startTestApiServer();
  const nb = new OvsdbSession(ovn.nb, "OVN_Northbound", { cache: NETPOL_TABLES });
  const abort = new AbortController();
  try {
    await node.start();
    const t0 = Date.now();
    const web = await node.addPod("shop", "web");
    console.log(`  first CNI ADD (switch, router port, port up) ${Date.now() - t0}ms`);
    const frontend = await node.addPod("shop", "frontend");
    const other = await node.addPod("guests", "visitor");
    const lsps = await ovn.nbctl(
      "--bare",
      "--columns=name,up",
      "find",
      "Logical_Switch_Port",
      'type=""',
    );
    assert.equal(
      lsps.trim().split(/\s+/).filter((x) => x === "true").length,
      3,
      "all pod ports up when ADD returned",
    );
    // The userspace datapath needs TX checksum offload off on both veth ends.
    assert.equal(await txChecksumming("eth0", web.netns), false, "pod end");
    const hostEnds = (await ovn.vsctl("list-ports", ovn.bridge)).split("\n").filter(Boolean);
    assert.equal(hostEnds.length, 3);
    for (const h of hostEnds) {
      assert.equal(await txChecksumming(h, ovn.netns), false, `host end ${h}`);
    }

    // Same namespace (one switch) and across namespaces (through the cluster router).
    assert.ok(await ping(frontend, web), "ping same namespace");
    assert.ok(await ping(other, web), "ping across namespaces");
    assert.ok(await tcp(frontend, web, 8080), "TCP same namespace");
    assert.ok(await tcp(other, web, 8080), "TCP across namespaces");

    for (const p of node.pods) {
      await k8s.api.create(RESOURCES.namespaces, { metadata: { name: p.namespace } }).catch(
        () => {},
      );
      const labels = { app: p.name };
      await k8s.api.create(RESOURCES.pods, {
        metadata: { namespace: p.namespace, name: p.name, labels },
        spec: { containers: [{ name: "c", image: "pause" }] },
      } as KubeObject);
    }
    const ctl = runNetpolController({
      api: k8s.api,
      nb,
      log: logger("netpol-dp"),
      resyncMs: 60_000,
    }, abort.signal);
    nb.get().catch(() => {});
    await ctl.synced();

    // web accepts TCP 8080 from app=frontend only; everything else to web is dropped.
    await k8s.api.create(RESOURCES.networkPolicies, {
      metadata: { namespace: "shop", name: "web" },
      spec: {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [{
          from: [{ podSelector: { matchLabels: { app: "frontend" } } }],
          ports: [{ protocol: "TCP", port: 8080 }],
        }],
      },
    });
    await eventually("TCP 2222 from frontend blocked", () => tcp(frontend, web, 2222), false);
    assert.ok(await tcp(frontend, web, 8080), "TCP 8080 from frontend allowed");
    assert.equal(await ping(frontend, web), false, "ICMP to web blocked");
    assert.equal(await tcp(other, web, 8080), false, "other namespace blocked");
    // Replies of allowed connections and unisolated pods are unaffected.
    assert.ok(await tcp(web, other, 8080), "web → visitor (not isolated) still works");

    // A namespace label change: a rule admitting namespaces labelled trusted=yes.
    await k8s.api.patch(RESOURCES.networkPolicies, "web", {
      spec: {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { app: "frontend" } } }],
            ports: [{ protocol: "TCP", port: 8080 }],
          },
          { from: [{ namespaceSelector: { matchLabels: { trusted: "yes" } } }] },
        ],
      },
    }, { namespace: "shop" });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await tcp(other, web, 8080), false, "guests not trusted yet");
    await k8s.api.patch(RESOURCES.namespaces, "guests", {
      metadata: { labels: { trusted: "yes" } },
    });
    await eventually("guests → web after namespace label", () => tcp(other, web, 8080), true);
    assert.ok(await ping(other, web), "the namespace rule has no ports: ICMP too");

    // Pod label change: frontend loses its label and with it port 8080.
    await k8s.api.patch(RESOURCES.pods, "frontend", { metadata: { labels: { app: "retired" } } }, {
      namespace: "shop",
    });
    await eventually("frontend → web after relabel", () => tcp(frontend, web, 8080), false);

    // Deleting the policy unblocks everything.
    await k8s.api.delete(RESOURCES.networkPolicies, "web", "shop");
    await eventually("frontend → web after policy delete", () => tcp(frontend, web, 2222), true);

    // CNI DEL removes the logical port and the OVS port.
    await node.cni("DEL", web);
    await node.cni("DEL", web); // idempotent
    const left = await ovn.nbctl(
      "--bare",
      "--columns=name",
      "find",
      "Logical_Switch_Port",
      `external_ids:"k8shost.io/container-id"="${web.containerId}"`,
    );
    assert.equal(left.trim(), "");
    const ports = await ovn.vsctl("list-ports", ovn.bridge);
    assert.equal(ports.split("\n").filter(Boolean).length, 2);
  } catch (e) {
    console.error(await ovn.logTail());
    throw e;
  } finally {
    abort.abort();
    nb.close();
    await node.stop();
    await k8s.close();
    await ovn.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
