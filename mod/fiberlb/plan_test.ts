import assert from "node:assert/strict";
import type { KubeObject } from "../kube/api.ts";
import type { LoadBalancer, Pool } from "./client.ts";
import type { DesiredLb, DesiredPool } from "./desired.ts";
import { CONDITION_TYPE, isEmptyPlan, planLoadBalancer, withCondition } from "./plan.ts";

const hc = {
  type: "HEALTH_CHECK_TCP" as const,
  path: "",
  interval_ms: 10_000,
  timeout_ms: 5000,
  retries: 3,
  port: 0,
};
const dpool = (
  name: string,
  members: Array<[string, number]>,
  o: Partial<DesiredPool> = {},
): DesiredPool => ({
  name,
  algorithm: "ROUND_ROBIN",
  session_affinity: "NONE",
  affinity_timeout_seconds: 0,
  health_check: hc,
  members: members.map(([address, port]) => ({ address, port, weight: 1 })),
  ...o,
});
const apool = (id: string, d: DesiredPool): Pool => ({
  ...d,
  id,
  load_balancer_id: "lb",
  revision: "1",
  members: d.members.map((m) => ({ ...m, health: "MEMBER_HEALTHY" as const })),
});

function desired(
  pools: DesiredPool[],
  listeners = pools.map((p) => ({
    name: p.name,
    protocol: "TCP" as const,
    port: Number(p.name.split("-")[1]),
    pool: p.name,
  })),
): DesiredLb {
  return {
    name: "k8s.c.ns.web",
    description: "d",
    externalIp: "192.0.2.1",
    tenant: { orgId: "", projectId: "" },
    sharingKey: "",
    labels: { a: "1" },
    listeners,
    pools,
  };
}

function actual(pools: Pool[], listeners: Array<[string, string, number, string]>): LoadBalancer {
  return {
    id: "lb",
    name: "k8s.c.ns.web",
    description: "d",
    external_ip: "192.0.2.1",
    org_id: "",
    project_id: "",
    ip_sharing_key: "",
    labels: { a: "1" },
    pools,
    listeners: listeners.map(([id, name, port, pool]) => ({
      id,
      name,
      protocol: "TCP",
      port,
      default_pool_id: pool,
      load_balancer_id: "lb",
      status: "LISTENER_ACTIVE",
      status_message: "",
    })),
    create_time: "",
    revision: "1",
  };
}

Deno.test("plan: converged state needs no call, member order does not matter", () => {
  const d = desired([dpool("tcp-80", [["10.0.0.1", 80], ["10.0.0.2", 80]])]);
  const a = actual([apool("p1", dpool("tcp-80", [["10.0.0.2", 80], ["10.0.0.1", 80]]))], [[
    "l1",
    "tcp-80",
    80,
    "p1",
  ]]);
  assert.ok(isEmptyPlan(planLoadBalancer(d, a)));
});

Deno.test("plan: a changed member set is one whole-pool update", () => {
  const d = desired([dpool("tcp-80", [["10.0.0.1", 80], ["10.0.0.3", 80], ["10.0.0.4", 80]])]);
  const a = actual([apool("p1", dpool("tcp-80", [["10.0.0.1", 80], ["10.0.0.2", 80]]))], [[
    "l1",
    "tcp-80",
    80,
    "p1",
  ]]);
  const plan = planLoadBalancer(d, a);
  assert.equal(plan.updatePools.length, 1);
  assert.deepEqual(plan.updatePools[0].pool.members.map((m) => m.address), [
    "10.0.0.1",
    "10.0.0.3",
    "10.0.0.4",
  ]);
  assert.deepEqual(
    [plan.createPools, plan.createListeners, plan.deleteListeners, plan.deletePools],
    [[], [], [], []],
  );
  for (
    const change of [
      { algorithm: "IP_HASH" as const },
      { session_affinity: "CLIENT_IP" as const, affinity_timeout_seconds: 60 },
      { health_check: { ...hc, retries: 5 } },
      { health_check: { ...hc, type: "HEALTH_CHECK_HTTP" as const, path: "/" } },
    ]
  ) {
    const p = planLoadBalancer(
      desired([dpool("tcp-80", [["10.0.0.1", 80]], change)]),
      actual([apool("p1", dpool("tcp-80", [["10.0.0.1", 80]]))], [["l1", "tcp-80", 80, "p1"]]),
    );
    assert.equal(p.updatePools.length, 1, JSON.stringify(change));
  }
  const weights = planLoadBalancer(
    desired([dpool("tcp-80", [["10.0.0.1", 80]])]),
    actual([
      apool("p1", {
        ...dpool("tcp-80", []),
        members: [{ address: "10.0.0.1", port: 80, weight: 2 }],
      }),
    ], [["l1", "tcp-80", 80, "p1"]]),
  );
  assert.equal(weights.updatePools.length, 1, "weight changes count");
});

