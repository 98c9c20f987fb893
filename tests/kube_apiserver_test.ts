/** Pins the test API server to the Kubernetes API conventions controllers rely on. */
import assert from "node:assert/strict";
import { RESOURCES } from "../mod/kube/resources.ts";
import type { KubeList, KubeObject } from "../mod/kube/api.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { apiError, cm, collectWatch, pod } from "./kube_helpers.ts";

async function withServer(fn: (s: TestApiServer) => Promise<void>, tls = false) {
  const s = await startTestApiServer({ tls });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

Deno.test("apiserver: create stamps uid, creationTimestamp, increasing resourceVersion", () =>
  withServer(async ({ api }) => {
    const a = await api.create(RESOURCES.configMaps, cm("a"));
    const b = await api.create(RESOURCES.configMaps, cm("b"));
    assert.match(a.metadata.uid!, /^[0-9a-f-]{36}$/);
    assert.notEqual(a.metadata.uid, b.metadata.uid);
    assert.match(a.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
    const list = await api.list(RESOURCES.configMaps, { namespace: "default" });
    assert.ok(Number(list.metadata.resourceVersion) >= Number(b.metadata.resourceVersion));
    assert.equal(list.kind, "ConfigMapList");
    const got = await api.get(RESOURCES.configMaps, "a", "default");
    assert.deepEqual(got, a);
  }));

Deno.test("apiserver: generateName makes a unique name; no name at all is 422", () =>
  withServer(async ({ api }) => {
    const o1 = await api.create<KubeObject>(RESOURCES.configMaps, {
      metadata: { generateName: "x-", namespace: "default" },
    });
    const o2 = await api.create<KubeObject>(RESOURCES.configMaps, {
      metadata: { generateName: "x-", namespace: "default" },
    });
    assert.match(o1.metadata.name!, /^x-[a-z0-9]{5}$/);
    assert.notEqual(o1.metadata.name, o2.metadata.name);
    const e = await apiError(
      () => api.create(RESOURCES.configMaps, { metadata: { namespace: "default" } }),
      422,
    );
    assert.equal(e.reason, "Invalid");
  }));

Deno.test("apiserver: default namespaces exist; namespaced create in a missing namespace is 404", () =>
  withServer(async ({ api }) => {
    const names = (await api.list(RESOURCES.namespaces)).items.map((n) => n.metadata.name).sort();
    assert.deepEqual(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    const e = await apiError(() => api.create(RESOURCES.configMaps, cm("a", "nope")), 404);
    assert.deepEqual(e.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'namespaces "nope" not found',
      reason: "NotFound",
      details: { name: "nope", kind: "namespaces" },
      code: 404,
    });
  }));

Deno.test("apiserver: 404, 409 AlreadyExists and 422 Status bodies match kube-apiserver", () =>
  withServer(async ({ api }) => {
    const nf = await apiError(() => api.get(RESOURCES.endpointSlices, "x", "default"), 404);
    assert.deepEqual(nf.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'endpointslices.discovery.k8s.io "x" not found',
      reason: "NotFound",
      details: { name: "x", group: "discovery.k8s.io", kind: "endpointslices" },
      code: 404,
    });
    await api.create(RESOURCES.pods, pod("p"));
    const ae = await apiError(() => api.create(RESOURCES.pods, pod("p")), 409);
    assert.equal(ae.reason, "AlreadyExists");
    assert.equal(ae.body?.message, 'pods "p" already exists');
    assert.deepEqual(ae.body?.details, { name: "p", kind: "pods" });
    const inv = await apiError(() =>
      api.create(RESOURCES.services, {
        metadata: { name: "Bad_Name", namespace: "default" },
        spec: { ports: [{ port: 80 }] },
      }), 422);
    assert.equal(inv.reason, "Invalid");
    assert.equal(inv.body?.status, "Failure");
    assert.equal(inv.body?.details?.kind, "Service");
    assert.equal(inv.body?.details?.name, "Bad_Name");
    assert.match(
      inv.body!.message,
      /^Service "Bad_Name" is invalid: metadata\.name: Invalid value/,
    );
    const causes = inv.body?.details?.causes as Array<{ field: string; reason: string }>;
    assert.equal(causes[0].field, "metadata.name");
    assert.equal(causes[0].reason, "FieldValueInvalid");
  }));

Deno.test("apiserver: update with a stale resourceVersion is 409 Conflict", () =>
  withServer(async ({ api }) => {
    const v1 = await api.create(RESOURCES.configMaps, cm("a"));
    const v2 = await api.replace(RESOURCES.configMaps, { ...v1, data: { v: "2" } });
    assert.ok(Number(v2.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
    const e = await apiError(
      () => api.replace(RESOURCES.configMaps, { ...v1, data: { v: "3" } }),
      409,
    );
    assert.equal(e.reason, "Conflict");
    assert.equal(
      e.body?.message,
      'Operation cannot be fulfilled on configmaps "a": the object has been modified; please ' +
        "apply your changes to the latest version and try again",
    );
    // A patch carrying a stale resourceVersion conflicts too; without one it applies.
    await apiError(() =>
      api.patch(RESOURCES.configMaps, "a", {
        metadata: { resourceVersion: v1.metadata.resourceVersion },
        data: { v: "4" },
      }, { namespace: "default" }), 409);
    const p = await api.patch(RESOURCES.configMaps, "a", { data: { v: "5" } }, {
      namespace: "default",
    });
    assert.equal(p.data.v, "5");
    // An update that changes nothing keeps the resourceVersion (no event, no write).
    const same = await api.replace(RESOURCES.configMaps, p);
    assert.equal(same.metadata.resourceVersion, p.metadata.resourceVersion);
  }));

Deno.test("apiserver: status subresource — status writes ignore spec, main writes ignore status", () =>
  withServer(async ({ api }) => {
    const created = await api.create<KubeObject>(RESOURCES.pods, {
      ...pod("p"),
      status: { phase: "Running", podIP: "10.0.0.9" },
    });
    assert.deepEqual(
      created.status,
      { phase: "Pending", qosClass: "BestEffort" },
      "status reset on create",
    );
    assert.equal(created.metadata.generation, 1);
    const st = await api.replace(RESOURCES.pods, {
      ...created,
      spec: { ...created.spec, nodeName: "sneaky" },
      status: { phase: "Running", podIP: "10.0.0.9" },
    }).then(() => api.get<KubeObject>(RESOURCES.pods, "p", "default"));
    assert.equal(st.status.phase, "Pending", "main update must not change status");
    assert.equal(st.spec.nodeName, "sneaky");
    assert.equal(st.metadata.generation, 2, "spec change bumps generation");
    const s2 = await api.patch(RESOURCES.pods, "p", {
      spec: { nodeName: "other" },
      status: { phase: "Running", podIP: "10.0.0.9" },
    }, { namespace: "default", subresource: "status" });
    assert.equal(s2.status.phase, "Running");
    assert.equal(s2.status.podIP, "10.0.0.9");
    assert.equal(s2.spec.nodeName, "sneaky", "status update must not change spec");
    assert.equal(s2.metadata.generation, 2, "status change does not bump generation");
    const s3 = await api.request<KubeObject>("PUT", "/api/v1/namespaces/default/pods/p/status", {
      ...s2,
      spec: { containers: [] },
      status: { phase: "Succeeded" },
    });
    assert.equal(s3.status.phase, "Succeeded");
    assert.equal(s3.spec.nodeName, "sneaky");
    // ConfigMaps have no status subresource.
    await api.create(RESOURCES.configMaps, cm("c"));
    await apiError(() =>
      api.patch(RESOURCES.configMaps, "c", { status: {} }, {
        namespace: "default",
        subresource: "status",
      }), 404);
  }));

Deno.test("apiserver: a finalizer blocks deletion until removed", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.configMaps, {
      ...cm("f"),
      metadata: { ...cm("f").metadata, finalizers: ["x.io/hold"] },
    });
    await api.delete(RESOURCES.configMaps, "f", "default");
    const marked = await api.get(RESOURCES.configMaps, "f", "default");
    assert.ok(marked.metadata.deletionTimestamp, "delete sets deletionTimestamp");
    assert.deepEqual(marked.metadata.finalizers, ["x.io/hold"]);
    // A second delete is harmless and changes nothing.
    await api.delete(RESOURCES.configMaps, "f", "default");
    assert.equal(
      (await api.get(RESOURCES.configMaps, "f", "default")).metadata.resourceVersion,
      marked.metadata.resourceVersion,
    );
    // No new finalizers on an object being deleted.
    await apiError(() =>
      api.patch(RESOURCES.configMaps, "f", {
        metadata: { finalizers: ["x.io/hold", "y.io/new"] },
      }, { namespace: "default" }), 422);
    await api.patch(RESOURCES.configMaps, "f", { metadata: { finalizers: [] } }, {
      namespace: "default",
    });
    assert.equal(await api.tryGet(RESOURCES.configMaps, "f", "default"), undefined);
  }));

