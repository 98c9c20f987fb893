/**
 * The record table: Services, EndpointSlices and Pods in, the exact records out, per the
 * Kubernetes DNS specification (schema 1.0.1) and the PlasmaCloud pod hierarchy.
 */
import assert from "node:assert/strict";
import { desiredRecords } from "./desired.ts";
import { type EndpointSlice, type Pod, type Service, TOLERATE_UNREADY } from "./kube_objects.ts";
import type { DesiredContext } from "./record_builder.ts";
import { fqdn, type RecordSet } from "./records.ts";

const CTX: DesiredContext = { domain: "cluster.local", ttl: 30, owner: "k8shost/test" };

function svc(
  name: string,
  spec: Service["spec"],
  extra: Partial<Service> = {},
  ns = "default",
): Service {
  return {
    metadata: { name, namespace: ns, ...(extra.metadata ?? {}) },
    spec,
    status: extra.status,
  };
}

type Ep = NonNullable<EndpointSlice["endpoints"]>[number];
function slice(
  service: string,
  endpoints: Ep[],
  ports: EndpointSlice["ports"] = [],
  addressType = "IPv4",
  ns = "default",
  name = `${service}-${addressType.toLowerCase()}`,
): EndpointSlice {
  return {
    metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": service } },
    addressType,
    endpoints,
    ports,
  };
}

