/**
 * The FiberLB controller against the test API server and the embedded FiberLB over real gRPC:
 * allocation, records, release on delete and on type change, requested IPs and their conflicts,
 * class filtering, sharing, exhaustion, annotation errors, pools by namespace, IPv6, tenancy.
 */
import assert from "node:assert/strict";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { ANNOTATIONS, FINALIZER } from "../mod/fiberlb/annotations.ts";
import {
  cluster,
  eventsOf,
  getService,
  ingressIp,
  lbCondition,
  waitForCondition,
  waitForIngress,
} from "./fiberlb_cluster.ts";
import { lbService, waitFor } from "./fiberlb_support.ts";

const api = (c: Awaited<ReturnType<typeof cluster>>) => c.server.api;

Deno.test("allocation, records, requested IPs, conflicts, release on delete and type change, classes", async () => {
  const c = await cluster("ctl-alloc", { externalIpPool: "192.0.2.0/24", clusterName: "t1" });
  try {
    c.startController();
    await api(c).create(RESOURCES.services, lbService("a"));
    assert.equal(await waitForIngress(c.server, "a"), "192.0.2.1");
    const a = await getService(c.server, "a");
    assert.equal(a.metadata.annotations?.[ANNOTATIONS.allocatedIp], "192.0.2.1");
    assert.ok(a.metadata.finalizers?.includes(FINALIZER));
    assert.equal(lbCondition(a)?.status, "True");
    const lb = await c.fiberlb.client.getLoadBalancer({ name: "k8s.t1.default.a" });
    assert.equal(a.metadata.annotations?.[ANNOTATIONS.loadBalancerId], lb.id);
    assert.equal(lb.external_ip, "192.0.2.1");
    assert.deepEqual(lb.listeners.map((l) => `${l.name} ${l.protocol}/${l.port}`), [
      "tcp-80 TCP/80",
    ]);
    assert.deepEqual(lb.pools.map((p) => [p.name, p.algorithm, p.health_check.type]), [[
      "tcp-80",
      "ROUND_ROBIN",
      "HEALTH_CHECK_TCP",
    ]]);

    await api(c).create(
      RESOURCES.services,
      lbService("b", { annotations: { [ANNOTATIONS.requestedIp]: "192.0.2.50" } }),
    );
    assert.equal(await waitForIngress(c.server, "b"), "192.0.2.50");
    await api(c).create(
      RESOURCES.services,
      lbService("c", { spec: { loadBalancerIP: "192.0.2.50" } }),
    );
    const conflict = await waitForCondition(c.server, "c", "IPConflict");
    assert.equal(conflict.status, "False");
    assert.match(
      conflict.message,
      /192\.0\.2\.50 is unavailable: 192\.0\.2\.50 is assigned to default\/b/,
    );
    assert.ok((await eventsOf(c.server, "c")).some((e) => e.startsWith("IPConflict:")));
    await api(c).create(
      RESOURCES.services,
      lbService("outside", { annotations: { [ANNOTATIONS.requestedIp]: "198.51.100.1" } }),
    );
    assert.match(
      (await waitForCondition(c.server, "outside", "RequestedIPNotInPool")).message,
      /not in pool "default"/,
    );

    // Other classes are not ours; our own class and no class are.
    await api(c).create(
      RESOURCES.services,
      lbService("other", { spec: { loadBalancerClass: "example.com/other" } }),
    );
    await api(c).create(
      RESOURCES.services,
      lbService("mine", { spec: { loadBalancerClass: "plasmacloud.io/fiberlb" } }),
    );
    assert.equal(await waitForIngress(c.server, "mine"), "192.0.2.2");
    const other = await getService(c.server, "other");
    assert.equal(ingressIp(other), undefined);
    assert.equal(other.metadata.finalizers, undefined);
    assert.equal(other.metadata.annotations?.[ANNOTATIONS.allocatedIp], undefined);

    // Deleting b frees .50 and the waiting Service c takes it without waiting for its backoff.
    await api(c).delete(RESOURCES.services, "b", "default");
    assert.equal(await waitForIngress(c.server, "c"), "192.0.2.50");
    await waitFor("b gone", async () => !(await api(c).tryGet(RESOURCES.services, "b", "default")));
    assert.equal(await c.fiberlb.client.findLoadBalancer({ name: "k8s.t1.default.b" }), undefined);

    // Type change: the load balancer goes, the address is released, our records are removed.
    const cur = await getService(c.server, "a");
    await api(c).patch(RESOURCES.services, "a", { spec: { type: "ClusterIP" } }, {
      namespace: "default",
      type: "merge",
    });
    const cleaned = await waitFor("a cleaned", async () => {
      const s = await getService(c.server, "a");
      return !s.metadata.finalizers?.includes(FINALIZER) && s;
    });
    assert.equal(ingressIp(cleaned), undefined);
    assert.equal(cleaned.metadata.annotations?.[ANNOTATIONS.allocatedIp], undefined);
    assert.equal(lbCondition(cleaned), undefined);
    assert.ok(cur.metadata.annotations?.[ANNOTATIONS.loadBalancerId]);
    assert.equal(await c.fiberlb.client.findLoadBalancer({ name: "k8s.t1.default.a" }), undefined);
    await api(c).create(RESOURCES.services, lbService("d"));
    assert.equal(await waitForIngress(c.server, "d"), "192.0.2.1", "released address is reused");

    const ips = (await c.fiberlb.client.listAll()).map((l) => l.external_ip).sort();
    assert.deepEqual(ips, ["192.0.2.1", "192.0.2.2", "192.0.2.50"]);
  } finally {
    await c.close();
  }
});

