import assert from "node:assert/strict";
import type { KubeObject } from "../kube/api.ts";
import { ANNOTATIONS } from "./annotations.ts";
import { desiredLoadBalancer, nodeMembers, podMembers } from "./desired.ts";
import { opts, settings, svc } from "./testing.ts";

Deno.test("desiredLoadBalancer: a listener and a pool per port, options mapped", () => {
  const s = svc("web", {
    annotations: {
      [ANNOTATIONS.algorithm]: "least-conn",
      [ANNOTATIONS.sessionAffinity]: "client-ip",
      [ANNOTATIONS.allowSharedIp]: "k",
    },
    spec: {
      ports: [{ name: "http", port: 80, protocol: "TCP" }, {
        name: "dns",
        port: 53,
        protocol: "UDP",
      }],
    },
  });
  const r = desiredLoadBalancer(s, opts(s), "192.0.2.5", { orgId: "o", projectId: "p" }, settings, {
    slices: [],
    nodes: [],
  });
  assert.ok("lb" in r);
  const want = r.lb;
  assert.equal(want.name, "k8s.c1.default.web");
  assert.deepEqual(want.labels, {
    "k8shost.plasmacloud.io/cluster": "c1",
    "k8shost.plasmacloud.io/service": "default/web",
    "k8shost.plasmacloud.io/uid": "uid-web",
  });
  assert.equal(want.sharingKey, "k");
  assert.deepEqual(want.listeners, [
    { name: "tcp-80", protocol: "TCP", port: 80, pool: "tcp-80" },
    { name: "udp-53", protocol: "UDP", port: 53, pool: "udp-53" },
  ]);
  assert.deepEqual(
    want.pools.map((
      p,
    ) => [
      p.name,
      p.algorithm,
      p.session_affinity,
      p.affinity_timeout_seconds,
      p.health_check.type,
    ]),
    [
      ["tcp-80", "LEAST_CONN", "CLIENT_IP", 10_800, "HEALTH_CHECK_TCP"],
      ["udp-53", "LEAST_CONN", "CLIENT_IP", 10_800, "HEALTH_CHECK_NONE"],
    ],
  );
  const http = svc("h", {
    annotations: { [ANNOTATIONS.healthCheckPath]: "/hz", [ANNOTATIONS.healthCheckRetries]: "2" },
  });
  const hr = desiredLoadBalancer(
    http,
    opts(http),
    "192.0.2.6",
    { orgId: "", projectId: "" },
    settings,
    { slices: [], nodes: [] },
  );
  assert.ok("lb" in hr);
  assert.deepEqual(hr.lb.pools[0].health_check, {
    type: "HEALTH_CHECK_HTTP",
    path: "/hz",
    port: 0,
    interval_ms: 10_000,
    timeout_ms: 5000,
    retries: 2,
  });
  const sctp = svc("x", { spec: { ports: [{ port: 9, protocol: "SCTP" }] } });
  const sr = desiredLoadBalancer(
    sctp,
    opts(sctp),
    "192.0.2.7",
    { orgId: "", projectId: "" },
    settings,
    { slices: [], nodes: [] },
  );
  assert.ok("problem" in sr && sr.problem.reason === "UnsupportedProtocol");
});

function slice(
  service: string,
  endpoints: unknown[],
  ports: unknown[],
  o: { ns?: string; type?: string; name?: string } = {},
): KubeObject {
  return {
    metadata: {
      name: o.name ?? `${service}-x`,
      namespace: o.ns ?? "default",
      labels: { "kubernetes.io/service-name": service },
    },
    addressType: o.type ?? "IPv4",
    ports,
    endpoints,
  };
}