Deno.test("plan: ports added, removed and re-pointed", () => {
  const d = desired([dpool("tcp-80", []), dpool("tcp-443", [])]);
  const a = actual(
    [apool("p1", dpool("tcp-80", [])), apool("p9", dpool("tcp-8080", []))],
    [["l1", "tcp-80", 80, "p9"], ["l9", "tcp-8080", 8080, "p9"]],
  );
  const plan = planLoadBalancer(d, a);
  assert.deepEqual(plan.createPools.map((p) => p.name), ["tcp-443"]);
  assert.deepEqual(plan.createListeners.map((l) => l.name), ["tcp-443"]);
  assert.deepEqual(plan.updateListeners.map((u) => [u.id, u.listener.pool]), [["l1", "tcp-80"]]);
  assert.deepEqual(plan.deleteListeners, ["l9"]);
  assert.deepEqual(plan.deletePools, ["p9"]);
  const renumbered = planLoadBalancer(
    desired([dpool("tcp-80", [])], [{ name: "tcp-80", protocol: "TCP", port: 81, pool: "tcp-80" }]),
    actual([apool("p1", dpool("tcp-80", []))], [["l1", "tcp-80", 80, "p1"]]),
  );
  assert.deepEqual([renumbered.deleteListeners, renumbered.createListeners.map((l) => l.port)], [[
    "l1",
  ], [81]]);
});

Deno.test("plan: metadata drift updates the load balancer", () => {
  const d = desired([]);
  assert.equal(planLoadBalancer(d, actual([], [])).updateLb, false);
  assert.equal(planLoadBalancer({ ...d, labels: { a: "2" } }, actual([], [])).updateLb, true);
  assert.equal(planLoadBalancer({ ...d, sharingKey: "k" }, actual([], [])).updateLb, true);
  assert.equal(planLoadBalancer({ ...d, description: "x" }, actual([], [])).updateLb, true);
});

Deno.test("conditions: ours replaced, others kept, transition time only moves on a flip", () => {
  const svc: KubeObject = {
    metadata: { name: "s", generation: 4 },
    status: {
      conditions: [
        { type: "other.io/X", status: "True", reason: "R", message: "", lastTransitionTime: "t0" },
        {
          type: CONDITION_TYPE,
          status: "False",
          reason: "IPExhausted",
          message: "m",
          lastTransitionTime: "t1",
        },
      ],
    },
  };
  const still = withCondition(svc, false, "IPExhausted", "m2", "t2");
  assert.deepEqual(still.map((c) => [c.type, c.lastTransitionTime]), [["other.io/X", "t0"], [
    CONDITION_TYPE,
    "t1",
  ]]);
  const flipped = withCondition(svc, true, "LoadBalancerReady", "ok", "t3");
  assert.deepEqual(flipped[1], {
    type: CONDITION_TYPE,
    status: "True",
    reason: "LoadBalancerReady",
    message: "ok",
    lastTransitionTime: "t3",
    observedGeneration: 4,
  });
});