Deno.test("sharing one IP by key when ports do not clash", async () => {
  const c = await cluster("ctl-share", { externalIpPool: "192.0.2.10-192.0.2.20" });
  try {
    c.startController();
    const shared = { [ANNOTATIONS.allowSharedIp]: "web" };
    await api(c).create(RESOURCES.services, lbService("s1", { annotations: shared }));
    const ip1 = await waitForIngress(c.server, "s1");
    await api(c).create(
      RESOURCES.services,
      lbService("s2", {
        annotations: shared,
        ports: [{ name: "https", port: 443, targetPort: 8443, protocol: "TCP" }, {
          name: "dns",
          port: 80,
          protocol: "UDP",
        }],
      }),
    );
    assert.equal(await waitForIngress(c.server, "s2"), ip1, "same key, distinct ports: shared");
    await api(c).create(RESOURCES.services, lbService("s3", { annotations: shared }));
    const ip3 = await waitForIngress(c.server, "s3");
    assert.notEqual(ip3, ip1, "TCP/80 clashes with s1: another address");
    await api(c).create(
      RESOURCES.services,
      lbService("s4", {
        annotations: { [ANNOTATIONS.allowSharedIp]: "other" },
        ports: [{ port: 8080 }],
      }),
    );
    const ip4 = await waitForIngress(c.server, "s4");
    assert.ok(ip4 !== ip1 && ip4 !== ip3, "another key never shares");
    await api(c).create(RESOURCES.services, lbService("s5", { ports: [{ port: 9090 }] }));
    assert.ok(
      ![ip1, ip3, ip4].includes(await waitForIngress(c.server, "s5")),
      "no key never shares",
    );

    const lbs = await c.fiberlb.client.listAll();
    assert.equal(lbs.filter((l) => l.external_ip === ip1).length, 2);
    // Deleting one sharer keeps the address for the other.
    await api(c).delete(RESOURCES.services, "s1", "default");
    await waitFor(
      "s1 gone",
      async () => !(await api(c).tryGet(RESOURCES.services, "s1", "default")),
    );
    await api(c).create(RESOURCES.services, lbService("s6", { ports: [{ port: 7070 }] }));
    assert.notEqual(await waitForIngress(c.server, "s6"), ip1);
    assert.equal(ingressIp(await getService(c.server, "s2")), ip1);
  } finally {
    await c.close();
  }
});

