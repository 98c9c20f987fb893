/**
 * The embedded provisioner, attacher and resizer against the test API server, driving the real
 * CSI controller over its socket and the embedded LightningStor behind it.
 */
import assert from "node:assert/strict";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { startCsiControllers } from "../csi/kube_controllers.ts";
import { TOPOLOGY_NODE_KEY } from "../csi/capability.ts";
import { DRIVER, GiB, type Harness, startHarness } from "./csi_harness.ts";
import { startTestBinder } from "./csi_binder.ts";

interface Env {
  h: Harness;
  server: TestApiServer;
}

async function withEnv(fn: (e: Env) => Promise<void>, forceDetachAfterMs = 60_000) {
  const h = await startHarness({ split: true });
  const server = await startTestApiServer();
  const ctl = await startCsiControllers({
    api: server.api,
    csiTarget: `unix://${h.root}/ctl.sock`,
    driverName: DRIVER,
    defaultFsType: "ext4",
    forceDetachAfterMs,
    resyncMs: 60_000,
  });
  const binder = startTestBinder(server.api);
  try {
    await ctl.synced();
    await server.api.create(RESOURCES.nodes, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: h.nodeId },
    });
    await fn({ h, server });
  } finally {
    await binder.stop();
    await ctl.stop();
    await server.close();
    await h.close();
  }
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const storageClass = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name },
  provisioner: DRIVER,
  reclaimPolicy: "Delete",
  volumeBindingMode: "Immediate",
  ...extra,
});

const claim = (
  name: string,
  sc: string,
  size = "1Gi",
  extra: Record<string, unknown> = {},
): KubeObject => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace: "default", ...extra },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: sc,
    resources: { requests: { storage: size } },
  },
});

async function boundPv(e: Env, name: string): Promise<KubeObject> {
  const pvc = await until("claim bound", async () => {
    const c = await e.server.api.get(RESOURCES.persistentVolumeClaims, name, "default");
    return c.status?.phase === "Bound" ? c : undefined;
  });
  return await e.server.api.get(RESOURCES.persistentVolumes, pvc.spec.volumeName);
}

Deno.test("csi provisioner: immediate class → volume, PV with claimRef and affinity, bound claim", () =>
  withEnv(async (e) => {
    const api = e.server.api;
    const driver = await api.get(RESOURCES.csiDrivers, DRIVER);
    assert.equal(driver.spec.attachRequired, true);
    await api.create(
      RESOURCES.storageClasses,
      storageClass("khcsi-hdd", {
        parameters: {
          type: "hdd",
          replication: "2",
          "csi.storage.k8s.io/fstype": "xfs",
          "csi.storage.k8s.io/provisioner-secret-name": "unused",
        },
        mountOptions: ["noatime"],
      }),
    );
    const pvc = await api.create(
      RESOURCES.persistentVolumeClaims,
      claim("data", "khcsi-hdd", "1Gi"),
    );
    const pv = await boundPv(e, "data");
    assert.equal(pv.metadata.name, `pvc-${pvc.metadata.uid}`);
    assert.equal(pv.metadata.annotations?.["pv.kubernetes.io/provisioned-by"], DRIVER);
    assert.deepEqual(
      { ns: pv.spec.claimRef.namespace, name: pv.spec.claimRef.name, uid: pv.spec.claimRef.uid },
      { ns: "default", name: "data", uid: pvc.metadata.uid },
    );
    assert.equal(pv.spec.capacity.storage, "1Gi");
    assert.equal(pv.spec.csi.driver, DRIVER);
    assert.equal(pv.spec.csi.fsType, "xfs");
    assert.deepEqual(pv.spec.mountOptions, ["noatime"]);
    assert.deepEqual(pv.spec.csi.volumeAttributes, { type: "hdd", replication: "2" });
    assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms, [{
      matchExpressions: [{ key: TOPOLOGY_NODE_KEY, operator: "In", values: [e.h.nodeId] }],
    }]);
    const vol = await e.h.store.getVolume(pv.spec.csi.volumeHandle);
    assert.equal(vol.name, `pvc-${pvc.metadata.uid}`);
    assert.equal(vol.volumeType, "hdd");
    assert.equal(vol.replicationFactor, 2);
    assert.equal(vol.sizeBytes, GiB);
    const events = await api.list(RESOURCES.events, { namespace: "default" });
    assert.ok(events.items.some((ev) => ev.reason === "ProvisioningSucceeded"));
  }));

