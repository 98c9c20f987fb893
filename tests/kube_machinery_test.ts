/** patchStatus, finalizer helpers, the Event recorder and kubeconfig loading. */
import assert from "node:assert/strict";
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";
import {
  addFinalizer,
  createEventRecorder,
  k3sKubeconfigPath,
  loadInCluster,
  loadKubeconfigFile,
  patchStatus,
  removeFinalizer,
  RESOURCES,
} from "../mod/kube/mod.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { generateServerTls } from "./support/apiserver/tls.ts";
import { cm, pod } from "./kube_helpers.ts";

/** Counts calls by method name, so tests can tell a skipped write from a made one. */
function counting(api: KubeApi) {
  const calls: Record<string, number> = {};
  const wrapped = new Proxy(api, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r);
      if (typeof v !== "function") return v;
      return (...a: unknown[]) => {
        calls[String(p)] = (calls[String(p)] ?? 0) + 1;
        return v.apply(t, a);
      };
    },
  });
  return { api: wrapped, calls };
}

Deno.test("patchStatus: merges status, retries on conflict, skips no-op writes", async () => {
  const s = await startTestApiServer();
  try {
    const p0 = await s.api.create<KubeObject>(RESOURCES.pods, pod("p"));
    // Someone else updates the object: p0 is now stale.
    await s.api.patch(RESOURCES.pods, "p", { metadata: { labels: { a: "b" } } }, {
      namespace: "default",
    });
    const { api, calls } = counting(s.api);
    const p1 = await patchStatus(api, RESOURCES.pods, p0, { podIP: "10.1.0.5" });
    assert.equal(p1.status.podIP, "10.1.0.5");
    assert.equal(p1.status.phase, "Pending", "merged, not replaced");
    assert.equal(p1.metadata.labels!.a, "b");
    assert.equal(calls.patch, 2, "first patch conflicted, second applied");
    assert.equal(calls.get, 1);
    const p2 = await patchStatus(api, RESOURCES.pods, p1, { podIP: "10.1.0.5" });
    assert.equal(calls.patch, 2, "no write when nothing changes");
    assert.equal(p2, p1);
  } finally {
    await s.close();
  }
});

Deno.test("finalizers: add is idempotent, remove lets a deleting object go", async () => {
  const s = await startTestApiServer();
  try {
    const o = await s.api.create<KubeObject>(RESOURCES.configMaps, cm("f"));
    const a1 = await addFinalizer(s.api, RESOURCES.configMaps, o, "k8shost.io/x");
    const a2 = await addFinalizer(s.api, RESOURCES.configMaps, a1, "k8shost.io/x");
    assert.deepEqual(a2.metadata.finalizers, ["k8shost.io/x"]);
    assert.equal(a2.metadata.resourceVersion, a1.metadata.resourceVersion);
    // Adding with a stale object retries against the fresh one.
    await s.api.patch(RESOURCES.configMaps, "f", { data: { v: "2" } }, { namespace: "default" });
    const a3 = await addFinalizer(s.api, RESOURCES.configMaps, a1, "k8shost.io/y");
    assert.deepEqual(a3.metadata.finalizers, ["k8shost.io/x", "k8shost.io/y"]);
    await s.api.delete(RESOURCES.configMaps, "f", "default");
    const marked = await s.api.get<KubeObject>(RESOURCES.configMaps, "f", "default");
    const r1 = await removeFinalizer(s.api, RESOURCES.configMaps, marked, "k8shost.io/x");
    assert.deepEqual(r1.metadata.finalizers, ["k8shost.io/y"]);
    await removeFinalizer(s.api, RESOURCES.configMaps, r1, "k8shost.io/y");
    assert.equal(await s.api.tryGet(RESOURCES.configMaps, "f", "default"), undefined);
    // Removing from an object that is already gone is fine.
    await removeFinalizer(s.api, RESOURCES.configMaps, r1, "k8shost.io/y");
  } finally {
    await s.close();
  }
});

