/**
 * The resizer's effects: for a bound claim asking for more, ControllerExpandVolume, then the
 * PV's capacity, then the claim's status (FileSystemResizePending until the node grows the
 * filesystem). A refusal or failure is an Event plus allocatedResourceStatuses, then a retry.
 */
import type { EventRecorder, Informer, KubeApi } from "../../mod/kube/api.ts";
import { patchStatus, RESOURCES } from "../../mod/kube/mod.ts";
import { grpc } from "../../mod/grpc/mod.ts";
import { type CsiControllerClient, grpcCode, grpcMessage } from "../csi_client.ts";
import { afterControllerExpand, decideResize, resizeFailedStatus } from "./desired.ts";

export interface ResizerDeps {
  api: KubeApi;
  csi: CsiControllerClient;
  events: EventRecorder;
  driverName: string;
  claims: Informer;
  classes: Informer;
  volumes: Informer;
}

export async function reconcileResize(d: ResizerDeps, key: string): Promise<void> {
  const pvc = d.claims.get(key);
  if (!pvc) return;
  const pv = pvc.spec?.volumeName ? d.volumes.get(pvc.spec.volumeName) : undefined;
  const sc = d.classes.get(pvc.spec?.storageClassName ?? "");
  const decision = decideResize(pvc, pv, sc, d.driverName);
  if (decision.action === "skip") return;
  if (decision.action === "refuse") {
    await d.events.event(pvc, "Warning", "VolumeResizeFailed", decision.reason).catch(() => {});
    await patchStatus(d.api, RESOURCES.persistentVolumeClaims, pvc, resizeFailedStatus(true));
    return;
  }
  await d.events.event(
    pvc,
    "Normal",
    "Resizing",
    `External resizer is resizing volume ${pv!.metadata.name}`,
  )
    .catch(() => {});
  let res;
  try {
    res = await d.csi.expand(decision.request);
  } catch (err) {
    const code = grpcCode(err);
    const infeasible = code === grpc.status.OUT_OF_RANGE || code === grpc.status.INVALID_ARGUMENT;
    await d.events.event(pvc, "Warning", "VolumeResizeFailed", grpcMessage(err)).catch(() => {});
    await patchStatus(d.api, RESOURCES.persistentVolumeClaims, pvc, resizeFailedStatus(infeasible));
    throw err;
  }
  const { pvPatch, pvcStatus } = afterControllerExpand(
    pvc,
    Number(res.capacity_bytes),
    Boolean(res.node_expansion_required),
    new Date(),
  );
  await d.api.patch(RESOURCES.persistentVolumes, pv!.metadata.name!, pvPatch);
  await patchStatus(d.api, RESOURCES.persistentVolumeClaims, pvc, pvcStatus);
  await d.events.event(
    pvc,
    "Normal",
    res.node_expansion_required ? "FileSystemResizeRequired" : "VolumeResizeSuccessful",
    `controller expanded volume ${pv!.metadata.name} to ${res.capacity_bytes} bytes`,
  ).catch(() => {});
}