function pod(
  name: string,
  ips: string[],
  phase = "Running",
  extra: Partial<Pod["spec"]> = {},
  ns = "default",
): Pod {
  return {
    metadata: { name, namespace: ns },
    spec: { ...extra },
    status: { phase, podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
  };
}

/** `<fqdn>. <TYPE> <value>`, sorted, without the dns-version record. */
function lines(sets: RecordSet[], keepVersion = false): string[] {
  return sets.flatMap((s) => s.values.map((v) => `${fqdn(s.zone, s.name)}. ${s.type} ${v}`))
    .filter((l) => keepVersion || !l.startsWith("dns-version."))
    .sort();
}

interface Case {
  name: string;
  services?: Service[];
  slices?: EndpointSlice[];
  pods?: Pod[];
  ctx?: DesiredContext;
  keepVersion?: boolean;
  expect: string[];
}

const WEB = "web.default.svc.cluster.local.";
const HL = "db.default.svc.cluster.local.";
const ready = (ip: string, hostname?: string): Ep => ({
  addresses: [ip],
  hostname,
  conditions: { ready: true },
});

const CASES: Case[] = [
  {
    name: "ClusterIP: A and PTR",
    services: [svc("web", { clusterIP: "10.96.0.100", ports: [{ port: 80 }] })],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
    ],
  },
  {
    name: "ClusterIP: named TCP port gets SRV to the service name",
    services: [
      svc("web", {
        clusterIP: "10.96.0.100",
        ports: [{ name: "http", port: 80, protocol: "TCP" }],
      }),
    ],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
    ],
  },
  {
    name: "ClusterIP: unnamed port has no SRV",
    services: [svc("web", { clusterIP: "10.96.0.100", ports: [{ port: 8080, protocol: "TCP" }] })],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
    ],
  },
  {
    name: "ClusterIP: UDP, SCTP and default-protocol ports",
    services: [svc("web", {
      clusterIP: "10.96.0.100",
      ports: [
        { name: "dns", port: 53, protocol: "UDP" },
        { name: "s", port: 9, protocol: "SCTP" },
        {
          name: "h",
          port: 81,
        },
      ],
    })],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `_dns._udp.web.default.svc.cluster.local. SRV 0 100 53 ${WEB}`,
      `_h._tcp.web.default.svc.cluster.local. SRV 0 100 81 ${WEB}`,
      `_s._sctp.web.default.svc.cluster.local. SRV 0 100 9 ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
    ],
  },
  {
    name: "dual-stack ClusterIPs: A, AAAA and both PTRs",
    services: [
      svc("web", { clusterIP: "10.96.0.100", clusterIPs: ["10.96.0.100", "fd00:10:96::64"] }),
    ],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `4.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. PTR ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
      `web.default.svc.cluster.local. AAAA fd00:10:96::64`,
    ],
  },
  {
    name: "IPv6-only service: AAAA only, canonical form",
    services: [svc("web", { clusterIP: "FD00:0:0::a", clusterIPs: ["FD00:0:0::a"] })],
    expect: [
      `a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. PTR ${WEB}`,
      `web.default.svc.cluster.local. AAAA fd00::a`,
    ],
  },
  {
    name: "LoadBalancer: ingress IPs join the service name (no PTR for them)",
    services: [svc("web", { type: "LoadBalancer", clusterIP: "10.96.0.100" }, {
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }, { ip: "2001:db8::10" }] } },
    })],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
      `web.default.svc.cluster.local. A 192.0.2.10`,
      `web.default.svc.cluster.local. AAAA 2001:db8::10`,
    ],
  },
  {
    name: "LoadBalancer: hostname-only ingress adds nothing",
    services: [svc("web", { type: "LoadBalancer", clusterIP: "10.96.0.100" }, {
      status: { loadBalancer: { ingress: [{ hostname: "lb.example.com" }] } },
    })],
    expect: [
      `100.0.96.10.in-addr.arpa. PTR ${WEB}`,
      `web.default.svc.cluster.local. A 10.96.0.100`,
    ],
  },
  {
    name: "ClusterIP not allocated yet: nothing",
    services: [svc("web", { clusterIP: "", ports: [{ name: "http", port: 80 }] })],
    expect: [],
  },
  {
    name: "ExternalName: CNAME, no SRV even with named ports",
    services: [
      svc("ext", {
        type: "ExternalName",
        externalName: "www.example.com",
        ports: [{ name: "h", port: 80 }],
      }),
    ],
    expect: ["ext.default.svc.cluster.local. CNAME www.example.com."],
  },
  {
    name: "ExternalName: trailing dot and upper case normalised",
    services: [svc("ext", { type: "ExternalName", externalName: "WWW.Example.COM." })],
    expect: ["ext.default.svc.cluster.local. CNAME www.example.com."],
  },
  {
    name: "ExternalName: invalid name gets no record",
    services: [svc("ext", { type: "ExternalName", externalName: "not a name" })],
    expect: [],
  },
  {
    name: "headless with hostnames: service A per endpoint, hostname A, PTR and SRV per endpoint",
    services: [svc("db", { clusterIP: "None", ports: [{ name: "pg", port: 5432 }] })],
    slices: [
      slice("db", [ready("10.244.1.10", "db-0"), ready("10.244.1.11", "db-1")], [{
        name: "pg",
        port: 5432,
        protocol: "TCP",
      }]),
    ],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR db-0.${HL}`,
      `11.1.244.10.in-addr.arpa. PTR db-1.${HL}`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-0.${HL}`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-1.${HL}`,
      `db-0.db.default.svc.cluster.local. A 10.244.1.10`,
      `db-1.db.default.svc.cluster.local. A 10.244.1.11`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
      `db.default.svc.cluster.local. A 10.244.1.11`,
    ],
  },
  {
    name: "headless without hostnames: the dashed IP is the hostname",
    services: [svc("db", { clusterIP: "None" })],
    slices: [slice("db", [ready("10.244.1.10")], [{ name: "pg", port: 5432 }])],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR 10-244-1-10.${HL}`,
      `10-244-1-10.db.default.svc.cluster.local. A 10.244.1.10`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 100 5432 10-244-1-10.${HL}`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
    ],
  },
  {
    name: "headless: not-ready endpoints are excluded",
    services: [svc("db", { clusterIP: "None" })],
    slices: [
      slice("db", [ready("10.244.1.10", "a"), {
        addresses: ["10.244.1.11"],
        hostname: "b",
        conditions: { ready: false },
      }]),
    ],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR a.${HL}`,
      `a.db.default.svc.cluster.local. A 10.244.1.10`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
    ],
  },
  {
    name: "headless: publishNotReadyAddresses includes not-ready endpoints",
    services: [svc("db", { clusterIP: "None", publishNotReadyAddresses: true })],
    slices: [
      slice("db", [{ addresses: ["10.244.1.11"], hostname: "b", conditions: { ready: false } }]),
    ],
    expect: [
      `11.1.244.10.in-addr.arpa. PTR b.${HL}`,
      `b.db.default.svc.cluster.local. A 10.244.1.11`,
      `db.default.svc.cluster.local. A 10.244.1.11`,
    ],
  },
  {
    name: "headless: tolerate-unready annotation includes not-ready endpoints",
    services: [
      svc("db", { clusterIP: "None" }, {
        metadata: { annotations: { [TOLERATE_UNREADY]: "true" } },
      }),
    ],
    slices: [
      slice("db", [{ addresses: ["10.244.1.11"], hostname: "b", conditions: { ready: false } }]),
    ],
    expect: [
      `11.1.244.10.in-addr.arpa. PTR b.${HL}`,
      `b.db.default.svc.cluster.local. A 10.244.1.11`,
      `db.default.svc.cluster.local. A 10.244.1.11`,
    ],
  },
  {
    name: "headless: an absent ready condition means ready",
    services: [svc("db", { clusterIP: "None" })],
    slices: [slice("db", [{ addresses: ["10.244.1.12"], hostname: "c" }])],
    expect: [
      `12.1.244.10.in-addr.arpa. PTR c.${HL}`,
      `c.db.default.svc.cluster.local. A 10.244.1.12`,
      `db.default.svc.cluster.local. A 10.244.1.12`,
    ],
  },
  {
    name: "headless with no ready endpoints: no records (NXDOMAIN)",
    services: [svc("db", { clusterIP: "None", ports: [{ name: "pg", port: 5432 }] })],
    slices: [
      slice("db", [{ addresses: ["10.244.1.11"], conditions: { ready: false } }], [{
        name: "pg",
        port: 5432,
      }]),
    ],
    expect: [],
  },
  {
    name: "headless dual-stack: IPv4 and IPv6 slices",
    services: [svc("db", { clusterIP: "None" })],
    slices: [
      slice("db", [ready("10.244.1.10", "db-0")]),
      slice("db", [ready("fd00:244::a", "db-0")], [], "IPv6"),
    ],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR db-0.${HL}`,
      `a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.4.2.0.0.0.d.f.ip6.arpa. PTR db-0.${HL}`,
      `db-0.db.default.svc.cluster.local. A 10.244.1.10`,
      `db-0.db.default.svc.cluster.local. AAAA fd00:244::a`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
      `db.default.svc.cluster.local. AAAA fd00:244::a`,
    ],
  },
  {
    name: "headless: N endpoints x M named ports SRV, unnamed ports skipped",
    services: [svc("db", { clusterIP: "None" })],
    slices: [slice("db", [ready("10.244.1.10", "a"), ready("10.244.1.11", "b")], [
      { name: "pg", port: 5432 },
      { name: "metrics", port: 9187, protocol: "TCP" },
      { port: 7777 },
    ])],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR a.${HL}`,
      `11.1.244.10.in-addr.arpa. PTR b.${HL}`,
      `_metrics._tcp.db.default.svc.cluster.local. SRV 0 50 9187 a.${HL}`,
      `_metrics._tcp.db.default.svc.cluster.local. SRV 0 50 9187 b.${HL}`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 a.${HL}`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 b.${HL}`,
      `a.db.default.svc.cluster.local. A 10.244.1.10`,
      `b.db.default.svc.cluster.local. A 10.244.1.11`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
      `db.default.svc.cluster.local. A 10.244.1.11`,
    ],
  },
  {
    name: "headless: endpoints spread over several slices; SRV uses the endpoint (target) port",
    services: [svc("db", { clusterIP: "None", ports: [{ name: "pg", port: 5432 }] })],
    slices: [
      slice(
        "db",
        [ready("10.244.1.10", "a")],
        [{ name: "pg", port: 15432 }],
        "IPv4",
        "default",
        "db-1",
      ),
      slice(
        "db",
        [ready("10.244.2.10", "b")],
        [{ name: "pg", port: 15432 }],
        "IPv4",
        "default",
        "db-2",
      ),
    ],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR a.${HL}`,
      `10.2.244.10.in-addr.arpa. PTR b.${HL}`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 50 15432 a.${HL}`,
      `_pg._tcp.db.default.svc.cluster.local. SRV 0 50 15432 b.${HL}`,
      `a.db.default.svc.cluster.local. A 10.244.1.10`,
      `b.db.default.svc.cluster.local. A 10.244.2.10`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
      `db.default.svc.cluster.local. A 10.244.2.10`,
    ],
  },
  {
    name: "headless: FQDN slices and slices of a same-named service elsewhere are ignored",
    services: [svc("db", { clusterIP: "None" })],
    slices: [
      slice("db", [{ addresses: ["db.example.com"] }], [], "FQDN"),
      slice("db", [ready("10.244.9.9", "x")], [], "IPv4", "other"),
      slice("db", [ready("10.244.1.10", "a")]),
    ],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR a.${HL}`,
      `a.db.default.svc.cluster.local. A 10.244.1.10`,
      `db.default.svc.cluster.local. A 10.244.1.10`,
    ],
  },
  {
    name: "pod: both name forms",
    pods: [pod("p", ["10.244.1.5"])],
    expect: [
      "10-244-1-5.default.pod.cluster.local. A 10.244.1.5",
      "10-244-1-5.pod.cluster.local. A 10.244.1.5",
    ],
  },
  {
    name: "pod dual-stack: A and AAAA, dashed IPv6",
    pods: [pod("p", ["10.244.1.5", "fd00:244::5"], "Running", {}, "apps")],
    expect: [
      "10-244-1-5.apps.pod.cluster.local. A 10.244.1.5",
      "10-244-1-5.pod.cluster.local. A 10.244.1.5",
      "fd00-244--5.apps.pod.cluster.local. AAAA fd00:244::5",
      "fd00-244--5.pod.cluster.local. AAAA fd00:244::5",
    ],
  },
  {
    name: "pods: finished, host-network and IP-less pods get nothing",
    pods: [
      pod("done", ["10.244.1.6"], "Succeeded"),
      pod("failed", ["10.244.1.7"], "Failed"),
      pod("host", ["192.168.1.10"], "Running", { hostNetwork: true }),
      pod("pending", [], "Pending"),
    ],
    expect: [],
  },
  {
    name: "deletion: a Service being deleted is already absent",
    services: [svc("web", { clusterIP: "10.96.0.100" }, {
      metadata: { deletionTimestamp: "2025-01-01T00:00:00Z" },
    })],
    expect: [],
  },
  {
    name: "dns-version TXT under a custom domain; TTL from config",
    ctx: { domain: "corp.example", ttl: 5, owner: "k8shost/x" },
    services: [svc("web", { clusterIP: "10.96.0.1" }, {}, "kube-system")],
    keepVersion: true,
    expect: [
      "1.0.96.10.in-addr.arpa. PTR web.kube-system.svc.corp.example.",
      "dns-version.corp.example. TXT 1.0.1",
      "web.kube-system.svc.corp.example. A 10.96.0.1",
    ],
  },
  {
    name: "two headless services naming one IP: one PTR set with both names",
    services: [svc("db", { clusterIP: "None" }), svc("db2", { clusterIP: "None" })],
    slices: [slice("db", [ready("10.244.1.10", "a")]), slice("db2", [ready("10.244.1.10", "a")])],
    expect: [
      `10.1.244.10.in-addr.arpa. PTR a.${HL}`,
      "10.1.244.10.in-addr.arpa. PTR a.db2.default.svc.cluster.local.",
      `a.db.default.svc.cluster.local. A 10.244.1.10`,
      "a.db2.default.svc.cluster.local. A 10.244.1.10",
      `db.default.svc.cluster.local. A 10.244.1.10`,
      "db2.default.svc.cluster.local. A 10.244.1.10",
    ],
  },
];

for (const c of CASES) {
  Deno.test(`desired: ${c.name}`, () => {
    const sets = desiredRecords(
      { services: c.services ?? [], endpointSlices: c.slices ?? [], pods: c.pods ?? [] },
      c.ctx ?? CTX,
    );
    assert.deepEqual(lines(sets, c.keepVersion), [...c.expect].sort());
    for (const s of sets) assert.equal(s.ttl, (c.ctx ?? CTX).ttl);
  });
}

Deno.test("desired: the table has at least 25 cases", () => {
  assert.ok(CASES.length >= 25, `only ${CASES.length} cases`);
});

Deno.test("desired: every set carries ownership labels naming its object", () => {
  const sets = desiredRecords({
    services: [svc("web", { clusterIP: "10.96.0.100" }, {}, "shop")],
    endpointSlices: [],
    pods: [pod("p1", ["10.244.1.5"], "Running", {}, "shop")],
  }, CTX);
  const byName = Object.fromEntries(
    sets.map((s) => [`${fqdn(s.zone, s.name)} ${s.type}`, s.labels]),
  );
  assert.deepEqual(byName["web.shop.svc.cluster.local A"], {
    owner: "k8shost/test",
    "k8s-kind": "Service",
    "k8s-namespace": "shop",
    "k8s-name": "web",
  });
  assert.deepEqual(byName["10-244-1-5.shop.pod.cluster.local A"]?.["k8s-kind"], "Pod");
  assert.deepEqual(byName["10-244-1-5.shop.pod.cluster.local A"]?.["k8s-name"], "p1");
  assert.deepEqual(byName["dns-version.cluster.local TXT"]?.["k8s-kind"], "Cluster");
  for (const s of sets) assert.equal(s.labels.owner, "k8shost/test");
});

Deno.test("desired: records of objects in a tenant's namespace carry org_id and project_id", () => {
  const ns = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels } });
  const sets = desiredRecords({
    services: [
      svc(
        "web",
        { clusterIP: "10.96.0.100", ports: [{ name: "http", port: 80 }] },
        {},
        "project-p1",
      ),
      svc("db", { clusterIP: "None" }, {}, "project-p1"),
      svc("api", { clusterIP: "10.96.0.101" }, {}, "kube-system"),
    ],
    endpointSlices: [slice("db", [ready("10.244.1.10", "a")], [], "IPv4", "project-p1")],
    pods: [
      pod("p1", ["10.244.1.5"], "Running", {}, "project-p1"),
      pod("p2", ["10.244.1.6"], "Running", {}, "kube-system"),
    ],
    namespaces: [
      ns("project-p1", {
        "plasmacloud.io/org-id": "org-1",
        "plasmacloud.io/project-id": "p1",
        "plasmacloud.io/tenant-type": "project",
      }),
      ns("kube-system", { "kubernetes.io/metadata.name": "kube-system" }),
    ],
  }, CTX);
  const tenantOf = (s: RecordSet) => [s.labels.org_id, s.labels.project_id];
  const tenantSets = sets.filter((s) => s.labels["k8s-namespace"] === "project-p1");
  // A/SRV/PTR of the ClusterIP Service, the headless Service's sets and the pod's.
  assert.ok(tenantSets.length >= 8, `${tenantSets.length} sets`);
  for (const s of tenantSets) assert.deepEqual(tenantOf(s), ["org-1", "p1"], setKeyOf(s));
  assert.deepEqual(
    tenantSets.find((s) => fqdn(s.zone, s.name) === "web.project-p1.svc.cluster.local")?.labels,
    {
      owner: "k8shost/test",
      "k8s-kind": "Service",
      "k8s-namespace": "project-p1",
      "k8s-name": "web",
      org_id: "org-1",
      project_id: "p1",
    },
  );
  // Platform namespaces and cluster-wide records name no tenant.
  for (const s of sets.filter((s) => s.labels["k8s-namespace"] !== "project-p1")) {
    assert.deepEqual(tenantOf(s), [undefined, undefined], setKeyOf(s));
  }
  // Without namespaces (or an unknown one) nothing is invented; the records are the same.
  const bare = desiredRecords({
    services: [
      svc(
        "web",
        { clusterIP: "10.96.0.100", ports: [{ name: "http", port: 80 }] },
        {},
        "project-p1",
      ),
    ],
    endpointSlices: [],
    pods: [],
  }, CTX);
  assert.ok(bare.every((s) => s.labels.org_id === undefined && s.labels.project_id === undefined));
  assert.deepEqual(lines(bare), lines(sets.filter((s) => s.labels["k8s-name"] === "web")));
});

const setKeyOf = (s: RecordSet) => `${fqdn(s.zone, s.name)} ${s.type}`;

Deno.test("desired: output does not depend on input order", () => {
  const services = [svc("db", { clusterIP: "None" }), svc("db2", { clusterIP: "None" })];
  const endpointSlices = [
    slice("db", [ready("10.244.1.10", "a")]),
    slice("db2", [ready("10.244.1.10", "a")]),
  ];
  const a = desiredRecords({ services, endpointSlices, pods: [] }, CTX);
  const b = desiredRecords({
    services: [...services].reverse(),
    endpointSlices: [...endpointSlices].reverse(),
    pods: [],
  }, CTX);
  assert.deepEqual(a, b);
  const ptr = a.find((s) => s.type === "PTR")!;
  assert.equal(ptr.labels["k8s-name"], "db");
});

Deno.test("desired: removing a Service from the input removes all its records", () => {
  const services = [svc("web", { clusterIP: "10.96.0.100", ports: [{ name: "http", port: 80 }] })];
  const before = desiredRecords({ services, endpointSlices: [], pods: [] }, CTX);
  const after = desiredRecords({ services: [], endpointSlices: [], pods: [] }, CTX);
  assert.equal(lines(before).length, 3);
  assert.deepEqual(lines(after), []);
});
