/**
 * The attacher's pure core: the ControllerPublishVolume request for a VolumeAttachment's PV,
 * the finalizer it holds while attached, the status it reports, and when a volume on a node
 * that no longer exists is force-detached.
 */
import type { KubeObject } from "../../mod/kube/api.ts";
import { capabilitiesFor } from "../provisioner/desired.ts";

export const NODE_MISSING_SINCE = "stor.plasmacloud.io/node-missing-since";

/** The finalizer name external-attacher uses, so tooling recognises it. */
export const attacherFinalizer = (driver: string) =>
  `external-attacher/${driver.replace(/\./g, "-")}`;

/** The node id the driver knows a Kubernetes node by (CSINode, else the node name). */
export function nodeIdFor(
  nodeName: string,
  csiNode: KubeObject | undefined,
  driver: string,
): string {
  const d = (csiNode?.spec?.drivers ?? []).find((x: { name: string }) => x.name === driver);
  return d?.nodeID || nodeName;
}

export function publishRequest(pv: KubeObject, nodeId: string) {
  const spec = pv.spec ?? {};
  const [cap] = capabilitiesFor(
    (spec.accessModes ?? []).slice(0, 1),
    spec.volumeMode,
    spec.csi?.fsType ?? "",
    spec.mountOptions ?? [],
  );
  return {
    volume_id: spec.csi?.volumeHandle ?? "",
    node_id: nodeId,
    volume_capability: cap,
    readonly: Boolean(spec.csi?.readOnly),
    volume_context: spec.csi?.volumeAttributes ?? {},
  };
}

export const attachedStatus = (publishContext: Record<string, string> | undefined) => ({
  attached: true,
  attachmentMetadata: publishContext ?? {},
  attachError: null,
});

export const attachErrorStatus = (message: string, now: Date) => ({
  attached: false,
  attachError: { time: now.toISOString(), message },
});

export type NodeGoneDecision =
  | { action: "none" }
  | { action: "mark"; since: string; recheckMs: number }
  | { action: "wait"; recheckMs: number }
  | { action: "clear-mark" }
  | { action: "force-detach"; missingForMs: number };

/**
 * A VolumeAttachment to a node that is gone is force-detached once the node has been missing
 * for `timeoutMs`; the first sighting is recorded on the object so a restart keeps the clock.
 */
export function decideNodeGone(
  va: KubeObject,
  nodeExists: boolean,
  now: number,
  timeoutMs: number,
): NodeGoneDecision {
  const mark = va.metadata.annotations?.[NODE_MISSING_SINCE];
  if (nodeExists) return mark ? { action: "clear-mark" } : { action: "none" };
  const since = mark ? Date.parse(mark) : NaN;
  if (!Number.isFinite(since)) {
    return { action: "mark", since: new Date(now).toISOString(), recheckMs: timeoutMs };
  }
  const missing = now - since;
  if (missing >= timeoutMs) return { action: "force-detach", missingForMs: missing };
  return { action: "wait", recheckMs: timeoutMs - missing };
}
