/**
 * Real DNS over UDP and TCP: records are written through the real gRPC client into the embedded
 * FlashDNS, then `dig` must return exactly the expected answers. A second embedded server on
 * 127.0.0.1 plays the upstream resolver for names outside the cluster domain.
 */
import assert from "node:assert/strict";
import { desiredRecords } from "../mod/flashdns/desired.ts";
import type { EndpointSlice, Pod, Service } from "../mod/flashdns/kube_objects.ts";
import { createFlashdnsClient } from "../mod/flashdns/client.ts";
import { type EmbeddedFlashdns, startEmbeddedFlashdns } from "../mod/flashdnsd/mod.ts";
import { dig, tempDir } from "./flashdns_support.ts";

const CTX = { domain: "cluster.local", ttl: 30, owner: "k8shost/test" };

const many = Array.from({ length: 60 }, (_, i) => `10.244.3.${i + 1}`);
const services: Service[] = [
  {
    metadata: { name: "web", namespace: "default" },
    spec: { clusterIP: "10.96.0.100", ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  },
  {
    metadata: { name: "dual", namespace: "default" },
    spec: { clusterIP: "10.96.0.101", clusterIPs: ["10.96.0.101", "fd00:96::101"] },
  },
  { metadata: { name: "db", namespace: "default" }, spec: { clusterIP: "None" } },
  { metadata: { name: "big", namespace: "default" }, spec: { clusterIP: "None" } },
  {
    metadata: { name: "ext", namespace: "default" },
    spec: { type: "ExternalName", externalName: "www.example.com" },
  },
];
const endpointSlices: EndpointSlice[] = [
  {
    metadata: {
      name: "db-1",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "db" },
    },
    addressType: "IPv4",
    endpoints: ["10.244.1.10", "10.244.1.11", "10.244.1.12"].map((ip, i) => ({
      addresses: [ip],
      hostname: `db-${i}`,
      conditions: { ready: true },
    })),
    ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
  },
  {
    metadata: {
      name: "big-1",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "big" },
    },
    addressType: "IPv4",
    endpoints: many.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  },
];
const pods: Pod[] = [{
  metadata: { name: "p", namespace: "apps" },
  status: { phase: "Running", podIP: "10.244.1.5" },
}];