Deno.test("csi provisioner: WaitForFirstConsumer waits for the selected node", () =>
  withEnv(async (e) => {
    const api = e.server.api;
    await api.create(
      RESOURCES.storageClasses,
      storageClass("khcsi-wffc", { volumeBindingMode: "WaitForFirstConsumer" }),
    );
    const pvc = await api.create(RESOURCES.persistentVolumeClaims, claim("late", "khcsi-wffc"));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      await api.tryGet(RESOURCES.persistentVolumes, `pvc-${pvc.metadata.uid}`),
      undefined,
    );
    assert.equal((await e.h.store.listVolumes(0, "")).volumes.length, 0, "nothing provisioned yet");
    await api.patch(RESOURCES.persistentVolumeClaims, "late", {
      metadata: { annotations: { "volume.kubernetes.io/selected-node": e.h.nodeId } },
    }, { namespace: "default", type: "merge" });
    const pv = await boundPv(e, "late");
    assert.deepEqual(
      pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values,
      [e.h.nodeId],
    );
  }));

Deno.test("csi provisioner: reclaim Delete removes the volume, Retain keeps it", () =>
  withEnv(async (e) => {
    const api = e.server.api;
    await api.create(RESOURCES.storageClasses, storageClass("khcsi-del"));
    await api.create(
      RESOURCES.storageClasses,
      storageClass("khcsi-keep", { reclaimPolicy: "Retain" }),
    );
    await api.create(RESOURCES.persistentVolumeClaims, claim("gone", "khcsi-del"));
    await api.create(RESOURCES.persistentVolumeClaims, claim("kept", "khcsi-keep"));
    const pvDel = await boundPv(e, "gone");
    const pvKeep = await boundPv(e, "kept");
    assert.deepEqual(pvDel.metadata.finalizers, [
      "external-provisioner.volume.kubernetes.io/finalizer",
    ]);
    await api.delete(RESOURCES.persistentVolumeClaims, "gone", "default");
    await api.delete(RESOURCES.persistentVolumeClaims, "kept", "default");
    await until(
      "deleted PV gone",
      async () => !(await api.tryGet(RESOURCES.persistentVolumes, pvDel.metadata.name!)),
    );
    await assert.rejects(e.h.store.getVolume(pvDel.spec.csi.volumeHandle), /NOT_FOUND|not found/);
    await until(
      "retained PV released",
      async () =>
        (await api.get(RESOURCES.persistentVolumes, pvKeep.metadata.name!)).status?.phase ===
          "Released",
    );
    assert.equal(
      (await e.h.store.getVolume(pvKeep.spec.csi.volumeHandle)).id,
      pvKeep.spec.csi.volumeHandle,
    );
  }));

async function attachment(e: Env, pvName: string, name = `csi-${crypto.randomUUID().slice(0, 8)}`) {
  return await e.server.api.create(RESOURCES.volumeAttachments, {
    apiVersion: "storage.k8s.io/v1",
    kind: "VolumeAttachment",
    metadata: { name },
    spec: { attacher: DRIVER, nodeName: e.h.nodeId, source: { persistentVolumeName: pvName } },
  });
}

