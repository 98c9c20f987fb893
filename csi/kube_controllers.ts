/**
 * The sidecar-free control plane of the CSI driver: the provisioner, attacher and resizer that
 * other drivers run as external-provisioner/-attacher/-resizer containers, here as loops in
 * this process sharing one set of informers, plus the CSIDriver object. They talk to the CSI
 * controller service over its unix socket, as the sidecars would.
 */
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";
import {
  createEventRecorder,
  createInformer,
  createWorkQueue,
  isAlreadyExists,
  objectKey,
  RESOURCES,
} from "../mod/kube/mod.ts";
import type { WorkQueueHandle } from "../mod/kube/mod.ts";
import { logger } from "../mod/log/mod.ts";
import type { Registry } from "../mod/metrics/mod.ts";
import { reconcileAttachment } from "./attacher/reconcile.ts";
import { CsiControllerClient } from "./csi_client.ts";
import { reconcileClaim, reconcileVolume } from "./provisioner/reconcile.ts";
import { reconcileResize } from "./resizer/reconcile.ts";

const log = logger("csi.controllers");

export interface CsiControllersOptions {
  api: KubeApi;
  /** The CSI controller endpoint (`unix:///…`). */
  csiTarget: string;
  driverName: string;
  defaultFsType: string;
  forceDetachAfterMs: number;
  resyncMs: number;
  metrics?: Registry;
  /** Handler concurrency per queue (default 8). */
  concurrency?: number;
}

export interface CsiControllers {
  /** Resolves once every informer has listed. */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

/** The CSIDriver object kubelet and the scheduler read: attach required, persistent volumes. */
export function csiDriverObject(driverName: string): KubeObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "CSIDriver",
    metadata: { name: driverName, labels: { "app.kubernetes.io/managed-by": "k8shost" } },
    spec: {
      attachRequired: true,
      podInfoOnMount: false,
      requiresRepublish: false,
      storageCapacity: false,
      fsGroupPolicy: "File",
      volumeLifecycleModes: ["Persistent"],
    },
  };
}

export async function ensureCsiDriver(api: KubeApi, driverName: string): Promise<void> {
  if (await api.tryGet(RESOURCES.csiDrivers, driverName)) return;
  try {
    await api.create(RESOURCES.csiDrivers, csiDriverObject(driverName));
    log.info("created CSIDriver", { driver: driverName });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

export async function startCsiControllers(o: CsiControllersOptions): Promise<CsiControllers> {
  const ac = new AbortController();
  const api = o.api;
  await ensureCsiDriver(api, o.driverName);
  const inf = (ref: typeof RESOURCES.pods) =>
    createInformer<KubeObject>(api, { ref, resyncMs: o.resyncMs, metrics: o.metrics });
  const claims = inf(RESOURCES.persistentVolumeClaims);
  const volumes = inf(RESOURCES.persistentVolumes);
  const classes = inf(RESOURCES.storageClasses);
  const attachments = inf(RESOURCES.volumeAttachments);
  const nodes = inf(RESOURCES.nodes);
  const csiNodes = inf(RESOURCES.csiNodes);
  const csi = new CsiControllerClient(o.csiTarget);
  const events = createEventRecorder(api, "stor.plasmacloud.io-csi");
  const q = (name: string): WorkQueueHandle =>
    createWorkQueue({
      name,
      concurrency: o.concurrency ?? 8,
      metrics: o.metrics,
      maxDelayMs: 30_000,
    });
  const claimQ = q("csi-provision");
  const volumeQ = q("csi-reclaim");
  const attachQ = q("csi-attach");
  const resizeQ = q("csi-resize");

  claims.on({
    add: (c) => (claimQ.add(objectKey(c)), resizeQ.add(objectKey(c))),
    update: (_o, c) => (claimQ.add(objectKey(c)), resizeQ.add(objectKey(c))),
    delete: (c) => {
      // The claim's volume may now be reclaimable.
      volumeQ.add(c.spec?.volumeName || `pvc-${c.metadata.uid}`);
    },
  });
  volumes.on({
    add: (v) => volumeQ.add(v.metadata.name!),
    update: (_o, v) => {
      volumeQ.add(v.metadata.name!);
      const ref = v.spec?.claimRef;
      if (ref) resizeQ.add(`${ref.namespace}/${ref.name}`);
    },
  });
  classes.on({
    add: (sc) => {
      for (const c of claims.list()) {
        if (c.spec?.storageClassName === sc.metadata.name) claimQ.add(objectKey(c));
      }
    },
  });
  attachments.on({
    add: (a) => attachQ.add(a.metadata.name!),
    update: (_o, a) => attachQ.add(a.metadata.name!),
  });
  const nodeChanged = (n: KubeObject) => {
    for (const a of attachments.list()) {
      if (a.spec?.nodeName === n.metadata.name) attachQ.add(a.metadata.name!);
    }
  };
  nodes.on({ add: nodeChanged, delete: nodeChanged });

  const all = [claims, volumes, classes, attachments, nodes, csiNodes];
  for (const i of all) i.start(ac.signal);
  const synced = Promise.all(all.map((i) => i.synced())).then(() => {});

  const provDeps = {
    api,
    csi,
    events,
    opts: { driverName: o.driverName, defaultFsType: o.defaultFsType },
    claims,
    classes,
    volumes,
  };
  const wrap = (what: string, fn: (key: string) => Promise<void>) => async (key: string) => {
    try {
      await fn(key);
    } catch (err) {
      log.warn(`${what} failed; will retry`, {
        key,
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  };
  synced.then(() => {
    if (ac.signal.aborted) return;
    claimQ.run(wrap("provision", (k) => reconcileClaim(provDeps, k)));
    volumeQ.run(wrap("reclaim", (k) => reconcileVolume(provDeps, k)));
    attachQ.run(wrap("attach", (k) =>
      reconcileAttachment({
        api,
        csi,
        events,
        driverName: o.driverName,
        forceDetachAfterMs: o.forceDetachAfterMs,
        attachments,
        volumes,
        nodes,
        csiNodes,
        requeueAfter: (key, ms) => attachQ.addAfter(key, ms),
      }, k)));
    resizeQ.run(
      wrap("resize", (k) =>
        reconcileResize(
          { api, csi, events, driverName: o.driverName, claims, classes, volumes },
          k,
        )),
    );
  });
  // Level-triggered safety net: revisit everything periodically.
  const resync = setInterval(() => {
    for (const c of claims.list()) (claimQ.add(objectKey(c)), resizeQ.add(objectKey(c)));
    for (const v of volumes.list()) volumeQ.add(v.metadata.name!);
    for (const a of attachments.list()) attachQ.add(a.metadata.name!);
  }, o.resyncMs);

  return {
    synced: () => synced,
    async stop() {
      clearInterval(resync);
      ac.abort();
      await Promise.all([claimQ, volumeQ, attachQ, resizeQ].map((x) => x.shutdown()));
      await Promise.all(all.map((i) => (i as unknown as { stopped(): Promise<void> }).stopped()));
      csi.close();
    },
  };
}
