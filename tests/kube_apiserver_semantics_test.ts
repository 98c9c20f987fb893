/** Patches, CRDs, namespaces, garbage collection, Services, auth/TLS and fault injection. */
import assert from "node:assert/strict";
import { resourceRef, RESOURCES } from "../mod/kube/resources.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { createKubeApi } from "../mod/kube/client.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { apiError, cm, collectWatch, pod } from "./kube_helpers.ts";

async function withServer(fn: (s: TestApiServer) => Promise<void>) {
  const s = await startTestApiServer();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

Deno.test("apiserver: strategic merge patch merges containers, ports and conditions by key", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.pods, {
      ...pod("p"),
      metadata: { name: "p", namespace: "default", finalizers: ["a.io/x"] },
      spec: {
        containers: [
          { name: "app", image: "app:1", ports: [{ containerPort: 80 }, { containerPort: 443 }] },
          { name: "side", image: "side:1" },
        ],
      },
    });
    const p = await api.patch<KubeObject>(RESOURCES.pods, "p", {
      metadata: { finalizers: ["b.io/y"] },
      spec: {
        containers: [
          { name: "app", image: "app:2", ports: [{ containerPort: 8080 }] },
          { name: "side", $patch: "delete" },
          { name: "new", image: "new:1" },
        ],
      },
    }, { namespace: "default", type: "strategic" });
    assert.deepEqual(p.spec.containers.map((c: KubeObject) => `${c.name}:${c.image}`), [
      "app:app:2",
      "new:new:1",
    ]);
    assert.deepEqual(p.spec.containers[0].ports.map((x: KubeObject) => x.containerPort), [
      80,
      443,
      8080,
    ]);
    // metadata.finalizers merges as a set under strategic merge (as in kube-apiserver).
    assert.deepEqual(p.metadata.finalizers, ["a.io/x", "b.io/y"]);
    const q = await api.patch<KubeObject>(RESOURCES.pods, "p", {
      metadata: { "$deleteFromPrimitiveList/finalizers": ["a.io/x"] },
    }, { namespace: "default", type: "strategic" });
    assert.deepEqual(q.metadata.finalizers, ["b.io/y"]);
    await api.patch(RESOURCES.pods, "p", {
      status: {
        conditions: [{ type: "Ready", status: "False" }, { type: "Scheduled", status: "True" }],
      },
    }, { namespace: "default", type: "strategic", subresource: "status" });
    const r = await api.patch<KubeObject>(RESOURCES.pods, "p", {
      status: { conditions: [{ type: "Ready", status: "True" }] },
    }, { namespace: "default", type: "strategic", subresource: "status" });
    assert.deepEqual(r.status.conditions, [
      { type: "Ready", status: "True" },
      { type: "Scheduled", status: "True" },
    ]);
    // JSON merge patch replaces lists wholesale.
    const m = await api.patch<KubeObject>(RESOURCES.pods, "p", {
      status: { conditions: [{ type: "Ready", status: "False" }] },
    }, { namespace: "default", type: "merge", subresource: "status" });
    assert.deepEqual(m.status.conditions, [{ type: "Ready", status: "False" }]);
  }));

Deno.test("apiserver: JSON patch applies ops in order; a failed test op is 422", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.configMaps, cm("a", "default", { x: "1" }));
    const p = await api.patch<KubeObject>(RESOURCES.configMaps, "a", [
      { op: "test", path: "/data/v", value: "1" },
      { op: "add", path: "/data/w", value: "2" },
      { op: "remove", path: "/metadata/labels/x" },
      { op: "add", path: "/metadata/labels/a~1b", value: "c" },
    ], { namespace: "default", type: "json" });
    assert.deepEqual(p.data, { v: "1", w: "2" });
    assert.deepEqual(p.metadata.labels, { "a/b": "c" });
    await apiError(() =>
      api.patch(RESOURCES.configMaps, "a", [
        { op: "test", path: "/data/v", value: "nope" },
      ], { namespace: "default", type: "json" }), 422);
    await apiError(
      () => api.patch(RESOURCES.configMaps, "missing", { data: {} }, { namespace: "default" }),
      404,
    );
  }));

const PROJECTS_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "projects.plasmacloud.io" },
  spec: {
    group: "plasmacloud.io",
    scope: "Cluster",
    names: { plural: "projects", singular: "project", kind: "Project", listKind: "ProjectList" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      subresources: { status: {} },
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: {
              type: "object",
              required: ["tenant"],
              properties: {
                tenant: { type: "string", minLength: 1 },
                quota: { type: "integer", minimum: 0, default: 10 },
                tier: { type: "string", enum: ["gold", "silver"] },
              },
            },
            status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          },
        },
      },
    }],
  },
};

