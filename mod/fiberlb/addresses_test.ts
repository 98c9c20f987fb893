import assert from "node:assert/strict";
import type { KubeObject } from "../kube/api.ts";
import { AllocationTable } from "./allocations.ts";
import { ANNOTATIONS, FINALIZER } from "./annotations.ts";
import type { LoadBalancer } from "./client.ts";
import {
  decideAddress,
  hasOurRecord,
  isServed,
  lbName,
  preferredFamily,
  rebuildAllocations,
  recordedIp,
  selectPool,
  tenantOf,
} from "./desired.ts";
import { parsePools } from "./pools.ts";
import { CLASS, holder, opts, pool, svc } from "./testing.ts";
import type { Holder } from "./allocations.ts";

Deno.test("isServed / hasOurRecord / names / tenants", () => {
  assert.ok(isServed(svc("a"), CLASS));
  assert.ok(isServed(svc("a", { spec: { loadBalancerClass: CLASS } }), CLASS));
  assert.ok(!isServed(svc("a", { spec: { loadBalancerClass: "other.io/lb" } }), CLASS));
  assert.ok(!isServed(svc("a", { spec: { type: "ClusterIP" } }), CLASS));
  assert.ok(!hasOurRecord(svc("a")));
  assert.ok(hasOurRecord(svc("a", { meta: { finalizers: [FINALIZER] } })));
  assert.ok(hasOurRecord(svc("a", { annotations: { [ANNOTATIONS.allocatedIp]: "192.0.2.1" } })));
  assert.equal(lbName("c1", "ns", "web"), "k8s.c1.ns.web");
  assert.deepEqual(
    tenantOf({
      metadata: {
        name: "ns",
        labels: { "plasmacloud.io/org-id": "o", "plasmacloud.io/project-id": "p" },
      },
    }),
    { orgId: "o", projectId: "p" },
  );
  assert.deepEqual(tenantOf(undefined), { orgId: "", projectId: "" });
});

Deno.test("selectPool: annotation, namespace annotation, namespace label, default, errors", () => {
  const { pools } = parsePools({
    externalIpPool: "192.0.2.0/24",
    pools: ["blue=198.51.100.0/24", "red=203.0.113.0/24"],
  });
  const ns = (m: Record<string, unknown>) => ({ metadata: { name: "team", ...m } });
  const pick = (s: KubeObject, n?: KubeObject) => {
    const r = selectPool(opts(s), n, pools);
    return "pool" in r ? r.pool.name : `${r.problem.reason}: ${r.problem.message}`;
  };
  const annotated = svc("a", { annotations: { [ANNOTATIONS.ipPool]: "blue" } });
  assert.equal(pick(svc("a")), "default");
  assert.equal(pick(annotated), "blue");
  assert.equal(pick(svc("a"), ns({ annotations: { [ANNOTATIONS.ipPool]: "red" } })), "red");
  assert.equal(pick(svc("a"), ns({ labels: { [ANNOTATIONS.ipPool]: "red" } })), "red");
  assert.equal(
    pick(
      svc("a", { annotations: { [ANNOTATIONS.ipPool]: "red" } }),
      ns({ labels: { [ANNOTATIONS.ipPool]: "red" } }),
    ),
    "red",
  );
  assert.match(
    pick(annotated, ns({ labels: { [ANNOTATIONS.ipPool]: "red" } })),
    /^InvalidAnnotation: .*namespace team is bound to pool "red"/,
  );
  assert.match(
    pick(svc("a", { annotations: { [ANNOTATIONS.ipPool]: "green" } })),
    /^IPPoolNotFound: pool "green" named by annotation .* \(known: default, blue, red\)/,
  );
  assert.match(
    pick(svc("a"), ns({ labels: { [ANNOTATIONS.ipPool]: "green" } })),
    /^IPPoolNotFound: pool "green" named by namespace team/,
  );
  const none = selectPool(opts(svc("a")), undefined, new Map());
  assert.ok("problem" in none && none.problem.reason === "NoIPPool");
});

