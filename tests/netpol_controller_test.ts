/**
 * The NetworkPolicy controller end to end on the control plane side: the test API server
 * (pods, namespaces, policies), a real OVN NB + northd, and ovn-trace verdicts that follow
 * policy, pod-label and namespace-label changes — including the tenancy default policies.
 */
import assert from "node:assert/strict";
import { configureLogging, logger } from "../mod/log/mod.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { NETPOL_TABLES, runNetpolController } from "../mod/netpol/mod.ts";
import { OWNER, OWNER_KEY } from "../mod/netpol/names.ts";
import { OvsdbSession } from "../mod/ovsdb/mod.ts";
import { desiredForProject } from "../mod/tenancy/desired.ts";
import { namespaceFor, type Project } from "../mod/tenancy/project.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { startOvn } from "./support/ovn.ts";
import { PodWorld, tcp, udp } from "./netpol_support.ts";

configureLogging({ level: "error" });
const project: Project = {
  apiVersion: "plasmacloud.io/v1",
  kind: "Project",
  metadata: { name: "p1" },
  spec: { orgId: "org-1", projectId: "p1" },
} as Project;
const tenantNs = namespaceFor("p1");

Deno.test("netpol controller: policies, label changes and tenancy defaults reach OVN", async () => {
  const ovn = await startOvn({ chassis: false });
  const k8s = await startTestApiServer();
  const world = new PodWorld(ovn, "10.93");
  const nb = new OvsdbSession(ovn.nb, "OVN_Northbound", { cache: NETPOL_TABLES });
  const abort = new AbortController();
  try {
    const namespaces: Record<string, [number, Record<string, string>]> = {
      "np-a": [1, { team: "a" }],
      "np-b": [2, { team: "b" }],
      "np-c": [3, { team: "c" }],
      "kube-system": [4, {}],
      [tenantNs]: [5, {}],
    };
    await world.build({
      namespaces,
      pods: {
        "np-a/web": [10, { app: "web" }],
        "np-a/frontend": [11, { app: "frontend" }],
        "np-a/db": [12, { app: "db" }],
        "np-a/vault": [14, { app: "vault" }],
        "np-b/client": [10, { app: "client" }],
        "np-c/client": [10, { app: "client" }],
        "kube-system/dns": [10, { "k8s-app": "kube-dns" }],
        [`${tenantNs}/app`]: [10, { app: "tenant" }],
      },
    });
    for (const [name, [, labels]] of Object.entries(namespaces)) {
      if (name === "kube-system") continue;
      await k8s.api.create(RESOURCES.namespaces, { metadata: { name, labels } });
    }
    for (const pod of world.objects()) await k8s.api.create(RESOURCES.pods, pod);

    const ctl = runNetpolController(
      { api: k8s.api, nb, log: logger("netpol-test"), resyncMs: 60_000 },
      abort.signal,
    );
    nb.get().catch(() => {});
    await ctl.synced();
    const expect = async (from: string, to: string, l4: string, want: "allow" | "drop") => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        await ctl.idle();
        await ovn.nbctl("--wait=sb", "sync");
        const got = await world.verdict(from, to, l4);
        if (got === want) return;
        if (Date.now() > deadline) assert.fail(`${from} → ${to} ${l4}: ${got}, want ${want}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await expect("np-a/db", "np-a/web", tcp(80), "allow");

    await k8s.api.create(RESOURCES.networkPolicies, {
      metadata: { namespace: "np-a", name: "web-80" },
      spec: {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [{
          from: [{ podSelector: { matchLabels: { app: "frontend" } } }],
          ports: [{ port: 80 }],
        }],
      },
    });
    await k8s.api.create(RESOURCES.networkPolicies, {
      metadata: { namespace: "np-a", name: "vault-ns" },
      spec: {
        podSelector: { matchLabels: { app: "vault" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } } }] }],
      },
    });
    await expect("np-a/db", "np-a/web", tcp(80), "drop");
    await expect("np-a/frontend", "np-a/web", tcp(80), "allow");
    await expect("np-c/client", "np-a/vault", tcp(8200), "drop");

    // Pod label change: db joins the frontend address set.
    const txBefore = ctl.stats.transactions;
    const t0 = Date.now();
    await k8s.api.patch(RESOURCES.pods, "db", { metadata: { labels: { app: "frontend" } } }, {
      namespace: "np-a",
    });
    await expect("np-a/db", "np-a/web", tcp(80), "allow");
    console.log(
      `  label change converged in ${Date.now() - t0}ms, ${
        ctl.stats.transactions - txBefore
      } transaction(s)`,
    );
    assert.ok(ctl.stats.transactions - txBefore <= 2);

    // The NB connection drops: the controller reconnects, reloads its cache and carries on.
    (await nb.get()).client.close("test: connection dropped");
    await k8s.api.patch(RESOURCES.pods, "db", { metadata: { labels: { app: "db" } } }, {
      namespace: "np-a",
    });
    await expect("np-a/db", "np-a/web", tcp(80), "drop");
    assert.ok(nb.connects >= 2, `reconnected (${nb.connects} connections)`);

    // Namespace label change: np-c becomes team=b and may reach the vault.
    await k8s.api.patch(RESOURCES.namespaces, "np-c", { metadata: { labels: { team: "b" } } });
    await expect("np-c/client", "np-a/vault", tcp(8200), "allow");

    // The tenancy default policies: deny all but DNS to kube-system.
    for (const obj of desiredForProject(project, { defaultNetworkPolicies: true })) {
      if (obj.kind === "NetworkPolicy") {
        await k8s.api.create(RESOURCES.networkPolicies, obj as KubeObject);
      }
    }
    await expect(`${tenantNs}/app`, "kube-system/dns", udp(53), "allow");
    await expect(`${tenantNs}/app`, "kube-system/dns", tcp(53), "allow");
    await expect(`${tenantNs}/app`, "np-b/client", tcp(80), "drop");
    await expect("np-b/client", `${tenantNs}/app`, tcp(80), "drop");
    await expect(`${tenantNs}/app`, "kube-system/dns", udp(5353), "drop");

    // A pod port that appears after its policy (CNI ADD later) joins the groups by itself.
    await world.topology.ensureNamespaceSwitch({
      namespace: "np-a",
      subnets: [{ cidr: "10.93.1.0/24", gateway: "10.93.1.1" }],
    });
    await world.build({
      namespaces: { "np-a": [1, {}] },
      pods: { "np-a/web2": [20, { app: "web" }] },
    });
    await k8s.api.create(RESOURCES.pods, world.objects().find((p) => p.metadata.name === "web2")!);
    await expect("np-b/client", "np-a/web2", tcp(80), "drop");

    // Deleting every policy deletes every row the controller owns.
    for (const p of (await k8s.api.list(RESOURCES.networkPolicies)).items) {
      await k8s.api.delete(RESOURCES.networkPolicies, p.metadata.name!, p.metadata.namespace);
    }
    await expect("np-c/client", "np-a/web", tcp(22), "allow");
    await ctl.idle();
    for (const table of ["Port_Group", "Address_Set", "ACL"]) {
      const out = await ovn.nbctl(
        "--bare",
        "--columns=_uuid",
        "find",
        table,
        `external_ids:"${OWNER_KEY}"=${OWNER}`,
      );
      assert.equal(out.trim(), "", `${table} rows left`);
    }

    // A deleted namespace whose pods are gone loses its switch and router port.
    await world.topology.removePodPort(world.pod("np-c/client").lsp);
    await k8s.api.delete(RESOURCES.namespaces, "np-c");
    const gone = Date.now() + 10_000;
    while (
      (await ovn.nbctl("--bare", "--columns=name", "find", "Logical_Switch", "name=k8s-np-c"))
        .trim()
    ) {
      assert.ok(Date.now() < gone, "switch k8s-np-c still there");
      ctl.resync();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(
      (await ovn.nbctl(
        "--bare",
        "--columns=name",
        "find",
        "Logical_Router_Port",
        "name=rtos-k8s-np-c",
      )).trim(),
      "",
    );
    assert.ok(
      (await ovn.nbctl("--bare", "--columns=name", "find", "Logical_Switch", "name=k8s-np-a"))
        .trim(),
    );
  } catch (e) {
    console.error(await ovn.logTail());
    throw e;
  } finally {
    abort.abort();
    nb.close();
    world.close();
    await k8s.close();
    await ovn.stop();
  }
});
