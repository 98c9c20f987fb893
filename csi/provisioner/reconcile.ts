/**
 * The provisioner's effects: for a claim, CreateVolume over CSI then the pre-bound PV; for a
 * provisioned PV whose claim is gone (or that is being deleted), DeleteVolume per its reclaim
 * policy, then the PV itself. Level-triggered and idempotent: volume and PV names derive from
 * the claim's uid, so a retry or a restart converges on the same objects.
 */
import type { EventRecorder, Informer, KubeApi, KubeObject } from "../../mod/kube/api.ts";
import { isAlreadyExists, isNotFound, removeFinalizer, RESOURCES } from "../../mod/kube/mod.ts";
import { type CsiControllerClient, grpcMessage } from "../csi_client.ts";
import {
  decideClaim,
  decideVolume,
  persistentVolume,
  type ProvisionOptions,
  PV_FINALIZER,
  withTenant,
} from "./desired.ts";

export interface ProvisionerDeps {
  api: KubeApi;
  csi: CsiControllerClient;
  events: EventRecorder;
  opts: ProvisionOptions;
  claims: Informer;
  classes: Informer;
  volumes: Informer;
}

function sourceHandle(d: ProvisionerDeps, pvc: KubeObject): string | undefined {
  const src = pvc.spec?.dataSourceRef ?? pvc.spec?.dataSource;
  if (src?.kind !== "PersistentVolumeClaim") return undefined;
  const claim = d.claims.get(`${pvc.metadata.namespace}/${src.name}`);
  const pv = claim?.spec?.volumeName ? d.volumes.get(claim.spec.volumeName) : undefined;
  return pv?.spec?.csi?.volumeHandle;
}

export async function reconcileClaim(d: ProvisionerDeps, key: string): Promise<void> {
  const pvc = d.claims.get(key);
  if (!pvc) return;
  const sc = d.classes.get(pvc.spec?.storageClassName ?? "");
  const pvName = `pvc-${pvc.metadata.uid}`;
  const decision = decideClaim(
    pvc,
    sc,
    Boolean(d.volumes.get(pvName)),
    d.opts,
    sourceHandle(d, pvc),
  );
  if (decision.action === "skip") return;
  const namespace = pvc.metadata.namespace ?? "default";
  // Read fresh, not from a cache: the tenant decides whose account the volume is billed to.
  const ns = await d.api.tryGet(RESOURCES.namespaces, namespace);
  if (!ns) return; // The namespace (and with it the claim) is going away.
  const tenant = withTenant(decision.request.parameters as Record<string, string>, ns);
  if (!tenant.ok) {
    // Not retried on its own: a class's parameters are immutable; the resync revisits it.
    await d.events.event(pvc, "Warning", "ProvisioningFailed", tenant.reason).catch(() => {});
    return;
  }
  let res;
  try {
    res = await d.csi.createVolume({ ...decision.request, parameters: tenant.parameters });
  } catch (err) {
    await d.events.event(
      pvc,
      "Warning",
      "ProvisioningFailed",
      `failed to provision volume: ${grpcMessage(err)}`,
    )
      .catch(() => {});
    throw err;
  }
  try {
    await d.api.create(RESOURCES.persistentVolumes, persistentVolume(pvc, sc!, res.volume, d.opts));
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  await d.events.event(
    pvc,
    "Normal",
    "ProvisioningSucceeded",
    `Successfully provisioned volume ${pvName}`,
  )
    .catch(() => {});
}

export async function reconcileVolume(d: ProvisionerDeps, name: string): Promise<void> {
  const pv = d.volumes.get(name);
  if (!pv) return;
  const ref = pv.spec?.claimRef;
  let claim = ref ? d.claims.get(`${ref.namespace}/${ref.name}`) : undefined;
  let decision = decideVolume(pv, claim, d.opts.driverName);
  if (decision.action === "delete-volume" && decision.deletePv && ref) {
    // Deleting data on the word of a cache is not enough: confirm the claim is really gone.
    claim = await d.api.tryGet(RESOURCES.persistentVolumeClaims, ref.name, ref.namespace);
    decision = decideVolume(pv, claim, d.opts.driverName);
  }
  if (decision.action === "keep") return;
  if (decision.action === "delete-volume") {
    try {
      await d.csi.deleteVolume(decision.volumeHandle);
    } catch (err) {
      await d.events.event(pv, "Warning", "VolumeFailedDelete", grpcMessage(err)).catch(() => {});
      throw err;
    }
  }
  const current = await removeFinalizer(d.api, RESOURCES.persistentVolumes, pv, PV_FINALIZER);
  if (decision.action === "delete-volume" && decision.deletePv) {
    try {
      await d.api.delete(RESOURCES.persistentVolumes, current.metadata.name!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