Deno.test("apiserver: watch resumes from a resourceVersion and reports 410 once compacted", () =>
  withServer(async ({ api, faults }) => {
    const a = await api.create(RESOURCES.configMaps, cm("a"));
    await api.create(RESOURCES.configMaps, cm("b"));
    await api.patch(RESOURCES.configMaps, "a", { data: { v: "2" } }, { namespace: "default" });
    await api.delete(RESOURCES.configMaps, "b", "default");
    const evs = await collectWatch(api, RESOURCES.configMaps, {
      namespace: "default",
      resourceVersion: a.metadata.resourceVersion!,
    }, (e) => e.length >= 3);
    assert.deepEqual(evs.map((e) => `${e.type} ${e.object.metadata.name}`), [
      "ADDED b",
      "MODIFIED a",
      "DELETED b",
    ]);
    const rvs = evs.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual(rvs, [...rvs].sort((x, y) => x - y));
    // The DELETED event carries the deletion's own resourceVersion.
    assert.ok(rvs[2] > rvs[1]);
    faults.compact();
    const gone = await collectWatch(api, RESOURCES.configMaps, {
      namespace: "default",
      resourceVersion: a.metadata.resourceVersion!,
    }, (e) => e.length >= 1);
    assert.equal(gone.length, 1);
    assert.equal(gone[0].type, "ERROR");
    assert.equal(gone[0].object.code, 410);
    assert.equal(gone[0].object.reason, "Expired");
    assert.equal(gone[0].object.kind, "Status");
  }));

