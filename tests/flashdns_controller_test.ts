/**
 * The controller end to end: the test API server, the real informers, the embedded FlashDNS over
 * real gRPC, and `dig` against its DNS port. Objects created through the API must answer over DNS
 * within seconds; changes and deletions must leave no stale record; drift is repaired; foreign
 * records stay. The part itself is started once to check the embedded wiring and the kube-dns
 * Service that makes the cluster DNS IP reach it.
 */
import assert from "node:assert/strict";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { configSpec } from "../mod/config/spec.ts";
import type { Config } from "../mod/config/spec.ts";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";
import { createFlashdnsClient } from "../mod/flashdns/client.ts";
import { runFlashdnsController } from "../mod/flashdns/controller.ts";
import { createFlashdnsPart } from "../mod/flashdns/mod.ts";
import { startEmbeddedFlashdns } from "../mod/flashdnsd/mod.ts";
import { clusterFlashdns, dig, tempDir } from "./flashdns_support.ts";

const OWNER = "k8shost/ctl";

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

async function answers(port: number, name: string, type = "A"): Promise<string[]> {
  return (await dig(port, name, type)).answer;
}

function svc(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "default" }, spec };
}

Deno.test("flashdns controller: objects answer over DNS, changes and deletions converge", async () => {
  const server = await startTestApiServer();
  const dir = await tempDir();
  const { fd, client } = await clusterFlashdns(dir, { dns: true });
  const abort = new AbortController();
  const port = fd.dns!.port;
  try {
    await client.batchUpsert([
      {
        zone: "cluster.local",
        name: "legacy.default.svc",
        type: "A",
        values: ["10.0.0.9"],
        ttl: 60,
        labels: {},
      },
    ], {});
    const api = server.api;
    await api.create(
      RESOURCES.services,
      svc("web", {
        clusterIP: "10.96.0.100",
        clusterIPs: ["10.96.0.100"],
        ports: [{ name: "http", port: 80, protocol: "TCP" }],
      }),
    );
    const ctl = runFlashdnsController({
      api,
      client,
      desired: { domain: "cluster.local", ttl: 30, owner: OWNER },
      resyncMs: 60_000,
      batchSize: 100,
      flushDelayMs: 10,
      log: logger("flashdns-test"),
      metrics: new Registry(),
    }, abort.signal);
    await ctl.synced();

    // Present before the controller started: answered after the first resync.
    assert.deepEqual(await answers(port, "web.default.svc.cluster.local"), [
      "web.default.svc.cluster.local. 30 IN A 10.96.0.100",
    ]);
    assert.deepEqual(await answers(port, "dns-version.cluster.local", "TXT"), [
      'dns-version.cluster.local. 30 IN TXT "1.0.1"',
    ]);

    // A headless Service and its EndpointSlice, created while running.
    await api.create(RESOURCES.services, svc("db", { clusterIP: "None", clusterIPs: ["None"] }));
    await api.create(RESOURCES.endpointSlices, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "db-abc",
        namespace: "default",
        labels: { "kubernetes.io/service-name": "db" },
      },
      addressType: "IPv4",
      endpoints: [
        { addresses: ["10.244.1.10"], hostname: "db-0", conditions: { ready: true } },
        { addresses: ["10.244.1.11"], hostname: "db-1", conditions: { ready: false } },
      ],
      ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
    });
    assert.deepEqual(
      await eventually("db SRV", async () => {
        const a = await answers(port, "_pg._tcp.db.default.svc.cluster.local", "SRV");
        return a.length ? a : undefined;
      }),
      ["_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 5432 db-0.db.default.svc.cluster.local."],
    );

    // The second endpoint becomes ready: both answer.
    const slice = await api.get<KubeObject>(RESOURCES.endpointSlices, "db-abc", "default");
    slice.endpoints[1].conditions.ready = true;
    await api.replace(RESOURCES.endpointSlices, slice);
    await eventually(
      "db with two endpoints",
      async () =>
        (await answers(port, "db.default.svc.cluster.local")).length === 2 ? true : undefined,
    );
    assert.deepEqual(await answers(port, "db-1.db.default.svc.cluster.local"), [
      "db-1.db.default.svc.cluster.local. 30 IN A 10.244.1.11",
    ]);

    // A pod with an IP gets both pod names.
    await api.create(RESOURCES.pods, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default" },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    });
    await api.patch(RESOURCES.pods, "p", {
      status: { phase: "Running", podIP: "10.244.2.5", podIPs: [{ ip: "10.244.2.5" }] },
    }, {
      namespace: "default",
      subresource: "status",
    });
    await eventually(
      "pod record",
      async () =>
        (await answers(port, "10-244-2-5.default.pod.cluster.local")).length === 1
          ? true
          : undefined,
    );
    assert.deepEqual(await answers(port, "10-244-2-5.pod.cluster.local"), [
      "10-244-2-5.pod.cluster.local. 30 IN A 10.244.2.5",
    ]);

    // Drift: our record is removed behind the controller's back; a resync restores it.
    await client.batchDelete([{ zone: "cluster.local", name: "web.default.svc", type: "A" }], {});
    // (The name still has the SRV below it, so it is an empty non-terminal: NODATA.)
    const drifted = await dig(port, "web.default.svc.cluster.local", "A");
    assert.deepEqual([drifted.status, drifted.answer], ["NOERROR", []]);
    await ctl.resync();
    assert.equal((await answers(port, "web.default.svc.cluster.local")).length, 1);

    // Deletions: the Service and its records go, the pod's records go; nothing stale remains.
    await api.delete(RESOURCES.services, "web", "default");
    await api.delete(RESOURCES.pods, "p", "default");
    await eventually(
      "web gone",
      async () =>
        (await dig(port, "web.default.svc.cluster.local", "A")).status === "NXDOMAIN"
          ? true
          : undefined,
    );
    await eventually(
      "pod gone",
      async () =>
        (await dig(port, "10-244-2-5.default.pod.cluster.local", "A")).status === "NXDOMAIN"
          ? true
          : undefined,
    );
    assert.equal((await dig(port, "-x", "10.96.0.100")).status, "NXDOMAIN");
    assert.equal(
      (await dig(port, "_http._tcp.web.default.svc.cluster.local", "SRV")).status,
      "NXDOMAIN",
    );
    await ctl.idle();

    // Only our sets carry our label, and the foreign record is untouched.
    const ours = await client.listRecordSets({ labelSelector: { owner: OWNER } });
    assert.ok(ours.every((s) => !s.name.startsWith("web.") && !s.name.includes("10-244-2-5")));
    assert.deepEqual(await answers(port, "legacy.default.svc.cluster.local"), [
      "legacy.default.svc.cluster.local. 60 IN A 10.0.0.9",
    ]);
  } finally {
    abort.abort();
    client.close();
    await fd.stop();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

function testConfig(dir: string, overrides: Record<string, unknown>): Config {
  const issues: ConfigIssue[] = [];
  const config = validate(configSpec, { dataDir: dir, ...overrides }, "", issues) as Config;
  assert.deepEqual(issues, []);
  return config;
}

Deno.test("flashdns part: embedded backend, DNS answers, and the kube-dns Service at the cluster DNS IP", async () => {
  const server = await startTestApiServer();
  const dir = await tempDir();
  const config = testConfig(dir, {
    networking: { nodeIP: "192.0.2.10" },
    flashdns: { listen: "127.0.0.1:0", grpcListen: "127.0.0.1:0", clusterName: "part" },
  });
  const part = await createFlashdnsPart({
    config,
    role: "server",
    log: logger("flashdns-test"),
    metrics: new Registry(),
    kubeconfig: server.kubeconfigPath,
    nodeName: "node-a",
  });
  const abort = new AbortController();
  try {
    assert.notEqual(part.ready(), true);
    await part.start(abort.signal);
    assert.equal(part.ready(), true);
    const kubeDns = await server.api.get<KubeObject>(RESOURCES.services, "kube-dns", "kube-system");
    assert.equal(kubeDns.spec.clusterIP, "10.96.0.10");
    assert.equal(kubeDns.spec.selector, undefined);
    const slice = await server.api.get<KubeObject>(
      RESOURCES.endpointSlices,
      "kube-dns-flashdns-node-a",
      "kube-system",
    );
    assert.deepEqual(slice.endpoints[0].addresses, ["192.0.2.10"]);
    const port = slice.ports[0].port as number;
    assert.ok(port > 0);
    // The published port is the embedded server's, and it answers the kube-dns Service's own name.
    await eventually(
      "kube-dns record",
      async () =>
        (await answers(port, "kube-dns.kube-system.svc.cluster.local")).length === 1
          ? true
          : undefined,
    );
    assert.deepEqual(await answers(port, "kube-dns.kube-system.svc.cluster.local"), [
      "kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10",
    ]);
    const state = await Deno.stat(`${dir}/flashdns/records.json`);
    assert.ok(state.isFile);
    // Stopping withdraws this node's endpoint so the Service no longer sends queries here.
    await part.stop();
    assert.equal(
      await server.api.tryGet(RESOURCES.endpointSlices, "kube-dns-flashdns-node-a", "kube-system"),
      undefined,
    );
  } finally {
    abort.abort();
    await part.stop(); // safe twice
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flashdns part: with a remote FlashDNS the lease holder syncs it and nothing is published", async () => {
  const server = await startTestApiServer();
  const dir = await tempDir();
  const remote = await startEmbeddedFlashdns({
    grpcListen: "127.0.0.1:0",
    domain: "cluster.local",
    reverseCidrs: [],
    upstreams: [],
    soaTtl: 30,
  });
  const client = createFlashdnsClient({ endpoint: remote.grpcTarget });
  const parts = await Promise.all(["node-a", "node-b"].map((nodeName) =>
    createFlashdnsPart({
      config: testConfig(dir, { flashdns: { endpoint: remote.grpcTarget, clusterName: "remote" } }),
      role: "server",
      log: logger("flashdns-test"),
      metrics: new Registry(),
      kubeconfig: server.kubeconfigPath,
      nodeName,
    })
  ));
  const abort = new AbortController();
  try {
    await server.api.create(
      RESOURCES.services,
      svc("web", { clusterIP: "10.96.0.100", clusterIPs: ["10.96.0.100"] }),
    );
    for (const p of parts) await p.start(abort.signal);
    const lease = await eventually("a lease holder", async () => {
      const l = await server.api.tryGet<KubeObject>(
        RESOURCES.leases,
        "k8shost-flashdns",
        "kube-system",
      );
      return l?.spec?.holderIdentity ? l : undefined;
    });
    assert.ok(["node-a", "node-b"].includes(lease.spec.holderIdentity));
    const sets = await eventually("records in the remote FlashDNS", async () => {
      const s = await client.listRecordSets({ labelSelector: { owner: "k8shost/remote" } });
      return s.some((x) => x.name === "web.default.svc" && x.type === "A") ? s : undefined;
    });
    assert.deepEqual(sets.find((x) => x.name === "web.default.svc" && x.type === "A")?.values, [
      "10.96.0.100",
    ]);
    // No embedded server was started, so no kube-dns Service was published.
    assert.equal(await server.api.tryGet(RESOURCES.services, "kube-dns", "kube-system"), undefined);
  } finally {
    abort.abort();
    for (const p of parts) await p.stop();
    client.close();
    await remote.stop();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