Deno.test("events: repeats aggregate into one Event with a count", async () => {
  const s = await startTestApiServer();
  try {
    const svc = await s.api.create<KubeObject>(RESOURCES.services, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "default" },
      spec: { ports: [{ port: 80 }] },
    });
    const node = await s.api.create<KubeObject>(RESOURCES.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n1" },
    });
    const rec = createEventRecorder(s.api, "k8shost-fiberlb", { host: "test" });
    await rec.event(svc, "Warning", "AllocationFailed", "no free IP");
    await rec.event(svc, "Warning", "AllocationFailed", "no free IP");
    await rec.event(svc, "Warning", "AllocationFailed", "no free IP");
    await rec.event(svc, "Normal", "Allocated", "got 192.0.2.1");
    await rec.event(node, "Normal", "Seen", "cluster-scoped");
    const evs = (await s.api.list<KubeObject>(RESOURCES.events, { namespace: "default" })).items;
    assert.equal(evs.length, 3);
    const failed = evs.find((e) => e.reason === "AllocationFailed")!;
    assert.equal(failed.count, 3);
    assert.equal(failed.type, "Warning");
    assert.equal(failed.message, "no free IP");
    assert.deepEqual(failed.involvedObject, {
      apiVersion: "v1",
      kind: "Service",
      name: "web",
      namespace: "default",
      uid: svc.metadata.uid,
      resourceVersion: svc.metadata.resourceVersion,
    });
    assert.equal(failed.source.component, "k8shost-fiberlb");
    assert.ok(failed.lastTimestamp >= failed.firstTimestamp);
    const nodeEv = evs.find((e) => e.reason === "Seen")!;
    assert.equal(nodeEv.involvedObject.kind, "Node");
    assert.equal(
      nodeEv.metadata.namespace,
      "default",
      "cluster-scoped objects' events go to default",
    );
    // An aggregated Event deleted meanwhile is created anew rather than failing.
    await s.api.delete(RESOURCES.events, failed.metadata.name!, "default");
    await rec.event(svc, "Warning", "AllocationFailed", "no free IP");
    const again = (await s.api.list<KubeObject>(RESOURCES.events, { namespace: "default" })).items
      .filter((e) => e.reason === "AllocationFailed");
    assert.equal(again.length, 1);
    assert.equal(again[0].count, 1);
    // Recording never throws, even when the API refuses.
    s.faults.failNext(5, 500);
    await rec.event(svc, "Normal", "X", "y");
  } finally {
    await s.close();
  }
});

Deno.test("kubeconfig: file with CA, client certificate and token; in-cluster; k3s path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-kube-cfg-" });
  try {
    const tls = generateServerTls();
    const b64 = (s: string) => btoa(s);
    await Deno.writeTextFile(`${dir}/ca.crt`, tls.caPem);
    await Deno.writeTextFile(
      `${dir}/kc.yaml`,
      `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: ca.crt
users:
- name: u
  user:
    client-certificate-data: ${b64(tls.certPem)}
    client-key-data: ${b64(tls.keyPem)}
- name: t
  user:
    token: abc
contexts:
- name: certs
  context: { cluster: c, user: u }
- name: token
  context: { cluster: c, user: t }
current-context: certs
`,
    );
    const a = loadKubeconfigFile(`${dir}/kc.yaml`);
    assert.equal(a.server, "https://127.0.0.1:6443");
    assert.equal(a.caPem, tls.caPem);
    assert.equal(a.certPem, tls.certPem);
    assert.equal(a.keyPem, tls.keyPem);
    assert.equal(a.token, undefined);
    const t = loadKubeconfigFile(`${dir}/kc.yaml`, "token");
    assert.equal(t.token, "abc");
    assert.throws(() => loadKubeconfigFile(`${dir}/missing.yaml`), /cannot read kubeconfig/);
    await Deno.writeTextFile(`${dir}/token`, "sa-token\n");
    const env = new Map([["KUBERNETES_SERVICE_HOST", "10.43.0.1"], [
      "KUBERNETES_SERVICE_PORT",
      "443",
    ]]);
    const ic = loadInCluster({ get: (k) => env.get(k) }, dir);
    assert.equal(ic.server, "https://10.43.0.1:443");
    assert.equal(ic.tokenFile, `${dir}/token`);
    assert.equal(ic.caPem, tls.caPem);
    assert.throws(() => loadInCluster({ get: () => undefined }, dir), /not in a cluster/);
    assert.equal(k3sKubeconfigPath("/var/lib/k8shost/"), "/var/lib/k8shost/kubeconfig.yaml");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client: token files are re-read, so rotated service-account tokens keep working", async () => {
  const s = await startTestApiServer({ token: "one" });
  const dir = await Deno.makeTempDir({ prefix: "kh-kube-tok-" });
  try {
    const { createKubeClient } = await import("../mod/kube/client.ts");
    await Deno.writeTextFile(`${dir}/token`, "expired");
    const api = createKubeClient({ server: s.url, tokenFile: `${dir}/token`, source: "test" });
    try {
      const e = await api.get(RESOURCES.namespaces, "default").catch((e) => e);
      assert.equal(e.status, 401);
      await Deno.writeTextFile(`${dir}/token`, "one\n"); // the kubelet rotated the token
      assert.equal((await api.get(RESOURCES.namespaces, "default")).metadata.name, "default");
    } finally {
      api.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await s.close();
  }
});
