/**
 * The attacher's effects: ControllerPublishVolume for a VolumeAttachment naming this driver,
 * reported in its status; ControllerUnpublishVolume when it is deleted (its finalizer holds it
 * until then); and a force-detach for attachments to nodes that have been gone too long.
 */
import type { EventRecorder, Informer, KubeApi } from "../../mod/kube/api.ts";
import {
  addFinalizer,
  hasFinalizer,
  isNotFound,
  patchStatus,
  removeFinalizer,
  RESOURCES,
} from "../../mod/kube/mod.ts";
import { type CsiControllerClient, grpcMessage } from "../csi_client.ts";
import {
  attachedStatus,
  attacherFinalizer,
  attachErrorStatus,
  decideNodeGone,
  NODE_MISSING_SINCE,
  nodeIdFor,
  publishRequest,
} from "./desired.ts";

export interface AttacherDeps {
  api: KubeApi;
  csi: CsiControllerClient;
  events: EventRecorder;
  driverName: string;
  forceDetachAfterMs: number;
  attachments: Informer;
  volumes: Informer;
  nodes: Informer;
  csiNodes: Informer;
  /** Re-run this key later (the node-gone clock). */
  requeueAfter(key: string, ms: number): void;
  now?: () => number;
}

export async function reconcileAttachment(d: AttacherDeps, name: string): Promise<void> {
  const va = d.attachments.get(name);
  if (!va || va.spec?.attacher !== d.driverName) return;
  const fin = attacherFinalizer(d.driverName);
  const nodeName: string = va.spec.nodeName;
  const nodeId = nodeIdFor(nodeName, d.csiNodes.get(nodeName), d.driverName);
  const pvName = va.spec.source?.persistentVolumeName;
  const pv = pvName
    ? d.volumes.get(pvName) ?? await d.api.tryGet(RESOURCES.persistentVolumes, pvName)
    : undefined;
  const handle = pv?.spec?.csi?.volumeHandle;

  if (va.metadata.deletionTimestamp) {
    if (!hasFinalizer(va, fin)) return;
    if (handle) {
      try {
        await d.csi.unpublish(handle, nodeId);
      } catch (err) {
        await patchStatus(d.api, RESOURCES.volumeAttachments, va, {
          detachError: { time: new Date().toISOString(), message: grpcMessage(err) },
        }).catch(() => {});
        throw err;
      }
    }
    await removeFinalizer(d.api, RESOURCES.volumeAttachments, va, fin);
    return;
  }

  const now = d.now?.() ?? Date.now();
  const gone = decideNodeGone(va, Boolean(d.nodes.get(nodeName)), now, d.forceDetachAfterMs);
  if (gone.action === "mark" || gone.action === "clear-mark") {
    const value = gone.action === "mark" ? gone.since : null;
    await d.api.patch(RESOURCES.volumeAttachments, name, {
      metadata: { annotations: { [NODE_MISSING_SINCE]: value } },
    });
  }
  if (gone.action === "mark" || gone.action === "wait") d.requeueAfter(name, gone.recheckMs);
  if (gone.action === "force-detach") {
    await d.events.event(
      va,
      "Warning",
      "ForceDetach",
      `node ${nodeName} has been gone for ${
        Math.round(gone.missingForMs / 1000)
      }s; detaching ${pvName}`,
    ).catch(() => {});
    try {
      await d.api.delete(RESOURCES.volumeAttachments, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return;
  }

  if (va.status?.attached) return;
  if (!pv || !handle) {
    await patchStatus(
      d.api,
      RESOURCES.volumeAttachments,
      va,
      attachErrorStatus(`persistent volume ${pvName} not found`, new Date()),
    );
    throw new Error(`persistent volume ${pvName} not found`);
  }
  const held = await addFinalizer(d.api, RESOURCES.volumeAttachments, va, fin);
  let res;
  try {
    res = await d.csi.publish(publishRequest(pv, nodeId));
  } catch (err) {
    await patchStatus(
      d.api,
      RESOURCES.volumeAttachments,
      held,
      attachErrorStatus(grpcMessage(err), new Date()),
    );
    await d.events.event(va, "Warning", "FailedAttach", grpcMessage(err)).catch(() => {});
    throw err;
  }
  await patchStatus(d.api, RESOURCES.volumeAttachments, held, attachedStatus(res.publish_context));
}
