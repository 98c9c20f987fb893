/**
 * Tenant ids reach the PlasmaCloud backends (issue 9, point 3): a claim in a project's namespace
 * provisions a LightningStor volume owned by that project, a class naming another tenant is
 * refused, and the FlashDNS records of a project's objects carry its org and project. The
 * namespace is the one the tenancy controller wants for a Project (its real labels), everything
 * runs against the test API server, and the backends are the embedded ones over real gRPC.
 */
import assert from "node:assert/strict";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";
import { patchStatus, RESOURCES } from "../mod/kube/mod.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { desiredForProject } from "../mod/tenancy/desired.ts";
import type { Project } from "../mod/tenancy/project.ts";
import { startCsiControllers } from "../csi/kube_controllers.ts";
import { runFlashdnsController } from "../mod/flashdns/controller.ts";
import { fqdn } from "../mod/flashdns/records.ts";
import { clusterFlashdns } from "./flashdns_support.ts";
import { DRIVER, startHarness } from "./csi_harness.ts";
import { startTestBinder } from "./csi_binder.ts";

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates the namespace tenancy makes for project `projectId` of `orgId`. */
async function projectNamespace(api: KubeApi, orgId: string, projectId: string) {
  const project: Project = {
    apiVersion: "plasmacloud.io/v1",
    kind: "Project",
    metadata: { name: projectId },
    spec: { orgId, projectId },
  };
  const ns = desiredForProject(project, { defaultNetworkPolicies: false })[0];
  assert.equal(ns.kind, "Namespace");
  return await api.create(RESOURCES.namespaces, ns);
}

const storageClass = (name: string, parameters: Record<string, string> = {}): KubeObject => ({
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name },
  provisioner: DRIVER,
  reclaimPolicy: "Delete",
  volumeBindingMode: "Immediate",
  parameters,
});

const claim = (name: string, namespace: string, sc: string): KubeObject => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: sc,
    resources: { requests: { storage: "64Mi" } },
  },
});