Deno.test("apiserver: a CRD serves its custom resources with a status subresource", () =>
  withServer(async ({ api }) => {
    const projects = resourceRef("plasmacloud.io", "v1", "projects", "Project", false);
    await apiError(() => api.list(projects), 404);
    const crd = await api.create<KubeObject>(RESOURCES.customResourceDefinitions, PROJECTS_CRD);
    assert.ok(
      crd.status.conditions.some((c: KubeObject) =>
        c.type === "Established" && c.status === "True"
      ),
    );
    const groups = await api.request<{ groups: Array<{ name: string }> }>("GET", "/apis");
    assert.ok(groups.groups.some((g) => g.name === "plasmacloud.io"));
    const created = await api.create<KubeObject>(projects, {
      apiVersion: "plasmacloud.io/v1",
      kind: "Project",
      metadata: { name: "acme" },
      spec: { tenant: "t1" },
      status: { phase: "Ready" },
    });
    assert.equal(
      created.status,
      undefined,
      "status is dropped on create with a status subresource",
    );
    assert.equal(created.metadata.generation, 1);
    assert.deepEqual(created.spec, { tenant: "t1", quota: 10 }, "defaulted");
    // Structural schema: unknown fields pruned, types, enums and required fields enforced.
    const pruned = await api.create<KubeObject>(projects, {
      metadata: { name: "pruned" },
      spec: { tenant: "t", bogus: 1 },
      topLevelJunk: true,
    });
    assert.deepEqual(pruned.spec, { tenant: "t", quota: 10 });
    assert.equal(pruned.topLevelJunk, undefined);
    const inv = await apiError(() =>
      api.create(projects, {
        metadata: { name: "bad" },
        spec: { quota: "lots", tier: "bronze" },
      }), 422);
    const fields = (inv.body!.details!.causes as Array<{ field: string }>).map((c) => c.field)
      .sort();
    assert.deepEqual(fields, ["spec.quota", "spec.tenant", "spec.tier"]);
    assert.match(inv.message, /spec.quota in body must be of type integer/);
    const st = await api.patch<KubeObject>(projects, "acme", {
      status: { phase: "Ready" },
      spec: { tenant: "x" },
    }, {
      subresource: "status",
    });
    assert.equal(st.status.phase, "Ready");
    assert.equal(st.spec.tenant, "t1");
    const up = await api.patch<KubeObject>(projects, "acme", { spec: { tenant: "t2" } });
    assert.equal(up.metadata.generation, 2);
    await apiError(() => api.patch(projects, "acme", { spec: {} }, { type: "strategic" }), 415);
    await api.delete(projects, "pruned");
    const list = await api.list(projects);
    assert.equal(list.kind, "ProjectList");
    assert.equal(list.items[0].kind, "Project");
    // Deleting the CRD removes its objects, ends its watches and stops serving the resource.
    const ac = new AbortController();
    const types: string[] = [];
    const streamDone = (async () => {
      for await (
        const e of api.watch(projects, { resourceVersion: up.metadata.resourceVersion! }, ac.signal)
      ) {
        types.push(`${e.type} ${e.object.metadata.name}`);
      }
      return "ended";
    })();
    await new Promise((r) => setTimeout(r, 20));
    await api.delete(RESOURCES.customResourceDefinitions, "projects.plasmacloud.io");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      streamDone,
      new Promise((r) => timer = setTimeout(() => r("still open"), 2000)),
    ]);
    clearTimeout(timer);
    ac.abort();
    assert.equal(outcome, "ended");
    assert.deepEqual(types, ["DELETED pruned", "DELETED acme"]);
    await apiError(() => api.get(projects, "acme"), 404);
    const bad = await apiError(() =>
      api.create(RESOURCES.customResourceDefinitions, {
        ...PROJECTS_CRD,
        metadata: { name: "wrong.plasmacloud.io" },
      }), 422);
    assert.match(bad.message, /must be spec.names.plural/);
  }));

Deno.test("apiserver: deleting a namespace deletes its content, honouring finalizers", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.namespaces, { metadata: { name: "team" } });
    await api.create(RESOURCES.configMaps, cm("plain", "team"));
    await api.create(RESOURCES.configMaps, {
      ...cm("held", "team"),
      metadata: { name: "held", namespace: "team", finalizers: ["x.io/f"] },
    });
    await api.delete(RESOURCES.namespaces, "team");
    const ns = await api.get<KubeObject>(RESOURCES.namespaces, "team");
    assert.equal(ns.status.phase, "Terminating");
    assert.equal(await api.tryGet(RESOURCES.configMaps, "plain", "team"), undefined);
    const e = await apiError(() => api.create(RESOURCES.configMaps, cm("new", "team")), 403);
    assert.equal(e.reason, "Forbidden");
    await api.patch(RESOURCES.configMaps, "held", { metadata: { finalizers: null } }, {
      namespace: "team",
    });
    assert.equal(await api.tryGet(RESOURCES.namespaces, "team"), undefined);
  }));

