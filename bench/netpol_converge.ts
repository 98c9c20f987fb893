/**
 * NetworkPolicy convergence at scale: 1,000 pods across 20 namespaces with 50 policies, real
 * OVN (NB ovsdb-server + northd + SB), the test API server and the netpol controller. Measures
 * the initial sync, then repeated pod label changes: time from the PATCH until the NB holds
 * the new address set contents (p50/p99), until northd has compiled it (sb_cfg), and how many
 * OVSDB transactions each change cost. Prints a table.
 *
 *   deno run -A bench/netpol_converge.ts [changes=100]       (needs ovn-central)
 */
import { configureLogging, logger } from "../mod/log/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { NETPOL_TABLES, runNetpolController } from "../mod/netpol/mod.ts";
import { peerSetName } from "../mod/netpol/names.ts";
import { EXT, OvnTopology, podPortName } from "../mod/ovn/mod.ts";
import {
  asStrings,
  insert,
  map,
  mutate,
  namedUuid,
  OvsdbClient,
  OvsdbSession,
  RowCache,
  set,
  transactAndWait,
  where,
} from "../mod/ovsdb/mod.ts";
import { startTestApiServer } from "../tests/support/apiserver/mod.ts";
import { startOvn } from "../tests/support/ovn.ts";

configureLogging({ level: "error" });
const CHANGES = Number(Deno.args[0] ?? 100);
const NAMESPACES = 20;
const PODS_PER_NS = 50;
const APPS = ["web", "api", "db", "cache", "worker"];

const nsName = (i: number) => `bench-${String(i).padStart(2, "0")}`;
const podIp = (n: number, p: number) => `10.120.${n}.${p + 10}`;

function policies(): KubeObject[] {
  const out: KubeObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const namespace = nsName(n);
    out.push({
      metadata: { namespace, name: "web" },
      spec: {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [{
          from: [{ podSelector: { matchLabels: { role: "frontend" } } }],
          ports: [{ port: 80 }, { port: 443 }],
        }],
      },
    });
    out.push({
      metadata: { namespace, name: "db" },
      spec: {
        podSelector: { matchLabels: { app: "db" } },
        ingress: [
          { from: [{ podSelector: { matchLabels: { app: "api" } } }], ports: [{ port: 5432 }] },
          {
            from: [{
              namespaceSelector: { matchLabels: { tier: "prod" } },
              podSelector: { matchLabels: { app: "worker" } },
            }],
          },
        ],
      },
    });
    if (n % 2 === 0) {
      out.push({
        metadata: { namespace, name: "egress" },
        spec: {
          podSelector: { matchLabels: { app: "worker" } },
          policyTypes: ["Egress"],
          egress: [
            {
              to: [{
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": nsName(0) } },
              }],
              ports: [{ protocol: "UDP", port: 53 }],
            },
            {
              to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.120.0.0/16"] } }],
              ports: [{ port: 443, endPort: 450 }],
            },
          ],
        },
      });
    }
  }
  return out.slice(0, 50);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