async function withServers(fn: (main: EmbeddedFlashdns, bare: EmbeddedFlashdns) => Promise<void>) {
  const dir = await tempDir();
  const started: EmbeddedFlashdns[] = [];
  try {
    const upstream = await startEmbeddedFlashdns({
      grpcListen: "127.0.0.1:0",
      dnsListen: "127.0.0.1:0",
      domain: "example.com",
      reverseCidrs: [],
      upstreams: [],
      soaTtl: 60,
    });
    started.push(upstream);
    const up = createFlashdnsClient({ endpoint: upstream.grpcTarget });
    await up.batchUpsert([
      { zone: "example.com", name: "www", type: "A", values: ["192.0.2.53"], ttl: 300, labels: {} },
    ], {});
    up.close();
    const main = await startEmbeddedFlashdns({
      stateDir: `${dir}/flashdns`,
      grpcListen: "127.0.0.1:0",
      dnsListen: "127.0.0.1:0",
      domain: "cluster.local",
      reverseCidrs: ["10.96.0.0/12", "10.244.0.0/16", "fd00:96::/64"],
      upstreams: [`127.0.0.1:${upstream.dns!.port}`],
      soaTtl: 30,
    });
    started.push(main);
    const bare = await startEmbeddedFlashdns({
      grpcListen: "127.0.0.1:0",
      dnsListen: "127.0.0.1:0",
      domain: "cluster.local",
      reverseCidrs: [],
      upstreams: [],
      soaTtl: 30,
    });
    started.push(bare);
    const client = createFlashdnsClient({ endpoint: main.grpcTarget });
    const r = await client.batchUpsert(desiredRecords({ services, endpointSlices, pods }, CTX), {
      owner: CTX.owner,
    });
    client.close();
    assert.deepEqual(r.conflicts, []);
    await fn(main, bare);
  } finally {
    for (const s of started.reverse()) await s.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const SOA =
  "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30";

Deno.test("flashdns dns: answers over UDP and TCP exactly as the records say", async () => {
  await withServers(async (main, bare) => {
    const port = main.dns!.port;
    for (const transport of ["+notcp", "+tcp"]) {
      const a = await dig(port, transport, "web.default.svc.cluster.local", "A");
      assert.equal(a.status, "NOERROR");
      assert.ok(a.flags.includes("aa"), `flags ${a.flags}`);
      assert.deepEqual(a.answer, ["web.default.svc.cluster.local. 30 IN A 10.96.0.100"]);
    }

    const aaaa = await dig(port, "dual.default.svc.cluster.local", "AAAA");
    assert.deepEqual(aaaa.answer, ["dual.default.svc.cluster.local. 30 IN AAAA fd00:96::101"]);

    const srv = await dig(port, "_pg._tcp.db.default.svc.cluster.local", "SRV");
    assert.deepEqual(
      srv.answer,
      [0, 1, 2].map((i) =>
        `_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 33 5432 db-${i}.db.default.svc.cluster.local.`
      ),
    );
    assert.deepEqual(
      srv.additional,
      [0, 1, 2].map((i) => `db-${i}.db.default.svc.cluster.local. 30 IN A 10.244.1.1${i}`),
    );

    const svcSrv = await dig(port, "_http._tcp.web.default.svc.cluster.local", "SRV");
    assert.deepEqual(svcSrv.answer, [
      "_http._tcp.web.default.svc.cluster.local. 30 IN SRV 0 100 80 web.default.svc.cluster.local.",
    ]);
    assert.deepEqual(svcSrv.additional, ["web.default.svc.cluster.local. 30 IN A 10.96.0.100"]);

    const ptr = await dig(port, "-x", "10.96.0.100");
    assert.deepEqual(ptr.answer, [
      "100.0.96.10.in-addr.arpa. 30 IN PTR web.default.svc.cluster.local.",
    ]);
    const ptr6 = await dig(port, "-x", "fd00:96::101");
    assert.equal(ptr6.answer.length, 1);
    assert.match(ptr6.answer[0], /ip6\.arpa\. 30 IN PTR dual\.default\.svc\.cluster\.local\.$/);
    const ptrEp = await dig(port, "-x", "10.244.1.11");
    assert.deepEqual(ptrEp.answer, [
      "11.1.244.10.in-addr.arpa. 30 IN PTR db-1.db.default.svc.cluster.local.",
    ]);

    const txt = await dig(port, "dns-version.cluster.local", "TXT");
    assert.deepEqual(txt.answer, ['dns-version.cluster.local. 30 IN TXT "1.0.1"']);

    const podA = await dig(port, "10-244-1-5.apps.pod.cluster.local", "A");
    assert.deepEqual(podA.answer, ["10-244-1-5.apps.pod.cluster.local. 30 IN A 10.244.1.5"]);
    const podShort = await dig(port, "10-244-1-5.pod.cluster.local", "A");
    assert.deepEqual(podShort.answer, ["10-244-1-5.pod.cluster.local. 30 IN A 10.244.1.5"]);

    // Case-insensitive lookup (K8s DNS spec 2.1).
    const upper = await dig(port, "WEB.Default.SVC.Cluster.Local", "A");
    assert.equal(upper.answer.length, 1);
    assert.match(upper.answer[0], / 30 IN A 10\.96\.0\.100$/);

    // ExternalName: the CNAME, then the target's address resolved upstream.
    const cname = await dig(port, "ext.default.svc.cluster.local", "A");
    assert.equal(cname.status, "NOERROR");
    assert.deepEqual(cname.answer, [
      "ext.default.svc.cluster.local. 30 IN CNAME www.example.com.",
      "www.example.com. 300 IN A 192.0.2.53",
    ]);

    // Names outside the cluster domain are forwarded; the bare server refuses them.
    const fwd = await dig(port, "www.example.com", "A");
    assert.deepEqual(fwd.answer, ["www.example.com. 300 IN A 192.0.2.53"]);
    const refused = await dig(bare.dns!.port, "www.example.com", "A");
    assert.equal(refused.status, "REFUSED");
    assert.deepEqual(refused.answer, []);
  });
});

Deno.test("flashdns dns: NXDOMAIN versus NODATA, SOA in authority", async () => {
  await withServers(async (main) => {
    const port = main.dns!.port;
    const nx = await dig(port, "nope.default.svc.cluster.local", "A");
    assert.equal(nx.status, "NXDOMAIN");
    assert.ok(nx.flags.includes("aa"));
    assert.deepEqual(nx.answer, []);
    assert.deepEqual(nx.authority, [SOA]);

    const nodata = await dig(port, "web.default.svc.cluster.local", "AAAA");
    assert.equal(nodata.status, "NOERROR");
    assert.deepEqual(nodata.answer, []);
    assert.deepEqual(nodata.authority, [SOA]);

    // An empty non-terminal (the namespace) exists: NODATA, not NXDOMAIN.
    const ent = await dig(port, "default.svc.cluster.local", "A");
    assert.equal(ent.status, "NOERROR");
    assert.deepEqual(ent.authority, [SOA]);

    const soa = await dig(port, "cluster.local", "SOA");
    assert.deepEqual(soa.answer, [SOA]);

    const nxRev = await dig(port, "-x", "10.96.0.200");
    assert.equal(nxRev.status, "NXDOMAIN");
    assert.match(nxRev.authority[0], /^10\.in-addr\.arpa\. 30 IN SOA /);
  });
});

Deno.test("flashdns dns: truncation over UDP and fallback to TCP", async () => {
  await withServers(async (main) => {
    const port = main.dns!.port;
    const name = "big.default.svc.cluster.local";
    const expected = many.map((ip) => `${name}. 30 IN A ${ip}`).sort();

    const truncated = await dig(port, "+ignore", "+noedns", name, "A");
    assert.ok(truncated.flags.includes("tc"), `flags ${truncated.flags}`);
    assert.deepEqual(truncated.answer, []);

    // EDNS with a small buffer truncates too.
    const small = await dig(port, "+ignore", "+bufsize=512", name, "A");
    assert.ok(small.flags.includes("tc"));

    // Without +ignore dig retries over TCP and gets everything.
    const retried = await dig(port, "+noedns", name, "A");
    assert.ok(!retried.flags.includes("tc"));
    assert.deepEqual(retried.answer, expected);

    const tcp = await dig(port, "+tcp", name, "A");
    assert.deepEqual(tcp.answer, expected);

    // A large EDNS buffer fits the whole answer over UDP.
    const big = await dig(port, "+bufsize=4096", "+ignore", name, "A");
    assert.ok(!big.flags.includes("tc"));
    assert.deepEqual(big.answer, expected);
  });
});

Deno.test("flashdns dns: records survive a restart (state in the data dir)", async () => {
  const dir = await tempDir();
  const opts = {
    stateDir: `${dir}/flashdns`,
    grpcListen: "127.0.0.1:0",
    dnsListen: "127.0.0.1:0",
    domain: "cluster.local",
    reverseCidrs: ["10.96.0.0/12"],
    upstreams: [],
    soaTtl: 30,
  };
  try {
    const first = await startEmbeddedFlashdns(opts);
    const client = createFlashdnsClient({ endpoint: first.grpcTarget });
    await client.batchUpsert(
      desiredRecords({ services: [services[0]], endpointSlices: [], pods: [] }, CTX),
      {},
    );
    client.close();
    await first.stop();
    const stat = await Deno.stat(`${dir}/flashdns/records.json`);
    assert.equal(stat.mode! & 0o777, 0o600);
    const second = await startEmbeddedFlashdns(opts);
    try {
      const a = await dig(second.dns!.port, "web.default.svc.cluster.local", "A");
      assert.deepEqual(a.answer, ["web.default.svc.cluster.local. 30 IN A 10.96.0.100"]);
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
