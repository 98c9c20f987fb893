/**
 * Endpoint churn is debounced into whole-pool updates; restarts in the middle of churn never
 * hand one address to two Services; records that collide are resolved in favour of FiberLB;
 * orphaned load balancers are garbage-collected and foreign ones are never taken over.
 */
import assert from "node:assert/strict";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { ANNOTATIONS, FINALIZER } from "../mod/fiberlb/annotations.ts";
import { FiberlbClient } from "../mod/fiberlb/client.ts";
import { runFiberlbController } from "../mod/fiberlb/controller.ts";
import { parsePools } from "../mod/fiberlb/pools.ts";
import { startEmbeddedFiberlb } from "../mod/fiberlbd/mod.ts";
import { logger } from "../mod/log/mod.ts";
import { cluster, getService, ingressIp, waitForIngress } from "./fiberlb_cluster.ts";
import {
  endpointSlice,
  fiberlbConfig,
  lbRequest,
  lbService,
  tempDir,
  waitFor,
} from "./fiberlb_support.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";

Deno.test("endpoint churn is debounced and applied as whole-pool updates", async () => {
  const c = await cluster("churn", { externalIpPool: "192.0.2.0/24", endpointDebounce: "300ms" });
  try {
    c.startController();
    const api = c.server.api;
    await api.create(RESOURCES.services, lbService("web"));
    await api.create(RESOURCES.endpointSlices, endpointSlice("web", ["10.1.0.1"]));
    await waitForIngress(c.server, "web");
    const members = async () =>
      (await c.fiberlb.client.getLoadBalancer({ name: "k8s.default.default.web" })).pools[0]
        .members;
    await waitFor("first member", async () => (await members()).length === 1);
    const calls = () => c.fiberlb.lb.service.calls.get("UpdatePool") ?? 0;
    const before = calls();

    // 30 changes in quick succession: endpoints appear one by one, some flap unready.
    for (let n = 2; n <= 30; n++) {
      const cur = await api.get<KubeObject>(RESOURCES.endpointSlices, "web-abc", "default");
      const ips = Array.from(
        { length: n },
        (_, i) => ({ ip: `10.1.0.${i + 1}`, ready: !(n % 7 === 0 && i === 0) }),
      );
      await api.replace(RESOURCES.endpointSlices, {
        ...endpointSlice("web", ips),
        metadata: cur.metadata,
      });
    }
    await waitFor("30 members", async () => (await members()).length === 30);
    const batched = calls() - before;
    assert.ok(batched >= 1 && batched <= 3, `30 endpoint changes took ${batched} UpdatePool calls`);
    assert.deepEqual((await members()).map((m) => m.port), Array(30).fill(8080));

    // Quiet endpoints: a resync or a Service touch does not rewrite the pool.
    const settled = calls();
    await api.patch(RESOURCES.services, "web", { metadata: { labels: { touched: "yes" } } }, {
      namespace: "default",
      type: "merge",
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(calls(), settled, "an unchanged pool is never updated");

    await api.delete(RESOURCES.endpointSlices, "web-abc", "default");
    await waitFor("no members", async () => (await members()).length === 0);
    assert.equal(calls(), settled + 1);
  } finally {
    await c.close();
  }
});

async function allocations(c: Awaited<ReturnType<typeof cluster>>, names: string[]) {
  const out = new Map<string, string | undefined>();
  for (const n of names) out.set(n, ingressIp(await getService(c.server, n)));
  return out;
}

Deno.test("controller restarts mid-churn never assign one address twice", async () => {
  const c = await cluster("restart", { externalIpPool: "192.0.2.0/26", workers: 4 });
  try {
    const api = c.server.api;
    const names = Array.from({ length: 40 }, (_, i) => `svc-${i}`);
    // Created while no controller runs, with endpoints churning all along.
    await Promise.all(names.map((n) => api.create(RESOURCES.services, lbService(n))));
    // Five Services whose Service writes fail during the first term: their load balancers exist
    // in FiberLB while the Services carry no record — the window a crash would leave.
    const unrecorded = Array.from({ length: 5 }, (_, i) => `pre-${i}`);
    for (const n of unrecorded) {
      const s = lbService(n);
      s.metadata.finalizers = [FINALIZER];
      await api.create(RESOURCES.services, s);
    }
    names.push(...unrecorded);
    let churning = true;
    const churn = (async () => {
      for (let i = 0; churning; i++) {
        const n = names[i % names.length];
        const slice = endpointSlice(n, [`10.2.${i % 200}.1`, `10.2.${i % 200}.2`]);
        await api.create(RESOURCES.endpointSlices, slice).catch(() =>
          api.get<KubeObject>(RESOURCES.endpointSlices, slice.metadata.name!, "default")
            .then((cur) =>
              api.replace(RESOURCES.endpointSlices, { ...slice, metadata: cur.metadata })
            )
        ).catch(() => {});
      }
    })();

    // Three terms, each killed part-way through: the API is slowed so reconciles are in flight,
    // and at the kill every Service write fails, as if the process died right after FiberLB
    // answered (load balancer created, Service not yet annotated).
    const svcDef = c.server.cluster.def("", "v1", "services")!;
    const snapshot = () =>
      new Map(
        c.server.cluster.list(svcDef, "default", {}).items.map((
          s,
        ) => [s.metadata.name!, s as KubeObject]),
      );
    let crashWindows = 0;
    /** An address once held must survive every restart. */
    const firstSeen = new Map<string, string>();
    for (const stopAfter of [5, 15, 28]) {
      c.server.faults.setLatency(10);
      if (stopAfter === 5) {
        c.server.faults.failNext(100_000, 500, {
          methods: ["PATCH"],
          pathIncludes: "/services/pre-",
        });
      }
      const before = await c.fiberlb.client.listAll();
      const { controller, abort } = c.startController();
      await controller.synced();
      // The new term starts from the records: every load balancer's address is held for its
      // Service before anything is reconciled.
      for (const lb of before) {
        const key = lb.labels["k8shost.plasmacloud.io/service"];
        assert.equal(
          controller.table?.ipOf(key),
          lb.external_ip,
          `${key} not rebuilt from FiberLB`,
        );
      }
      if (stopAfter === 5) {
        await waitFor(
          "unrecorded load balancers",
          async () =>
            (await c.fiberlb.client.listAll()).filter((l) => l.name.includes(".pre-")).length === 5,
        );
      }
      await waitFor(
        `${stopAfter} allocated`,
        () => [...snapshot().values()].filter((s) => ingressIp(s)).length >= stopAfter,
        20_000,
        5,
      );
      c.server.faults.failNext(100_000, 500, {
        methods: ["PATCH", "PUT"],
        pathIncludes: "/services",
      });
      abort.abort();
      await controller.stopped();
      c.server.faults.reset();
      const now = snapshot();
      for (const lb of await c.fiberlb.client.listAll()) {
        const name = lb.labels["k8shost.plasmacloud.io/service"].split("/")[1];
        if (!now.get(name)?.metadata.annotations?.[ANNOTATIONS.allocatedIp]) crashWindows++;
        const before = firstSeen.get(name);
        assert.ok(
          before === undefined || before === lb.external_ip,
          `${name} moved from ${before} to ${lb.external_ip}`,
        );
        firstSeen.set(name, lb.external_ip);
      }
    }
    assert.ok(crashWindows >= 5, "the FiberLB-written, Service-unwritten window was not exercised");
    // A stale record copied onto a new Service (as an exported manifest would carry it).
    const held = (await allocations(c, names)).get("svc-0")!;
    assert.ok(held);
    await api.create(
      RESOURCES.services,
      lbService("copycat", { annotations: { [ANNOTATIONS.allocatedIp]: held } }),
    );

    c.startController();
    await waitFor(
      "all allocated",
      async () => [...(await allocations(c, [...names, "copycat"])).values()].every(Boolean),
      20_000,
    );
    churning = false;
    await churn;

    const final = await allocations(c, [...names, "copycat"]);
    for (const [name, ip] of firstSeen) {
      assert.equal(final.get(name), ip, `${name} moved after a restart`);
    }
    const ips = [...final.values()] as string[];
    assert.equal(new Set(ips).size, ips.length, `double allocation: ${JSON.stringify([...final])}`);
    assert.equal(final.get("svc-0"), held, "the original holder keeps its address");
    assert.notEqual(final.get("copycat"), held);
    const lbs = await c.fiberlb.client.listAll();
    assert.equal(lbs.length, names.length + 1);
    for (const lb of lbs) {
      const svc = lb.labels["k8shost.plasmacloud.io/service"].split("/")[1];
      assert.equal(final.get(svc), lb.external_ip, `${svc}: FiberLB and the Service disagree`);
      const s = await getService(c.server, svc);
      assert.equal(s.metadata.annotations?.[ANNOTATIONS.allocatedIp], lb.external_ip);
      assert.equal(s.metadata.annotations?.[ANNOTATIONS.loadBalancerId], lb.id);
    }
  } finally {
    await c.close();
  }
});

Deno.test("orphans are garbage-collected; foreign load balancers keep their addresses", async () => {
  const c = await cluster("gc", { externalIpPool: "192.0.2.1-192.0.2.10", clusterName: "gc" });
  try {
    const lb = (name: string, ip: string, labels: Record<string, string>) =>
      c.fiberlb.client.createLoadBalancer(lbRequest({ name, external_ip: ip, labels }));
    const ours = (svc: string) => ({
      "k8shost.plasmacloud.io/cluster": "gc",
      "k8shost.plasmacloud.io/service": svc,
    });
    await lb("k8s.gc.default.ghost", "192.0.2.3", ours("default/ghost"));
    await lb("someone-else", "192.0.2.1", {});
    await lb("other-cluster", "192.0.2.2", {
      "k8shost.plasmacloud.io/cluster": "elsewhere",
      "k8shost.plasmacloud.io/service": "default/x",
    });
    const { controller } = c.startController();
    await controller.synced();
    await waitFor(
      "ghost collected",
      async () => !(await c.fiberlb.client.findLoadBalancer({ name: "k8s.gc.default.ghost" })),
    );
    await c.server.api.create(RESOURCES.services, lbService("real"));
    assert.equal(
      await waitForIngress(c.server, "real"),
      "192.0.2.3",
      "foreign .1 and .2 are skipped",
    );

    // Drift while running: an orphan and a new foreign holder appear behind the controller's back.
    await lb("k8s.gc.default.ghost2", "192.0.2.4", ours("default/ghost2"));
    await lb("late-foreign", "192.0.2.5", {});
    await controller.resync();
    await waitFor(
      "ghost2 collected",
      async () => !(await c.fiberlb.client.findLoadBalancer({ name: "k8s.gc.default.ghost2" })),
    );
    await c.server.api.create(RESOURCES.services, lbService("next"));
    assert.equal(await waitForIngress(c.server, "next"), "192.0.2.4");
    await c.server.api.create(RESOURCES.services, lbService("after"));
    assert.equal(
      await waitForIngress(c.server, "after"),
      "192.0.2.6",
      "late foreign .5 is skipped",
    );
    const names = (await c.fiberlb.client.listAll()).map((l) => l.name).sort();
    assert.deepEqual(names, [
      "k8s.gc.default.after",
      "k8s.gc.default.next",
      "k8s.gc.default.real",
      "late-foreign",
      "other-cluster",
      "someone-else",
    ]);
  } finally {
    await c.close();
  }
});

Deno.test("nothing is allocated before the FiberLB listing succeeds", async () => {
  const server = await startTestApiServer();
  const dir = await tempDir("gate");
  const target = `unix://${dir}/late.sock`;
  const client = new FiberlbClient({ endpoint: target, timeoutMs: 1000 });
  const config = fiberlbConfig({ externalIpPool: "192.0.2.0/24", endpointDebounce: "20ms" }, dir);
  const abort = new AbortController();
  let lb: Awaited<ReturnType<typeof startEmbeddedFiberlb>> | undefined;
  const controller = runFiberlbController({
    api: server.api,
    client,
    config: config.fiberlb,
    pools: parsePools(config.fiberlb).pools,
    log: logger("test.gate"),
  }, abort.signal);
  try {
    await server.api.create(RESOURCES.services, lbService("early"));
    await new Promise((r) => setTimeout(r, 600));
    const untouched = await getService(server, "early");
    assert.equal(ingressIp(untouched), undefined);
    assert.equal(
      untouched.metadata.finalizers,
      undefined,
      "not even a finalizer before the listing",
    );
    assert.equal(controller.table, undefined);
    // FiberLB comes up holding .1 for something else: the first allocation must skip it.
    lb = await startEmbeddedFiberlb({ dataDir: dir, listen: target, dataPlane: false });
    // Set up behind the controller's back (its channel is still backing off from the outage).
    await lb.service.createLoadBalancer({ name: "pre-existing", external_ip: "192.0.2.1" });
    assert.equal(await waitForIngress(server, "early"), "192.0.2.2");
  } finally {
    abort.abort();
    await controller.stopped();
    client.close();
    await lb?.stop();
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