Deno.test("decideAddress: allocate lowest free, keep, request, share, exhaust", () => {
  const t = new AllocationTable();
  const p = pool("192.0.2.1-192.0.2.3");
  const dec = (s: KubeObject, h: Holder) => {
    const d = decideAddress(h, opts(s), p, t);
    return "ip" in d ? `${d.how} ${d.ip}` : `${d.problem.reason}: ${d.problem.message}`;
  };
  assert.equal(dec(svc("a"), holder("n/a")), "allocated 192.0.2.1");
  t.assign("192.0.2.1", holder("n/a"));
  assert.equal(dec(svc("a"), holder("n/a")), "kept 192.0.2.1");
  assert.equal(dec(svc("b"), holder("n/b")), "allocated 192.0.2.2");
  const req = (ip: string) => svc("r", { annotations: { [ANNOTATIONS.requestedIp]: ip } });
  assert.equal(dec(req("192.0.2.3"), holder("n/r")), "requested 192.0.2.3");
  assert.equal(
    dec(req("192.0.2.1"), holder("n/r")),
    "IPConflict: requested IP 192.0.2.1 is unavailable: 192.0.2.1 is assigned to n/a",
  );
  assert.equal(
    dec(req("192.0.2.9"), holder("n/r")),
    'RequestedIPNotInPool: requested IP 192.0.2.9 is not in pool "default"',
  );
  assert.equal(dec(req("192.0.2.1"), holder("n/a")), "kept 192.0.2.1", "requesting what it holds");

  const shared = svc("s", { annotations: { [ANNOTATIONS.allowSharedIp]: "k" } });
  t.assign("192.0.2.2", holder("n/s1", { sharingKey: "k" }));
  assert.equal(
    dec(shared, holder("n/s2", { sharingKey: "k", ports: ["TCP/443"] })),
    "shared 192.0.2.2",
  );
  assert.equal(
    dec(shared, holder("n/s2", { sharingKey: "k" })),
    "allocated 192.0.2.3",
    "port clash: own address",
  );
  t.assign("192.0.2.3", holder("n/c"));
  assert.equal(
    dec(svc("d"), holder("n/d")),
    'IPExhausted: pool "default" has no free address (3 addresses, all assigned)',
  );
});

Deno.test("decideAddress: moves off an address that left the pool or can no longer be shared", () => {
  const t = new AllocationTable();
  t.assign("198.51.100.7", holder("n/a"));
  const d = decideAddress(holder("n/a"), opts(svc("a")), pool("192.0.2.1-192.0.2.2"), t);
  assert.deepEqual(d, { ip: "192.0.2.1", how: "allocated" });
  // b shared .1 with a; b's sharing key is then removed.
  t.assign("192.0.2.1", holder("n/x", { sharingKey: "k" }));
  t.assign("192.0.2.1", holder("n/b", { sharingKey: "k", ports: ["TCP/443"] }));
  const moved = decideAddress(
    holder("n/b", { ports: ["TCP/443"] }),
    opts(svc("b")),
    pool("192.0.2.1-192.0.2.2"),
    t,
  );
  assert.deepEqual(moved, { ip: "192.0.2.2", how: "allocated" });
});

Deno.test("decideAddress: the Service's first IP family is preferred", () => {
  const p = pool("192.0.2.1", "2001:db8::1");
  const six = svc("v6", { spec: { ipFamilies: ["IPv6"] } });
  assert.deepEqual(
    decideAddress(holder("n/v6"), opts(six), p, new AllocationTable(), preferredFamily(six)),
    { ip: "2001:db8::1", how: "allocated" },
  );
  assert.deepEqual(
    decideAddress(
      holder("n/v4"),
      opts(svc("v4")),
      p,
      new AllocationTable(),
      preferredFamily(svc("v4", { spec: { ipFamilies: ["IPv4"] } })),
    ),
    { ip: "192.0.2.1", how: "allocated" },
  );
  assert.equal(preferredFamily(svc("none")), undefined);
});