Deno.test("apiserver: watch from 0 lists current objects; bookmarks carry the latest version", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.configMaps, cm("a"));
    const evs = await collectWatch(api, RESOURCES.configMaps, {
      namespace: "default",
      resourceVersion: "0",
      allowWatchBookmarks: true,
    }, (e) => e.some((x) => x.type === "BOOKMARK"));
    assert.equal(evs[0].type, "ADDED");
    const bm = evs.find((e) => e.type === "BOOKMARK")!;
    assert.ok(
      Number(bm.object.metadata.resourceVersion) >= Number(evs[0].object.metadata.resourceVersion),
    );
  }));

Deno.test("apiserver: label and field selectors on list and watch", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.configMaps, cm("a", "default", { app: "web", tier: "front" }));
    await api.create(RESOURCES.configMaps, cm("b", "default", { app: "db" }));
    await api.create(RESOURCES.configMaps, cm("c", "kube-system", { app: "web" }));
    const names = async (o: Parameters<typeof api.list>[1]) =>
      (await api.list(RESOURCES.configMaps, o)).items.map((i) => i.metadata.name).sort();
    assert.deepEqual(await names({ labelSelector: "app=web" }), ["a", "c"]);
    assert.deepEqual(await names({ labelSelector: "app in (web,db),tier" }), ["a"]);
    assert.deepEqual(await names({ labelSelector: "app!=web" }), ["b"]);
    assert.deepEqual(await names({ labelSelector: "!tier" }), ["b", "c"]);
    assert.deepEqual(await names({ namespace: "default", labelSelector: "app=web" }), ["a"]);
    assert.deepEqual(await names({ fieldSelector: "metadata.namespace=kube-system" }), ["c"]);
    assert.deepEqual(
      await names({ fieldSelector: "metadata.name!=a,metadata.namespace=default" }),
      ["b"],
    );
    await apiError(() => api.list(RESOURCES.configMaps, { labelSelector: "a in (" }), 400);
    const p = await api.create(RESOURCES.pods, {
      ...pod("p1"),
      spec: { ...pod("p1").spec, nodeName: "n1" },
    });
    await api.create(RESOURCES.pods, { ...pod("p2"), spec: { ...pod("p2").spec, nodeName: "n2" } });
    const onN1 = await api.list(RESOURCES.pods, { fieldSelector: "spec.nodeName=n1" });
    assert.deepEqual(onN1.items.map((i) => i.metadata.name), ["p1"]);
    // A watch with a selector sees objects enter (ADDED) and leave (DELETED) its selection.
    const from = p.metadata.resourceVersion!;
    await api.patch(RESOURCES.configMaps, "b", { metadata: { labels: { app: "web" } } }, {
      namespace: "default",
    });
    await api.patch(RESOURCES.configMaps, "a", { metadata: { labels: { app: "x" } } }, {
      namespace: "default",
    });
    const evs = await collectWatch(api, RESOURCES.configMaps, {
      namespace: "default",
      labelSelector: "app=web",
      resourceVersion: from,
    }, (e) => e.length >= 2);
    assert.deepEqual(evs.map((e) => `${e.type} ${e.object.metadata.name}`), [
      "ADDED b",
      "DELETED a",
    ]);
  }));