Deno.test("apiserver: deleting an owner garbage-collects its dependents", () =>
  withServer(async ({ api }) => {
    const owner = await api.create<KubeObject>(RESOURCES.services, {
      metadata: { name: "web", namespace: "default" },
      spec: { ports: [{ port: 80 }] },
    });
    const ref = {
      apiVersion: "v1",
      kind: "Service",
      name: "web",
      uid: owner.metadata.uid!,
      controller: true,
    };
    await api.create(RESOURCES.endpointSlices, {
      metadata: { name: "web-1", namespace: "default", ownerReferences: [ref] },
      addressType: "IPv4",
      endpoints: [],
    });
    await api.create(RESOURCES.configMaps, {
      ...cm("kept"),
      metadata: { name: "kept", namespace: "default" },
    });
    await api.delete(RESOURCES.services, "web", "default");
    assert.equal(await api.tryGet(RESOURCES.endpointSlices, "web-1", "default"), undefined);
    assert.ok(await api.tryGet(RESOURCES.configMaps, "kept", "default"));
  }));

Deno.test("apiserver: Services get a ClusterIP and NodePorts that survive updates", () =>
  withServer(async ({ api }) => {
    const lb = await api.create<KubeObject>(RESOURCES.services, {
      metadata: { name: "lb", namespace: "default" },
      spec: {
        type: "LoadBalancer",
        ports: [{ name: "http", port: 80 }, { name: "dns", port: 53, protocol: "UDP" }],
      },
    });
    assert.match(lb.spec.clusterIP, /^10\.43\.\d+\.\d+$/);
    assert.deepEqual(lb.spec.clusterIPs, [lb.spec.clusterIP]);
    assert.deepEqual(lb.status, { loadBalancer: {} });
    const nodePorts = lb.spec.ports.map((p: KubeObject) => p.nodePort);
    assert.ok(nodePorts.every((n: number) => n >= 30000 && n <= 32767));
    assert.equal(new Set(nodePorts).size, 2);
    assert.equal(lb.spec.ports[0].targetPort, 80);
    const other = await api.create<KubeObject>(RESOURCES.services, {
      metadata: { name: "other", namespace: "default" },
      spec: { ports: [{ port: 80 }] },
    });
    assert.notEqual(other.spec.clusterIP, lb.spec.clusterIP);
    assert.equal(other.spec.ports[0].nodePort, undefined);
    // A PUT that omits clusterIP and nodePorts keeps them.
    const { clusterIP: _c, clusterIPs: _cs, ...spec } = lb.spec;
    const put = await api.replace<KubeObject>(RESOURCES.services, {
      ...lb,
      spec: { ...spec, ports: spec.ports.map(({ nodePort: _n, ...p }: KubeObject) => p) },
    });
    assert.equal(put.spec.clusterIP, lb.spec.clusterIP);
    assert.deepEqual(put.spec.ports.map((p: KubeObject) => p.nodePort), nodePorts);
    await apiError(
      () =>
        api.patch(RESOURCES.services, "lb", { spec: { clusterIP: "10.43.9.9" } }, {
          namespace: "default",
        }),
      422,
    );
    const st = await api.patch<KubeObject>(RESOURCES.services, "lb", {
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } },
    }, { namespace: "default", subresource: "status" });
    assert.equal(st.status.loadBalancer.ingress[0].ip, "192.0.2.10");
    // Addresses and ports held by another Service are refused, on create and on update.
    await apiError(() =>
      api.create(RESOURCES.services, {
        metadata: { name: "same-ip", namespace: "default" },
        spec: { clusterIP: lb.spec.clusterIP, ports: [{ port: 80 }] },
      }), 422);
    await apiError(() =>
      api.create(RESOURCES.services, {
        metadata: { name: "same-port", namespace: "default" },
        spec: { type: "NodePort", ports: [{ port: 80, nodePort: nodePorts[0] }] },
      }), 422);
    await apiError(
      () =>
        api.patch(RESOURCES.services, "other", {
          spec: { type: "NodePort", ports: [{ port: 80, nodePort: nodePorts[1] }] },
        }, { namespace: "default" }),
      422,
    );
    const moved = await api.patch<KubeObject>(RESOURCES.services, "other", {
      spec: { type: "NodePort", ports: [{ port: 80, nodePort: 31999 }] },
    }, { namespace: "default" });
    assert.equal(moved.spec.ports[0].nodePort, 31999);
  }));

