/**
 * NetworkPolicy → OVN, judged by OVN itself: policies translated and written to a real NB,
 * northd compiles them, and `ovn-trace --ct=new` says for each flow whether a new connection
 * reaches the destination's logical port. Every verdict in the table is asserted.
 */
import assert from "node:assert/strict";
import { desiredState } from "../mod/netpol/desired.ts";
import { namespaceInfos, podInfos } from "../mod/netpol/inputs.ts";
import { NETPOL_TABLES, podPorts, reconcileNb } from "../mod/netpol/reconcile.ts";
import type { NetworkPolicy } from "../mod/netpol/types.ts";
import { KEYS, OWNER, OWNER_KEY } from "../mod/netpol/names.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { OvsdbClient, RowCache } from "../mod/ovsdb/mod.ts";
import { startOvn } from "./support/ovn.ts";
import { PodWorld, tcp, udp } from "./netpol_support.ts";

const np = (namespace: string, name: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { namespace, name },
  spec,
});

const POLICIES: NetworkPolicy[] = [
  np("np-a", "web-80", {
    podSelector: { matchLabels: { app: "web" } },
    ingress: [{
      from: [{ podSelector: { matchLabels: { app: "frontend" } } }],
      ports: [{ protocol: "TCP", port: 80 }],
    }],
  }),
  np("np-a", "api-blocks", {
    podSelector: { matchLabels: { app: "api" } },
    ingress: [{ from: [{ ipBlock: { cidr: "10.91.0.0/16", except: ["10.91.2.0/24"] } }] }],
  }),
  np("np-a", "vault-ns", {
    podSelector: { matchLabels: { app: "vault" } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } } }] }],
  }),
  np("np-a", "locked-egress", {
    podSelector: { matchLabels: { app: "locked" } },
    policyTypes: ["Egress"],
    egress: [{
      to: [{
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
      }],
      ports: [{ protocol: "UDP", port: 53 }],
    }],
  }),
  np("np-c", "named", {
    podSelector: { matchLabels: { app: "svc" } },
    ingress: [{ ports: [{ port: "metrics" }, { protocol: "TCP", port: 9000, endPort: 9009 }] }],
  }),
];

const WORLD = {
  namespaces: {
    "np-a": [1, { team: "a" }] as [number, Record<string, string>],
    "np-b": [2, { team: "b" }] as [number, Record<string, string>],
    "np-c": [3, { team: "c" }] as [number, Record<string, string>],
    "kube-system": [4, {}] as [number, Record<string, string>],
  },
  pods: {
    "np-a/web": [10, { app: "web" }],
    "np-a/frontend": [11, { app: "frontend" }],
    "np-a/db": [12, { app: "db" }],
    "np-a/api": [13, { app: "api" }],
    "np-a/vault": [14, { app: "vault" }],
    "np-a/locked": [15, { app: "locked" }],
    "np-b/client": [10, { app: "client" }],
    "np-c/client": [10, { app: "client" }],
    "np-c/svc": [11, { app: "svc" }, [{ name: "metrics", containerPort: 9100 }]],
    "kube-system/dns": [10, { "k8s-app": "kube-dns" }],
  } as Record<
    string,
    [number, Record<string, string>, Array<{ name: string; containerPort: number }>?]
  >,
};

/** [from, to, l4, expected verdict, why] */
const TABLE: Array<[string, string, string, "allow" | "drop", string]> = [
  ["np-a/frontend", "np-a/web", tcp(80), "allow", "from the address set to port 80"],
  ["np-a/frontend", "np-a/web", tcp(22), "drop", "port 22 is not allowed"],
  ["np-a/db", "np-a/web", tcp(80), "drop", "a pod outside the selector"],
  ["np-b/client", "np-a/web", tcp(80), "drop", "a podSelector alone means the policy's namespace"],
  ["np-a/db", "np-a/api", tcp(443), "allow", "inside the ipBlock"],
  ["np-b/client", "np-a/api", tcp(443), "drop", "inside the ipBlock's except"],
  ["np-c/client", "np-a/api", tcp(443), "allow", "inside the ipBlock, outside the except"],
  ["np-b/client", "np-a/vault", tcp(8200), "allow", "namespace selector team=b"],
  ["np-c/client", "np-a/vault", tcp(8200), "drop", "namespace selector team=b, not c"],
  ["np-a/locked", "kube-system/dns", udp(53), "allow", "egress to DNS"],
  ["np-a/locked", "kube-system/dns", tcp(53), "drop", "egress DNS is UDP only"],
  ["np-a/locked", "np-b/client", tcp(80), "drop", "egress deny"],
  ["np-b/client", "np-c/client", tcp(80), "allow", "pods no policy selects are not isolated"],
  ["np-a/locked", "np-a/db", tcp(5432), "drop", "egress deny within the namespace"],
  ["np-b/client", "np-c/svc", tcp(9100), "allow", "named port resolved to the container port"],
  ["np-b/client", "np-c/svc", tcp(9005), "allow", "inside port..endPort"],
  ["np-b/client", "np-c/svc", tcp(9010), "drop", "past endPort"],
];

