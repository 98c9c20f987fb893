/**
 * The resizer's pure core: whether a bound claim asks for more than its volume has, the
 * ControllerExpandVolume request, and the PV and PVC changes once the controller has grown the
 * volume (the filesystem part is left to the node: FileSystemResizePending).
 */
import type { KubeObject } from "../../mod/kube/api.ts";
import { capabilitiesFor } from "../provisioner/desired.ts";
import { formatQuantity, parseQuantity } from "../quantity.ts";

export type ResizeDecision =
  | { action: "skip"; reason: string }
  | { action: "refuse"; reason: string }
  | { action: "expand"; requestedBytes: number; request: Record<string, unknown> };

export function decideResize(
  pvc: KubeObject,
  pv: KubeObject | undefined,
  sc: KubeObject | undefined,
  driver: string,
): ResizeDecision {
  if (!pvc.spec?.volumeName) return { action: "skip", reason: "claim is not bound" };
  if (!pv) return { action: "skip", reason: "volume not found" };
  if (pv.spec?.csi?.driver !== driver) {
    return { action: "skip", reason: "not this driver's volume" };
  }
  const requested = pvc.spec?.resources?.requests?.storage;
  const current = pv.spec?.capacity?.storage;
  if (requested === undefined || current === undefined) {
    return { action: "skip", reason: "no sizes" };
  }
  const want = parseQuantity(requested);
  if (want <= parseQuantity(current)) return { action: "skip", reason: "volume is large enough" };
  if (sc?.allowVolumeExpansion !== true) {
    return {
      action: "refuse",
      reason: `storage class ${sc?.metadata.name ?? "?"} does not allow expansion`,
    };
  }
  const spec = pv.spec;
  const [cap] = capabilitiesFor(
    (spec.accessModes ?? []).slice(0, 1),
    spec.volumeMode,
    spec.csi?.fsType ?? "",
    spec.mountOptions ?? [],
  );
  return {
    action: "expand",
    requestedBytes: want,
    request: {
      volume_id: spec.csi.volumeHandle,
      capacity_range: { required_bytes: String(want) },
      volume_capability: cap,
    },
  };
}

/** The PV patch and PVC status once the controller reports `capacityBytes`. */
export function afterControllerExpand(
  pvc: KubeObject,
  capacityBytes: number,
  nodeExpansionRequired: boolean,
  now: Date,
) {
  const size = formatQuantity(capacityBytes);
  const pvPatch = { spec: { capacity: { storage: size } } };
  const others = (pvc.status?.conditions ?? []).filter(
    (c: { type: string }) => c.type !== "Resizing" && c.type !== "FileSystemResizePending",
  );
  const pvcStatus = nodeExpansionRequired
    ? {
      allocatedResources: { storage: size },
      allocatedResourceStatuses: { storage: "NodeResizePending" },
      conditions: [...others, {
        type: "FileSystemResizePending",
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: now.toISOString(),
        message:
          "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
      }],
    }
    : {
      capacity: { storage: size },
      allocatedResources: { storage: size },
      allocatedResourceStatuses: null,
      conditions: others,
    };
  return { pvPatch, pvcStatus };
}

export const resizeFailedStatus = (infeasible: boolean) => ({
  allocatedResourceStatuses: {
    storage: infeasible ? "ControllerResizeInfeasible" : "ControllerResizeInProgress",
  },
});