Deno.test("tenant ids: a project's claim provisions a volume owned by its org and project", async () => {
  const h = await startHarness({ split: true });
  const server = await startTestApiServer();
  const api = server.api;
  const ctl = await startCsiControllers({
    api,
    csiTarget: `unix://${h.root}/ctl.sock`,
    driverName: DRIVER,
    defaultFsType: "ext4",
    forceDetachAfterMs: 60_000,
    resyncMs: 60_000,
  });
  const binder = startTestBinder(api);
  try {
    await ctl.synced();
    await projectNamespace(api, "org-a", "pa");
    await projectNamespace(api, "org-b", "pb");
    await api.create(RESOURCES.storageClasses, storageClass("khtenant-plain", { type: "hdd" }));
    await api.create(
      RESOURCES.storageClasses,
      storageClass("khtenant-of-b", { org_id: "org-b", project_id: "pb" }),
    );
    const volumeOf = async (name: string, ns: string) => {
      const pvc = await until(`claim ${ns}/${name} bound`, async () => {
        const c = await api.get(RESOURCES.persistentVolumeClaims, name, ns);
        return c.status?.phase === "Bound" ? c : undefined;
      });
      const pv = await api.get(RESOURCES.persistentVolumes, pvc.spec.volumeName);
      return await h.store.getVolume(pv.spec.csi.volumeHandle);
    };

    // A class without tenant ids: the namespace's tenant is filled in.
    await api.create(
      RESOURCES.persistentVolumeClaims,
      claim("data", "project-pa", "khtenant-plain"),
    );
    const a = await volumeOf("data", "project-pa");
    assert.deepEqual([a.orgId, a.projectId, a.volumeType], ["org-a", "pa", "hdd"]);

    // A class bound to tenant b serves tenant b's namespace...
    await api.create(
      RESOURCES.persistentVolumeClaims,
      claim("data", "project-pb", "khtenant-of-b"),
    );
    const b = await volumeOf("data", "project-pb");
    assert.deepEqual([b.orgId, b.projectId], ["org-b", "pb"]);

    // ...and is refused for tenant a's: a Warning Event says why, no volume is made.
    const stolen = await api.create(
      RESOURCES.persistentVolumeClaims,
      claim("steal", "project-pa", "khtenant-of-b"),
    );
    const ev = await until("ProvisioningFailed event", async () => {
      const list = await api.list(RESOURCES.events, { namespace: "project-pa" });
      return list.items.find((e) =>
        e.reason === "ProvisioningFailed" && e.involvedObject?.uid === stolen.metadata.uid
      );
    });
    assert.equal(ev.type, "Warning");
    assert.match(ev.message, /org_id="org-b" does not match namespace project-pa's tenant/);
    const names = (await h.store.listVolumes(100, "")).volumes.map((v) => v.name);
    assert.ok(!names.includes(`pvc-${stolen.metadata.uid}`), names.join(","));
    assert.equal(
      await api.tryGet(RESOURCES.persistentVolumes, `pvc-${stolen.metadata.uid}`),
      undefined,
    );

    // A platform namespace (no tenant labels) keeps what the class says.
    await api.create(RESOURCES.persistentVolumeClaims, claim("ops", "default", "khtenant-of-b"));
    const ops = await volumeOf("ops", "default");
    assert.deepEqual([ops.orgId, ops.projectId], ["org-b", "pb"]);
    await api.create(RESOURCES.persistentVolumeClaims, claim("plain", "default", "khtenant-plain"));
    const plain = await volumeOf("plain", "default");
    assert.deepEqual([plain.orgId, plain.projectId], ["", ""]);
  } finally {
    await binder.stop();
    await ctl.stop();
    await server.close();
    await h.close();
  }
});

Deno.test("tenant ids: FlashDNS records of a project's objects carry its org and project", async () => {
  const server = await startTestApiServer();
  const api = server.api;
  const dir = await Deno.makeTempDir({ prefix: "kh-tenant-" });
  const { fd, client } = await clusterFlashdns(dir);
  const abort = new AbortController();
  const ctl = runFlashdnsController({
    api,
    client,
    desired: { domain: "cluster.local", ttl: 30, owner: "k8shost/tenant" },
    resyncMs: 60_000,
    batchSize: 100,
    flushDelayMs: 10,
    log: logger("tenant-test"),
    metrics: new Registry(),
  }, abort.signal);
  const svc = (name: string, namespace: string, ip: string): KubeObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  });
  /** What the backend holds for `<name>.<ns>.svc`, as `TYPE org/project` lines. */
  const stored = async (name: string) => {
    const sets = await client.listRecordSets({ labelSelector: { "k8s-name": name } });
    return sets.map((s) =>
      `${fqdn(s.zone, s.name)} ${s.type} ${s.labels.org_id ?? "-"}/${s.labels.project_id ?? "-"}`
    ).sort();
  };
  try {
    await ctl.synced();
    await projectNamespace(api, "org-a", "pa");
    await api.create(RESOURCES.services, svc("web", "project-pa", "10.96.0.50"));
    await api.create(RESOURCES.services, svc("api", "default", "10.96.0.51"));
    await api.create(RESOURCES.pods, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p1", namespace: "project-pa" },
      spec: { containers: [{ name: "c", image: "x" }] },
    });
    const pod = await api.get(RESOURCES.pods, "p1", "project-pa");
    await patchStatus(api, RESOURCES.pods, pod, {
      phase: "Running",
      podIP: "10.244.3.7",
      podIPs: [{ ip: "10.244.3.7" }],
    });
    const webWant = [
      "50.0.96.10.in-addr.arpa PTR org-a/pa",
      "_http._tcp.web.project-pa.svc.cluster.local SRV org-a/pa",
      "web.project-pa.svc.cluster.local A org-a/pa",
    ];
    assert.deepEqual(
      await until("web records", async () => {
        const s = await stored("web");
        return s.length === 3 ? s : undefined;
      }),
      webWant,
    );
    assert.deepEqual(
      await until("pod records", async () => {
        const s = await stored("p1");
        return s.length === 2 ? s : undefined;
      }),
      [
        "10-244-3-7.pod.cluster.local A org-a/pa",
        "10-244-3-7.project-pa.pod.cluster.local A org-a/pa",
      ],
    );
    // The tenant can list exactly its own records.
    const mine = await client.listRecordSets({
      labelSelector: { org_id: "org-a", project_id: "pa" },
    });
    assert.equal(mine.length, 5);
    // A platform namespace's Service names no tenant.
    assert.deepEqual(
      await until("api records", async () => {
        const s = await stored("api");
        return s.length === 3 ? s : undefined;
      }),
      [
        "51.0.96.10.in-addr.arpa PTR -/-",
        "_http._tcp.api.default.svc.cluster.local SRV -/-",
        "api.default.svc.cluster.local A -/-",
      ],
    );

    // A namespace that becomes a tenant's later (labels added afterwards): its records follow.
    await api.create(RESOURCES.namespaces, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "khtenant-late" },
    });
    await api.create(RESOURCES.services, svc("late", "khtenant-late", "10.96.0.52"));
    await until("late records", async () => (await stored("late")).length === 3);
    assert.ok((await stored("late")).every((l) => l.endsWith(" -/-")));
    await api.patch(RESOURCES.namespaces, "khtenant-late", {
      metadata: {
        labels: { "plasmacloud.io/org-id": "org-c", "plasmacloud.io/project-id": "pc" },
      },
    }, { type: "merge" });
    await until(
      "late records re-attributed",
      async () => (await stored("late")).every((l) => l.endsWith(" org-c/pc")),
    );
  } finally {
    abort.abort();
    await ctl.stopped();
    client.close();
    await fd.stop();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