Deno.test("csi attacher: VolumeAttachment → ControllerPublish → status; delete detaches", () =>
  withEnv(async (e) => {
    const api = e.server.api;
    await api.create(RESOURCES.storageClasses, storageClass("khcsi-att"));
    await api.create(RESOURCES.persistentVolumeClaims, claim("att", "khcsi-att"));
    const pv = await boundPv(e, "att");
    const va = await attachment(e, pv.metadata.name!);
    const attached = await until("attached", async () => {
      const v = await api.get(RESOURCES.volumeAttachments, va.metadata.name!);
      return v.status?.attached ? v : undefined;
    });
    assert.ok(attached.status.attachmentMetadata["stor.plasmacloud.io/attachment"]);
    assert.deepEqual(attached.metadata.finalizers, ["external-attacher/stor-plasmacloud-io"]);
    const atts = await e.h.store.listAttachments({ volumeId: pv.spec.csi.volumeHandle });
    assert.deepEqual(atts.map((a) => a.nodeId), [e.h.nodeId]);
    await api.delete(RESOURCES.volumeAttachments, va.metadata.name!);
    await until(
      "detached and VA gone",
      async () => !(await api.tryGet(RESOURCES.volumeAttachments, va.metadata.name!)),
    );
    assert.equal(
      (await e.h.store.listAttachments({ volumeId: pv.spec.csi.volumeHandle })).length,
      0,
    );
  }));

Deno.test("csi attacher: volumes on a deleted node are force-detached after the timeout", () =>
  withEnv(async (e) => {
    const api = e.server.api;
    await api.create(RESOURCES.storageClasses, storageClass("khcsi-fd"));
    await api.create(RESOURCES.persistentVolumeClaims, claim("fd", "khcsi-fd"));
    const pv = await boundPv(e, "fd");
    const va = await attachment(e, pv.metadata.name!);
    await until(
      "attached",
      async () => (await api.get(RESOURCES.volumeAttachments, va.metadata.name!)).status?.attached,
    );
    const t0 = Date.now();
    await api.delete(RESOURCES.nodes, e.h.nodeId);
    await until(
      "force-detached",
      async () => !(await api.tryGet(RESOURCES.volumeAttachments, va.metadata.name!)),
    );
    assert.ok(Date.now() - t0 >= 400, "not before the timeout");
    assert.equal(
      (await e.h.store.listAttachments({ volumeId: pv.spec.csi.volumeHandle })).length,
      0,
    );
  }, 500));

Deno.test("csi resizer: claim growth → ControllerExpand → PV capacity → node resize pending", () =>
  withEnv(async (e) => {
    const api = e.server.api;
    await api.create(
      RESOURCES.storageClasses,
      storageClass("khcsi-grow", { allowVolumeExpansion: true }),
    );
    await api.create(RESOURCES.storageClasses, storageClass("khcsi-fixed"));
    await api.create(RESOURCES.persistentVolumeClaims, claim("grow", "khcsi-grow"));
    await api.create(RESOURCES.persistentVolumeClaims, claim("fixed", "khcsi-fixed"));
    const pv = await boundPv(e, "grow");
    await boundPv(e, "fixed");
    for (const name of ["grow", "fixed"]) {
      await api.patch(RESOURCES.persistentVolumeClaims, name, {
        spec: { resources: { requests: { storage: "3Gi" } } },
      }, {
        namespace: "default",
        type: "merge",
      });
    }
    const grown = await until("claim resize pending", async () => {
      const c = await api.get(RESOURCES.persistentVolumeClaims, "grow", "default");
      return c.status?.conditions?.some((x: { type: string }) =>
          x.type === "FileSystemResizePending"
        )
        ? c
        : undefined;
    });
    assert.equal(grown.status.allocatedResources.storage, "3Gi");
    assert.equal(grown.status.allocatedResourceStatuses.storage, "NodeResizePending");
    assert.equal(
      (await api.get(RESOURCES.persistentVolumes, pv.metadata.name!)).spec.capacity.storage,
      "3Gi",
    );
    assert.equal((await e.h.store.getVolume(pv.spec.csi.volumeHandle)).sizeBytes, 3 * GiB);
    const fixed = await until("resize refused", async () => {
      const c = await api.get(RESOURCES.persistentVolumeClaims, "fixed", "default");
      return c.status?.allocatedResourceStatuses?.storage === "ControllerResizeInfeasible"
        ? c
        : undefined;
    });
    const fixedPv = await api.get(RESOURCES.persistentVolumes, fixed.spec.volumeName);
    assert.equal(fixedPv.spec.capacity.storage, "1Gi");
  }));