Deno.test("exhaustion and annotation errors give an Event and a condition, and recover", async () => {
  const c = await cluster("ctl-exhaust", { externalIpPool: "192.0.2.10-192.0.2.11" });
  try {
    c.startController();
    await api(c).create(RESOURCES.services, lbService("e1"));
    await api(c).create(RESOURCES.services, lbService("e2"));
    await waitForIngress(c.server, "e1");
    await waitForIngress(c.server, "e2");
    await api(c).create(RESOURCES.services, lbService("e3"));
    const cond = await waitForCondition(c.server, "e3", "IPExhausted");
    assert.match(cond.message, /pool "default" has no free address \(2 addresses/);
    assert.ok((await eventsOf(c.server, "e3")).some((e) => e.startsWith("IPExhausted:")));
    assert.equal(ingressIp(await getService(c.server, "e3")), undefined);
    await api(c).delete(RESOURCES.services, "e1", "default");
    assert.equal(await waitForIngress(c.server, "e3"), "192.0.2.10");

    await api(c).create(
      RESOURCES.services,
      lbService("bad", {
        annotations: {
          [ANNOTATIONS.algorithm]: "fastest",
          [ANNOTATIONS.healthCheckInterval]: "soon",
          [ANNOTATIONS.healthCheckRetries]: "99",
        },
      }),
    );
    const bad = await waitForCondition(c.server, "bad", "InvalidAnnotation");
    assert.match(
      bad.message,
      /fiberlb\.plasmacloud\.io\/algorithm: "fastest" — expected one of round-robin, least-conn, ip-hash/,
    );
    assert.match(bad.message, /health-check-interval: "soon"/);
    assert.match(bad.message, /health-check-retries: "99" — expected an integer from 1 to 10/);
    assert.ok((await eventsOf(c.server, "bad")).some((e) => e.startsWith("InvalidAnnotation:")));
    // The invalid Service never took an address.
    assert.equal((await c.fiberlb.client.listAll()).length, 2);
    await api(c).delete(RESOURCES.services, "e2", "default");
    await api(c).patch(RESOURCES.services, "bad", {
      metadata: {
        annotations: {
          [ANNOTATIONS.algorithm]: "least-conn",
          [ANNOTATIONS.healthCheckInterval]: "2s",
          [ANNOTATIONS.healthCheckRetries]: "2",
          [ANNOTATIONS.healthCheckPath]: "/healthz",
          [ANNOTATIONS.sessionAffinity]: "client-ip",
        },
      },
    }, { namespace: "default", type: "merge" });
    await waitForIngress(c.server, "bad");
    const lb = await c.fiberlb.client.getLoadBalancer({ name: "k8s.default.default.bad" });
    assert.deepEqual(
      [lb.pools[0].algorithm, lb.pools[0].session_affinity, lb.pools[0].health_check],
      ["LEAST_CONN", "CLIENT_IP", {
        type: "HEALTH_CHECK_HTTP",
        path: "/healthz",
        interval_ms: 2000,
        timeout_ms: 2000,
        retries: 2,
        port: 0,
      }],
    );
  } finally {
    await c.close();
  }
});

Deno.test("pools by annotation and namespace, IPv6, tenant ids from the namespace", async () => {
  const c = await cluster("ctl-pools", {
    externalIpPool: "192.0.2.0/28",
    pools: ["blue=198.51.100.10-198.51.100.12", "v6=2001:db8:100::/120,203.0.113.5"],
  });
  try {
    c.startController();
    await api(c).create(RESOURCES.namespaces, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: "tenant-a",
        labels: { "plasmacloud.io/org-id": "org-1", "plasmacloud.io/project-id": "proj-9" },
        annotations: { [ANNOTATIONS.ipPool]: "blue" },
      },
    } as KubeObject);
    await api(c).create(RESOURCES.services, lbService("web", { namespace: "tenant-a" }));
    assert.equal(await waitForIngress(c.server, "web", "tenant-a"), "198.51.100.10");
    const lb = await c.fiberlb.client.getLoadBalancer({
      name: "k8s.default.tenant-a.web",
      org_id: "org-1",
      project_id: "proj-9",
    });
    assert.deepEqual([lb.org_id, lb.project_id], ["org-1", "proj-9"]);
    // A namespace bound to a pool keeps its Services in it.
    await api(c).create(
      RESOURCES.services,
      lbService("escape", {
        namespace: "tenant-a",
        annotations: { [ANNOTATIONS.ipPool]: "default" },
      }),
    );
    assert.match(
      (await waitForCondition(c.server, "escape", "InvalidAnnotation", "tenant-a")).message,
      /bound to pool "blue"/,
    );

    await api(c).create(
      RESOURCES.services,
      lbService("six", {
        annotations: { [ANNOTATIONS.ipPool]: "v6" },
        spec: { ipFamilies: ["IPv6"], ipFamilyPolicy: "SingleStack" },
      }),
    );
    assert.equal(await waitForIngress(c.server, "six"), "2001:db8:100::1");
    await api(c).create(
      RESOURCES.services,
      lbService("four", { annotations: { [ANNOTATIONS.ipPool]: "v6" } }),
    );
    assert.equal(
      await waitForIngress(c.server, "four"),
      "203.0.113.5",
      "IPv4 Service prefers the pool's IPv4 range",
    );
    await api(c).create(
      RESOURCES.services,
      lbService("nopool", { annotations: { [ANNOTATIONS.ipPool]: "green" } }),
    );
    assert.match(
      (await waitForCondition(c.server, "nopool", "IPPoolNotFound")).message,
      /pool "green" named by annotation/,
    );
    await api(c).create(
      RESOURCES.services,
      lbService("sctp", { ports: [{ port: 5000, protocol: "SCTP" }] }),
    );
    assert.match(
      (await waitForCondition(c.server, "sctp", "UnsupportedProtocol")).message,
      /TCP and UDP only/,
    );
    // Relabelling the namespace moves the load balancer to the new tenant, keeping the address.
    await api(c).patch(RESOURCES.namespaces, "tenant-a", {
      metadata: { labels: { "plasmacloud.io/project-id": "proj-10" } },
    }, { type: "merge" });
    await waitFor(
      "load balancer under the new project",
      async () =>
        (await c.fiberlb.client.findLoadBalancer({
          name: "k8s.default.tenant-a.web",
          org_id: "org-1",
          project_id: "proj-10",
        }))
          ?.external_ip === "198.51.100.10",
    );
    assert.equal(
      (await c.fiberlb.client.listAll({ name: "k8s.default.tenant-a.web" })).length,
      1,
      "the old tenant's copy is gone",
    );
  } finally {
    await c.close();
  }
});