Deno.test("podMembers: ready endpoints on the slice port matching the Service port", () => {
  const s = svc("web", {
    spec: {
      ports: [{ name: "http", port: 80, protocol: "TCP" }, {
        name: "dns",
        port: 53,
        protocol: "UDP",
      }],
    },
  });
  const slices = [
    slice("web", [
      { addresses: ["10.0.0.2"], conditions: { ready: true } },
      { addresses: ["10.0.0.1"] }, // ready unset means ready
      { addresses: ["10.0.0.3"], conditions: { ready: false } },
    ], [{ name: "http", port: 8080, protocol: "TCP" }, {
      name: "dns",
      port: 5353,
      protocol: "UDP",
    }]),
    slice("web", [{ addresses: ["10.0.0.1"] }, { addresses: ["10.0.0.4"] }], [{
      name: "http",
      port: 8080,
    }], { name: "web-y" }),
    slice("web", [{ addresses: ["fd00::0:1"] }], [{ name: "http", port: 8080 }], {
      name: "web-6",
      type: "IPv6",
    }),
    slice("web", [{ addresses: ["db.example"] }], [{ name: "http", port: 8080 }], {
      name: "web-f",
      type: "FQDN",
    }),
    slice("other", [{ addresses: ["10.9.9.9"] }], [{ name: "http", port: 8080 }]),
    slice("web", [{ addresses: ["10.8.8.8"] }], [{ name: "http", port: 8080 }], {
      ns: "elsewhere",
    }),
  ];
  const ports = [{ name: "http", protocol: "TCP", port: 80 }, {
    name: "dns",
    protocol: "UDP",
    port: 53,
  }];
  assert.deepEqual(podMembers(s, ports[0], slices).map((m) => `${m.address}:${m.port}`), [
    "10.0.0.1:8080",
    "10.0.0.2:8080",
    "10.0.0.4:8080",
    "fd00::1:8080",
  ]);
  assert.deepEqual(podMembers(s, ports[1], slices).map((m) => `${m.address}:${m.port}`), [
    "10.0.0.1:5353",
    "10.0.0.2:5353",
  ]);
  const unnamed = svc("u", { spec: { ports: [{ port: 80 }] } });
  assert.deepEqual(
    podMembers(unnamed, { name: "", protocol: "TCP", port: 80 }, [
      slice("u", [{ addresses: ["10.1.1.1"] }], [{ port: 9000 }]),
    ]),
    [
      { address: "10.1.1.1", port: 9000, weight: 1 },
    ],
  );
});

Deno.test("nodeMembers: ready, not excluded, Local only where endpoints run", () => {
  const node = (
    name: string,
    ready: string,
    addrs: Array<[string, string]>,
    labels?: Record<string, string>,
  ): KubeObject => ({
    metadata: { name, labels },
    status: {
      conditions: [{ type: "Ready", status: ready }],
      addresses: addrs.map(([type, address]) => ({ type, address })),
    },
  });
  const nodes = [
    node("n1", "True", [["InternalIP", "10.9.0.1"]]),
    node("n2", "True", [["ExternalIP", "203.0.113.2"]]),
    node("n3", "False", [["InternalIP", "10.9.0.3"]]),
    node("n4", "True", [["InternalIP", "10.9.0.4"]], {
      "node.kubernetes.io/exclude-from-external-load-balancers": "true",
    }),
    node("n5", "True", []),
  ];
  const port = { name: "http", protocol: "TCP", port: 80, nodePort: 30080 };
  assert.deepEqual(nodeMembers(svc("web"), port, [], nodes).map((m) => `${m.address}:${m.port}`), [
    "10.9.0.1:30080",
    "203.0.113.2:30080",
  ]);
  const local = svc("web", { spec: { externalTrafficPolicy: "Local" } });
  const slices = [
    slice("web", [{ addresses: ["10.244.0.5"], nodeName: "n2" }, {
      addresses: ["10.244.0.6"],
      nodeName: "n1",
      conditions: { ready: false },
    }], [{ name: "http", port: 8080 }]),
  ];
  assert.deepEqual(nodeMembers(local, port, slices, nodes).map((m) => m.address), ["203.0.113.2"]);
  assert.deepEqual(nodeMembers(svc("web"), { ...port, nodePort: undefined }, [], nodes), []);
  const hc = svc("web", { spec: { externalTrafficPolicy: "Local", healthCheckNodePort: 32000 } });
  const r = desiredLoadBalancer(hc, opts(hc), "192.0.2.1", { orgId: "", projectId: "" }, {
    ...settings,
    memberMode: "node",
  }, { slices, nodes });
  assert.ok("lb" in r);
  assert.deepEqual([
    r.lb.pools[0].health_check.type,
    r.lb.pools[0].health_check.path,
    r.lb.pools[0].health_check.port,
  ], ["HEALTH_CHECK_HTTP", "/healthz", 32000]);
  assert.deepEqual(r.lb.pools[0].members.map((m) => m.address), ["203.0.113.2"]);
});