const ovn = await startOvn({ chassis: false });
const k8s = await startTestApiServer();
const nbTopo = new OvsdbSession(ovn.nb, "OVN_Northbound");
const nb = new OvsdbSession(ovn.nb, "OVN_Northbound", { cache: NETPOL_TABLES });
const observer = await OvsdbClient.connect(ovn.nb);
const abort = new AbortController();
try {
  // Topology as the CNI would leave it: switches, and one logical port per pod.
  const topo = new OvnTopology(nbTopo);
  await topo.ensureClusterRouter();
  const conn = await nbTopo.get();
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = nsName(n);
    await topo.ensureNamespaceSwitch({
      namespace: ns,
      subnets: [{ cidr: `10.120.${n}.0/24`, gateway: `10.120.${n}.1` }],
    });
    const ops = [];
    for (let p = 0; p < PODS_PER_NS; p++) {
      const ip = podIp(n, p);
      ops.push(insert("Logical_Switch_Port", {
        name: podPortName(`pod-${p}`, `c${n}x${p}`),
        addresses: `0a:58:0a:78:${n.toString(16).padStart(2, "0")}:${
          (p + 10).toString(16).padStart(2, "0")
        } ${ip}`,
        external_ids: map({
          [EXT.namespace]: ns,
          [EXT.pod]: `pod-${p}`,
          "k8shost.io/owner": "prismnet",
        }),
      }, `p${p}`));
    }
    ops.push(
      mutate("Logical_Switch", [where.eq("name", `k8s-${ns}`)], [[
        "ports",
        "insert",
        set(ops.map((_, i) => namedUuid(`p${i}`))),
      ]]),
    );
    await conn.client.transact("OVN_Northbound", ops);
    await k8s.api.create(RESOURCES.namespaces, {
      metadata: { name: ns, labels: { tier: n % 2 ? "dev" : "prod" } },
    });
  }
  const creates: Promise<unknown>[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    for (let p = 0; p < PODS_PER_NS; p++) {
      creates.push(k8s.api.create(RESOURCES.pods, {
        metadata: {
          namespace: nsName(n),
          name: `pod-${p}`,
          labels: { app: APPS[p % APPS.length], role: p % 3 === 0 ? "frontend" : "backend" },
        },
        spec: { containers: [{ name: "c", image: "pause" }] },
      }));
      if (creates.length >= 50) await Promise.all(creates.splice(0));
    }
  }
  await Promise.all(creates);
  for (const p of policies()) await k8s.api.create(RESOURCES.networkPolicies, p);

  const t0 = performance.now();
  const ctl = runNetpolController({
    api: k8s.api,
    nb,
    log: logger("netpol-bench"),
    resyncMs: 3_600_000,
  }, abort.signal);
  nb.get().catch(() => {});
  await ctl.synced();
  const initialMs = performance.now() - t0;
  const initialTx = ctl.stats.transactions;
  const initialPasses = ctl.stats.passes;
  const counts = await Promise.all(
    ["Port_Group", "ACL", "Address_Set"].map(async (t) =>
      (await ovn.nbctl("--bare", "--columns=_uuid", "list", t)).split("\n").filter(Boolean).length
    ),
  );

  const schema = await observer.getSchema("OVN_Northbound");
  const seen = await RowCache.start(observer, "OVN_Northbound", schema, {
    Address_Set: { columns: ["name", "addresses"] },
  });
  const nbMs: number[] = [];
  const sbMs: number[] = [];
  const txPer: number[] = [];
  const passMs: number[] = [];
  const writeMs: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const n = i % NAMESPACES;
    const p = (i * 7) % PODS_PER_NS;
    const ns = nsName(n);
    const pod = await k8s.api.get<KubeObject>(RESOURCES.pods, `pod-${p}`, ns);
    const role = pod.metadata.labels?.role === "frontend" ? "backend" : "frontend";
    const setName = peerSetName(ns, "web", "ingress", 0, 4);
    const ip = podIp(n, p);
    const want = role === "frontend";
    const txBefore = ctl.stats.transactions;
    const start = performance.now();
    const done = new Promise<void>((resolve) => {
      const check = () => {
        const row = [...seen.rows("Address_Set").values()].find((r) => r.name === setName);
        if (row && asStrings(row.addresses).includes(ip) === want) {
          off();
          resolve();
        }
      };
      const off = seen.onChange(check);
    });
    await k8s.api.patch(RESOURCES.pods, `pod-${p}`, { metadata: { labels: { role } } }, {
      namespace: ns,
    });
    await done;
    nbMs.push(performance.now() - start);
    await transactAndWait(observer, [], "sb");
    sbMs.push(performance.now() - start);
    await ctl.idle();
    txPer.push(ctl.stats.transactions - txBefore);
    passMs.push(ctl.stats.lastPassMs);
    writeMs.push(ctl.stats.lastWriteMs);
  }
  await seen.cancel();

  const rows: Array<[string, string]> = [
    [
      "pods / namespaces / policies",
      `${NAMESPACES * PODS_PER_NS} / ${NAMESPACES} / ${policies().length}`,
    ],
    ["NB rows: port groups / ACLs / address sets", counts.join(" / ")],
    ["initial sync (informers + first pass)", fmt(initialMs)],
    ["initial sync: passes / transactions", `${initialPasses} / ${initialTx}`],
    [
      `label change → NB (p50 / p99 / max, n=${CHANGES})`,
      `${fmt(pct(nbMs, 50))} / ${fmt(pct(nbMs, 99))} / ${fmt(Math.max(...nbMs))}`,
    ],
    [
      "label change → northd done (sb_cfg) p50 / p99",
      `${fmt(pct(sbMs, 50))} / ${fmt(pct(sbMs, 99))}`,
    ],
    [
      "OVSDB transactions per change (mean / max)",
      `${(txPer.reduce((a, b) => a + b, 0) / txPer.length).toFixed(2)} / ${Math.max(...txPer)}`,
    ],
    [
      "controller pass (desired + diff + write) p50 / p99",
      `${fmt(pct(passMs, 50))} / ${fmt(pct(passMs, 99))}`,
    ],
    [
      "  of which the NB transaction p50 / p99",
      `${fmt(pct(writeMs, 50))} / ${fmt(pct(writeMs, 99))}`,
    ],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\nnetpol convergence (${Deno.build.os}, ${navigator.hardwareConcurrency} cpus)`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
} finally {
  abort.abort();
  observer.close();
  nb.close();
  nbTopo.close();
  await k8s.close();
  await ovn.stop();
}