Deno.test("apiserver: paginated lists are a consistent snapshot; expired continue is 410", () =>
  withServer(async ({ api, faults }) => {
    for (let i = 0; i < 10; i++) await api.create(RESOURCES.configMaps, cm(`c${i}`));
    const p1 = await api.list(RESOURCES.configMaps, { namespace: "default", limit: 4 });
    assert.equal(p1.items.length, 4);
    assert.ok(p1.metadata.continue);
    // Changes after the first page are not visible in later pages.
    await api.delete(RESOURCES.configMaps, "c8", "default");
    await api.create(RESOURCES.configMaps, cm("c99"));
    await api.patch(RESOURCES.configMaps, "c5", { data: { v: "changed" } }, {
      namespace: "default",
    });
    const all = [...p1.items];
    let cont: string | undefined = p1.metadata.continue;
    while (cont) {
      const p: KubeList = await api.list(RESOURCES.configMaps, {
        namespace: "default",
        limit: 4,
        continue: cont,
      });
      assert.equal(p.metadata.resourceVersion, p1.metadata.resourceVersion);
      all.push(...p.items);
      cont = p.metadata.continue;
    }
    assert.deepEqual(all.map((i) => i.metadata.name), [...Array(10).keys()].map((i) => `c${i}`));
    assert.equal(all.find((i) => i.metadata.name === "c5")!.data.v, "1");
    const q1 = await api.list(RESOURCES.configMaps, { namespace: "default", limit: 2 });
    await api.create(RESOURCES.configMaps, cm("late"));
    faults.compact();
    const e = await apiError(
      () =>
        api.list(RESOURCES.configMaps, {
          namespace: "default",
          limit: 2,
          continue: q1.metadata.continue,
        }),
      410,
    );
    assert.equal(e.reason, "Expired");
  }));

Deno.test("apiserver: cluster-scoped vs namespaced paths", () =>
  withServer(async ({ api }) => {
    await api.create(RESOURCES.nodes, {
      metadata: { name: "n1" },
      status: { addresses: [{ type: "InternalIP", address: "10.1.1.1" }] },
    });
    const n = await api.get(RESOURCES.nodes, "n1");
    assert.equal(n.metadata.namespace, undefined);
    assert.equal(n.status.addresses[0].address, "10.1.1.1", "node status is kept on create");
    await apiError(() => api.request("GET", "/api/v1/namespaces/default/nodes/n1"), 404);
    // Namespaced resources list across all namespaces at the cluster path.
    await api.create(RESOURCES.configMaps, cm("x", "kube-system"));
    await api.create(RESOURCES.configMaps, cm("y", "default"));
    const all = await api.list(RESOURCES.configMaps);
    assert.deepEqual(all.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), [
      "default/y",
      "kube-system/x",
    ]);
  }));