Deno.test("apiserver: HTTPS with a generated CA and bearer-token auth", async () => {
  const s = await startTestApiServer({ tls: true, token: "t0ken" });
  try {
    assert.ok(s.url.startsWith("https://127.0.0.1:"));
    const api = createKubeApi(s.kubeconfigPath);
    try {
      assert.equal((await api.list(RESOURCES.namespaces)).items.length, 4);
    } finally {
      api.close();
    }
    const ca = Deno.createHttpClient({ caCerts: [s.caPem!] });
    try {
      const res = await fetch(`${s.url}/api/v1/namespaces`, { client: ca });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).reason, "Unauthorized");
    } finally {
      ca.close();
    }
  } finally {
    await s.close();
  }
});

Deno.test("apiserver: faults — fail next N, latency, dropped and expired watches", () =>
  withServer(async ({ api, faults }) => {
    faults.failNext(2, 503, { methods: ["GET"] });
    await apiError(() => api.list(RESOURCES.pods), 503);
    await apiError(() => api.get(RESOURCES.namespaces, "default"), 503);
    await api.get(RESOURCES.namespaces, "default");
    faults.setLatency(60);
    const t0 = performance.now();
    await api.get(RESOURCES.namespaces, "default");
    assert.ok(performance.now() - t0 >= 55);
    faults.setLatency(0);
    const ac = new AbortController();
    const seen: string[] = [];
    const rv = (await api.list(RESOURCES.configMaps)).metadata.resourceVersion;
    const done = (async () => {
      for await (const ev of api.watch(RESOURCES.configMaps, { resourceVersion: rv }, ac.signal)) {
        seen.push(ev.type);
      }
    })();
    await api.create(RESOURCES.configMaps, cm("a"));
    await new Promise((r) => setTimeout(r, 50));
    faults.dropWatches();
    await done; // the stream ended without the client aborting
    assert.deepEqual(seen, ["ADDED"]);
    faults.expireNextWatches(1);
    const evs = await collectWatch(
      api,
      RESOURCES.configMaps,
      { resourceVersion: rv },
      (e) => e.length >= 1,
    );
    assert.equal(evs[0].type, "ERROR");
    assert.equal(evs[0].object.code, 410);
    const again = await collectWatch(
      api,
      RESOURCES.configMaps,
      { resourceVersion: rv },
      (e) => e.length >= 1,
    );
    assert.equal(again[0].type, "ADDED");
  }));

Deno.test("apiserver: dryRun=All validates and answers without storing", () =>
  withServer(async ({ api }) => {
    const rv = (await api.list(RESOURCES.configMaps)).metadata.resourceVersion;
    const dry = await api.request<KubeObject>(
      "POST",
      "/api/v1/namespaces/default/configmaps?dryRun=All",
      cm("d"),
    );
    assert.equal(dry.metadata.name, "d");
    assert.equal(await api.tryGet(RESOURCES.configMaps, "d", "default"), undefined);
    await apiError(
      () => api.request("POST", "/api/v1/namespaces/nope/configmaps?dryRun=All", cm("d", "nope")),
      404,
    );
    await api.create(RESOURCES.configMaps, cm("real"));
    await api.request("DELETE", "/api/v1/namespaces/default/configmaps/real?dryRun=All");
    assert.ok(await api.tryGet(RESOURCES.configMaps, "real", "default"));
    await apiError(
      () => api.request("POST", "/api/v1/namespaces/default/configmaps?dryRun=Some", cm("x")),
      400,
    );
    assert.ok(Number((await api.list(RESOURCES.configMaps)).metadata.resourceVersion) > Number(rv));
  }));

Deno.test("apiserver: list at an exact resourceVersion; 410 once compacted", () =>
  withServer(async ({ api, faults }) => {
    const a = await api.create(RESOURCES.configMaps, cm("a"));
    await api.create(RESOURCES.configMaps, cm("b"));
    await api.patch(RESOURCES.configMaps, "a", { data: { v: "2" } }, { namespace: "default" });
    const at = await api.request<KubeObject>(
      "GET",
      `/api/v1/namespaces/default/configmaps?resourceVersion=${a.metadata.resourceVersion}&resourceVersionMatch=Exact`,
    );
    assert.deepEqual(at.items.map((i: KubeObject) => `${i.metadata.name}=${i.data.v}`), ["a=1"]);
    assert.equal(at.metadata.resourceVersion, a.metadata.resourceVersion);
    faults.compact();
    await apiError(() =>
      api.request(
        "GET",
        `/api/v1/namespaces/default/configmaps?resourceVersion=${a.metadata.resourceVersion}&resourceVersionMatch=Exact`,
      ), 410);
  }));