Deno.test("netpol trace: ovn-trace --ct=new verdicts for a table of policies", async () => {
  const ovn = await startOvn({ chassis: false });
  const world = new PodWorld(ovn, "10.91");
  const client = await OvsdbClient.connect(ovn.nb);
  try {
    await world.build(WORLD);
    const cache = await RowCache.start(
      client,
      "OVN_Northbound",
      await client.getSchema("OVN_Northbound"),
      structuredClone(NETPOL_TABLES),
    );
    const nsObjs: KubeObject[] = Object.entries(WORLD.namespaces).map(([name, [, labels]]) => ({
      metadata: { name, labels },
    }));
    const apply = async (policies: NetworkPolicy[], pods = world.objects()) => {
      const desired = desiredState({
        policies,
        pods: podInfos(pods, podPorts(cache)),
        namespaces: namespaceInfos(nsObjs),
      });
      assert.deepEqual(desired.problems, []);
      const res = await reconcileNb(cache, desired);
      await ovn.nbctl("--wait=sb", "sync");
      return res;
    };
    // Baseline before any policy: everything reaches everything.
    assert.equal(await world.verdict("np-a/db", "np-a/web", tcp(80)), "allow");
    const first = await apply(POLICIES);
    assert.equal(first.transactions, 1, "the whole policy set goes in one transaction");

    const failures: string[] = [];
    for (const [from, to, l4, want, why] of TABLE) {
      const got = await world.verdict(from, to, l4);
      if (got !== want) failures.push(`${from} → ${to} (${l4}): ${got}, want ${want} — ${why}`);
    }
    assert.deepEqual(failures, []);

    // A second pass over an unchanged world writes nothing.
    assert.equal((await apply(POLICIES)).transactions, 0);

    // A label change moves the db pod into the frontend address set.
    const relabeled = world.objects().map((o) =>
      o.metadata.name === "db" && o.metadata.namespace === "np-a"
        ? { ...o, metadata: { ...o.metadata, labels: { app: "frontend" } } }
        : o
    );
    const change = await apply(POLICIES, relabeled);
    assert.equal(change.transactions, 1);
    assert.equal(await world.verdict("np-a/db", "np-a/web", tcp(80)), "allow");

    // Deleting the policies removes every row the controller owns, ACLs included.
    await apply([]);
    const owned =
      JSON.parse(await ovn.nbctl("--format=json", "--columns=external_ids", "list", "ACL")).data;
    assert.equal(owned.length, 0);
    for (const table of ["Port_Group", "Address_Set"]) {
      const rows = JSON.parse(
        await ovn.nbctl("--format=json", "--columns=external_ids", "list", table),
      ).data as unknown[][];
      assert.equal(
        rows.filter((r) => JSON.stringify(r).includes(`"${OWNER_KEY}","${OWNER}"`)).length,
        0,
        table,
      );
    }
    assert.equal(await world.verdict("np-a/db", "np-a/web", tcp(22)), "allow");
    await cache.cancel();
  } catch (e) {
    console.error(await ovn.logTail());
    throw e;
  } finally {
    client.close();
    world.close();
    await ovn.stop();
  }
});

Deno.test("netpol trace: a resync repairs tampered and deleted rows by external_ids", async () => {
  const ovn = await startOvn({ chassis: false });
  const world = new PodWorld(ovn, "10.92");
  const client = await OvsdbClient.connect(ovn.nb);
  try {
    await world.build({
      namespaces: { "np-a": [1, {}] },
      pods: {
        "np-a/web": [10, { app: "web" }],
        "np-a/frontend": [11, { app: "frontend" }],
        "np-a/db": [12, { app: "db" }],
      },
    });
    const cache = await RowCache.start(
      client,
      "OVN_Northbound",
      await client.getSchema("OVN_Northbound"),
      structuredClone(NETPOL_TABLES),
    );
    const desired = () =>
      desiredState({
        policies: POLICIES.slice(0, 1),
        pods: podInfos(world.objects(), podPorts(cache)),
        namespaces: [],
      });
    await reconcileNb(cache, desired());
    const id = "NetworkPolicy:np-a:web-80:ingress:0";
    // Someone loosens our ACL, empties our address set and deletes the default-deny group.
    await ovn.nbctl(
      "--",
      "set",
      "ACL",
      (await ovn.nbctl(
        "--bare",
        "--columns=_uuid",
        "find",
        "ACL",
        `external_ids:"${KEYS.id}"="${id}"`,
      )).trim(),
      'match="1"',
    );
    const asName = (await ovn.nbctl(
      "--bare",
      "--columns=name",
      "find",
      "Address_Set",
      `external_ids:"${KEYS.direction}"=ingress`,
    )).trim().split("\n").find((n) => n.endsWith("_v4"))!;
    await ovn.nbctl("clear", "Address_Set", asName, "addresses");
    const deny = (await ovn.nbctl(
      "--bare",
      "--columns=name",
      "find",
      "Port_Group",
      `external_ids:"${KEYS.direction}"=ingress`,
    )).trim();
    await ovn.nbctl("pg-del", deny);
    await ovn.nbctl("--wait=sb", "sync");
    assert.equal(
      await world.verdict("np-a/db", "np-a/web", tcp(80)),
      "allow",
      "tampering took effect",
    );

    const repair = await reconcileNb(cache, desired());
    assert.equal(repair.transactions, 1);
    assert.ok(repair.plan.counts.updated >= 1 && repair.plan.counts.inserted >= 1);
    await ovn.nbctl("--wait=sb", "sync");
    assert.equal(await world.verdict("np-a/db", "np-a/web", tcp(80)), "drop");
    assert.equal(await world.verdict("np-a/frontend", "np-a/web", tcp(80)), "allow");
    assert.equal((await reconcileNb(cache, desired())).transactions, 0);
    await cache.cancel();
  } catch (e) {
    console.error(await ovn.logTail());
    throw e;
  } finally {
    client.close();
    world.close();
    await ovn.stop();
  }
});