function lb(
  id: string,
  ip: string,
  labels: Record<string, string>,
  o: Partial<LoadBalancer> = {},
): LoadBalancer {
  return {
    id,
    name: id,
    description: "",
    external_ip: ip,
    org_id: "",
    project_id: "",
    ip_sharing_key: "",
    labels,
    listeners: [],
    pools: [],
    create_time: "",
    revision: "1",
    ...o,
  };
}

Deno.test("rebuildAllocations: FiberLB first, then Service records oldest first", () => {
  const mine = (k: string) => ({
    "k8shost.plasmacloud.io/cluster": "c1",
    "k8shost.plasmacloud.io/service": k,
  });
  const lbs = [
    lb("lb-1", "192.0.2.1", mine("default/a"), {
      listeners: [{
        id: "l",
        load_balancer_id: "lb-1",
        name: "tcp-80",
        protocol: "TCP",
        port: 80,
        default_pool_id: "",
        status: "LISTENER_ACTIVE",
        status_message: "",
      }],
    }),
    lb("lb-2", "192.0.2.2", {}),
    lb("lb-3", "192.0.2.3", mine("default/a")), // a second copy for one Service (stale tenant)
    lb("lb-4", "192.0.2.4", {
      "k8shost.plasmacloud.io/cluster": "other",
      "k8shost.plasmacloud.io/service": "default/z",
    }),
  ];
  const at = (ts: string) => ({ creationTimestamp: ts });
  const services = [
    svc("young", {
      annotations: { [ANNOTATIONS.allocatedIp]: "192.0.2.9" },
      meta: at("2024-01-02T00:00:00Z"),
    }),
    svc("old", {
      annotations: { [ANNOTATIONS.allocatedIp]: "192.0.2.9" },
      meta: at("2024-01-01T00:00:00Z"),
    }),
    svc("copy", {
      annotations: { [ANNOTATIONS.allocatedIp]: "192.0.2.1" },
      meta: at("2023-01-01T00:00:00Z"),
    }),
    svc("a", { annotations: { [ANNOTATIONS.allocatedIp]: "192.0.2.7" } }),
    svc("st", {
      meta: { finalizers: [FINALIZER] },
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.8" }] } },
    }),
    svc("foreign-status", { status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } }),
  ];
  const { table, conflicts } = rebuildAllocations("c1", lbs, services, () => undefined);
  assert.equal(table.ipOf("default/a"), "192.0.2.1", "FiberLB beats the annotation");
  assert.deepEqual(table.holders("192.0.2.1")[0].ports, ["TCP/80"]);
  assert.equal(table.ipOf("fiberlb:lb-2"), "192.0.2.2");
  assert.equal(table.ipOf("fiberlb:lb-3"), "192.0.2.3", "a second copy still reserves its address");
  assert.equal(table.ipOf("fiberlb:lb-4"), "192.0.2.4", "another cluster's address is foreign");
  assert.equal(table.ipOf("default/old"), "192.0.2.9");
  assert.equal(table.ipOf("default/young"), undefined);
  assert.equal(table.ipOf("default/copy"), undefined);
  assert.equal(
    table.ipOf("default/st"),
    "192.0.2.8",
    "our status counts when the finalizer is ours",
  );
  assert.equal(table.isUsed("192.0.2.10"), false, "a status we never wrote is not a record");
  assert.deepEqual(conflicts.map((x) => `${x.key} ${x.ip}`).sort(), [
    "default/copy 192.0.2.1",
    "default/young 192.0.2.9",
  ]);
  assert.equal(
    recordedIp(svc("x", { annotations: { [ANNOTATIONS.allocatedIp]: "2001:DB8::1" } })),
    "2001:db8::1",
  );
});
