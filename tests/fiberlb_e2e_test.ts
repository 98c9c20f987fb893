/**
 * End to end on one host: a LoadBalancer Service with EndpointSlices becomes reachable on its
 * external IP through the embedded FiberLB's proxy, follows endpoint readiness, and stops
 * answering when deleted. Node mode: members are ready nodes on the nodePort.
 */
import assert from "node:assert/strict";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { cluster, waitForIngress } from "./fiberlb_cluster.ts";
import {
  count,
  endpointSlice,
  lbService,
  loopbackNet,
  nameServer,
  waitFor,
  whoAnswers,
} from "./fiberlb_support.ts";

Deno.test("a LoadBalancer Service answers on its external IP and follows endpoint readiness", async () => {
  const vips = loopbackNet();
  const pods = loopbackNet();
  const a = nameServer("pod-a", pods.ip(1));
  const b = nameServer("pod-b", pods.ip(2), a.port);
  const c = await cluster("e2e", { externalIpPool: vips.cidr, endpointDebounce: "20ms" }, {
    dataPlane: true,
  });
  try {
    c.startController();
    const t0 = performance.now();
    await c.server.api.create(
      RESOURCES.services,
      lbService("web", {
        ports: [{ name: "http", port: 80, targetPort: a.port, protocol: "TCP" }],
        annotations: {
          "fiberlb.plasmacloud.io/health-check-interval": "200ms",
          "fiberlb.plasmacloud.io/health-check-timeout": "100ms",
        },
      }),
    );
    await c.server.api.create(
      RESOURCES.endpointSlices,
      endpointSlice("web", [pods.ip(1), pods.ip(2)], { port: a.port }),
    );
    const ip = await waitForIngress(c.server, "web");
    assert.equal(ip, vips.ip(1));
    const answers = await waitFor("both pods answer", async () => {
      const seen = [];
      for (let i = 0; i < 10; i++) seen.push(await whoAnswers(ip, 80));
      return new Set(seen).size === 2 && seen;
    });
    console.log(`create → both pods reachable: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.deepEqual(Object.fromEntries(count(answers)), { "pod-a": 5, "pod-b": 5 });

    // pod-b turns unready: after the debounce only pod-a gets traffic.
    const cur = await c.server.api.get<KubeObject>(RESOURCES.endpointSlices, "web-abc", "default");
    await c.server.api.replace(RESOURCES.endpointSlices, {
      ...endpointSlice("web", [pods.ip(1), { ip: pods.ip(2), ready: false }], { port: a.port }),
      metadata: cur.metadata,
    });
    await waitFor("only pod-a", async () => {
      for (let i = 0; i < 4; i++) if (await whoAnswers(ip, 80) !== "pod-a") return false;
      return true;
    });

    await c.server.api.delete(RESOURCES.services, "web", "default");
    await waitFor("listener closed", async () => {
      try {
        (await Deno.connect({ hostname: ip, port: 80 })).close();
        return false;
      } catch {
        return true;
      }
    });
  } finally {
    await c.close();
    await a.close();
    await b.close();
  }
});

Deno.test("node mode: ready nodes on the nodePort, Local policy keeps to nodes with endpoints", async () => {
  const c = await cluster("e2e-node", {
    externalIpPool: "192.0.2.0/24",
    memberMode: "node",
    endpointDebounce: "20ms",
  });
  try {
    const api = c.server.api;
    const node = async (name: string, ip: string, ready: boolean) => {
      const n = await api.create<KubeObject>(RESOURCES.nodes, {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name },
      });
      await api.patch(RESOURCES.nodes, name, {
        status: {
          conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
          addresses: [{ type: "Hostname", address: name }, { type: "InternalIP", address: ip }],
        },
      }, { type: "merge", subresource: "status" });
      return n;
    };
    await node("n1", "10.9.0.1", true);
    await node("n2", "10.9.0.2", true);
    await node("n3", "10.9.0.3", false);
    c.startController();
    await api.create(RESOURCES.services, lbService("np"));
    await waitForIngress(c.server, "np");
    const svc = await api.get<KubeObject>(RESOURCES.services, "np", "default");
    const nodePort = svc.spec.ports[0].nodePort;
    assert.ok(nodePort >= 30000);
    const members = async () =>
      (await c.fiberlb.client.getLoadBalancer({ name: "k8s.default.default.np" })).pools[0].members
        .map((m) => `${m.address}:${m.port}`);
    assert.deepEqual(await members(), [`10.9.0.1:${nodePort}`, `10.9.0.2:${nodePort}`]);

    await api.patch(RESOURCES.nodes, "n3", {
      status: { conditions: [{ type: "Ready", status: "True" }] },
    }, { type: "merge", subresource: "status" });
    await waitFor("n3 joins", async () => (await members()).length === 3);
    await api.patch(RESOURCES.nodes, "n1", {
      metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } },
    }, { type: "merge" });
    await waitFor("n1 excluded", async () => !(await members()).includes(`10.9.0.1:${nodePort}`));

    // The real API server allocates healthCheckNodePort for Local; the test server does not.
    await api.patch(RESOURCES.services, "np", {
      spec: { externalTrafficPolicy: "Local", healthCheckNodePort: 32100 },
    }, {
      namespace: "default",
      type: "merge",
    });
    await api.create(
      RESOURCES.endpointSlices,
      endpointSlice("np", [{ ip: "10.244.3.7", nodeName: "n3" }]),
    );
    await waitFor(
      "only n3 (has the endpoint)",
      async () => JSON.stringify(await members()) === JSON.stringify([`10.9.0.3:${nodePort}`]),
    );
    const lb = await c.fiberlb.client.getLoadBalancer({ name: "k8s.default.default.np" });
    const hc = lb.pools[0].health_check;
    assert.deepEqual(
      [hc.type, hc.path, hc.port],
      ["HEALTH_CHECK_HTTP", "/healthz", 32100],
      "kube-proxy's health check port",
    );
  } finally {
    await c.close();
  }
});
