/**
 * The provisioner's pure core: from a PersistentVolumeClaim and its StorageClass, whether a
 * volume is wanted and the CSI CreateVolume request for it; from the CSI volume, the
 * PersistentVolume; and for a provisioned PV whose claim is gone, what its reclaim policy asks.
 * No I/O: every decision is unit-tested directly.
 */
import type { KubeObject } from "../../mod/kube/api.ts";
import { TOPOLOGY_NODE_KEY } from "../capability.ts";
import { formatQuantity, parseQuantity } from "../quantity.ts";

export const PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";
export const SELECTED_NODE = "volume.kubernetes.io/selected-node";
export const PV_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer";
const CO_PARAM_PREFIX = "csi.storage.k8s.io/";
const FSTYPE_PARAM = "csi.storage.k8s.io/fstype";

export type ClaimDecision =
  | { action: "skip"; reason: string }
  | { action: "provision"; request: Record<string, unknown>; pvName: string };

/** The PV (and CSI volume) name for a claim: `pvc-<uid>`, stable across retries and restarts. */
export const pvNameFor = (pvc: KubeObject) => `pvc-${pvc.metadata.uid}`;

const ACCESS_MODES: Record<string, string> = {
  ReadWriteOnce: "SINGLE_NODE_WRITER",
  ReadOnlyMany: "MULTI_NODE_READER_ONLY",
  ReadWriteMany: "MULTI_NODE_MULTI_WRITER",
  ReadWriteOncePod: "SINGLE_NODE_WRITER",
};

/** The CSI capability list for a claim's access modes and volume mode. */
export function capabilitiesFor(
  accessModes: string[],
  volumeMode: string | undefined,
  fsType: string,
  mountOptions: string[],
) {
  const modes = accessModes.length ? accessModes : ["ReadWriteOnce"];
  return modes.map((m) => ({
    ...(volumeMode === "Block"
      ? { block: {} }
      : { mount: { fs_type: fsType, mount_flags: mountOptions } }),
    access_mode: { mode: ACCESS_MODES[m] ?? "UNKNOWN" },
  }));
}

/** StorageClass parameters with the CO's own `csi.storage.k8s.io/` keys removed. */
export function driverParameters(params: Record<string, string> | undefined) {
  return Object.fromEntries(
    Object.entries(params ?? {}).filter(([k]) => !k.startsWith(CO_PARAM_PREFIX)),
  );
}

export interface ProvisionOptions {
  driverName: string;
  defaultFsType: string;
}

/** Decides whether `pvc` needs a volume now and, if so, the CreateVolume request. */
export function decideClaim(
  pvc: KubeObject,
  sc: KubeObject | undefined,
  pvExists: boolean,
  opts: ProvisionOptions,
  /** The volume handle of a PVC named as the claim's data source (a clone), when bound. */
  sourceHandle?: string,
): ClaimDecision {
  const spec = pvc.spec ?? {};
  if (pvc.metadata.deletionTimestamp) return { action: "skip", reason: "claim is being deleted" };
  if (spec.volumeName) return { action: "skip", reason: "claim is bound" };
  if (!sc) return { action: "skip", reason: `storage class ${spec.storageClassName} not found` };
  if (sc.provisioner !== opts.driverName) {
    return { action: "skip", reason: "not this driver's class" };
  }
  if (pvExists) return { action: "skip", reason: "volume already provisioned" };
  const selected = pvc.metadata.annotations?.[SELECTED_NODE];
  if (sc.volumeBindingMode === "WaitForFirstConsumer" && !selected) {
    return { action: "skip", reason: "waiting for first consumer" };
  }
  const requests = spec.resources?.requests ?? {};
  if (requests.storage === undefined) {
    return { action: "skip", reason: "claim requests no storage" };
  }
  const required = parseQuantity(requests.storage);
  const limit = spec.resources?.limits?.storage !== undefined
    ? parseQuantity(spec.resources.limits.storage)
    : 0;
  const fsType = sc.parameters?.[FSTYPE_PARAM] ?? opts.defaultFsType;
  const request: Record<string, unknown> = {
    name: pvNameFor(pvc),
    capacity_range: { required_bytes: String(required), limit_bytes: String(limit) },
    volume_capabilities: capabilitiesFor(
      spec.accessModes ?? [],
      spec.volumeMode,
      fsType,
      sc.mountOptions ?? [],
    ),
    parameters: driverParameters(sc.parameters),
  };
  const source = spec.dataSourceRef ?? spec.dataSource;
  if (source?.kind === "PersistentVolumeClaim") {
    if (!sourceHandle) {
      return { action: "skip", reason: `source claim ${source.name} is not bound` };
    }
    request.volume_content_source = { volume: { volume_id: sourceHandle } };
  } else if (source) {
    return { action: "skip", reason: `data source kind ${source.kind} is not supported` };
  }
  if (selected) {
    const t = { segments: { [TOPOLOGY_NODE_KEY]: selected } };
    request.accessibility_requirements = { requisite: [t], preferred: [t] };
  } else if (sc.allowedTopologies?.length) {
    const requisite = [];
    for (const term of sc.allowedTopologies) {
      for (const e of term.matchLabelExpressions ?? []) {
        for (const v of e.values ?? []) requisite.push({ segments: { [e.key]: v } });
      }
    }
    if (requisite.length) request.accessibility_requirements = { requisite };
  }
  return { action: "provision", request, pvName: pvNameFor(pvc) };
}

/** Labels the tenancy controller puts on a project's namespace (mod/tenancy/desired.ts). */
export const TENANT_LABELS = {
  org_id: "plasmacloud.io/org-id",
  project_id: "plasmacloud.io/project-id",
};

export type TenantDecision =
  | { ok: true; parameters: Record<string, string> }
  | { ok: false; reason: string };

/**
 * The CreateVolume parameters carrying the claim's tenant. A namespace labelled by tenancy bills
 * its volumes to its own org and project: the ids are filled in from its labels, and a class that
 * names a different tenant is refused rather than overridden, so a class shared by several
 * tenants can never provision one tenant's claim into another's account and a misconfigured
 * class is visible instead of silently ignored. A namespace without tenant labels (a platform
 * namespace) keeps whatever the class says.
 */
export function withTenant(
  parameters: Record<string, string>,
  namespace: KubeObject | undefined,
): TenantDecision {
  const labels = namespace?.metadata.labels ?? {};
  const tenant = Object.values(TENANT_LABELS).some((l) => labels[l] !== undefined);
  if (!tenant) return { ok: true, parameters };
  const out = { ...parameters };
  for (const [param, label] of Object.entries(TENANT_LABELS)) {
    const own = labels[label] ?? "";
    if (parameters[param] !== undefined && parameters[param] !== own) {
      return {
        ok: false,
        reason: `storage class parameter ${param}=${JSON.stringify(parameters[param])} does ` +
          `not match namespace ${namespace!.metadata.name}'s tenant (${label}=${
            JSON.stringify(own)
          }); a claim is provisioned only into its own namespace's tenant`,
      };
    }
    if (own) out[param] = own;
    else delete out[param];
  }
  return { ok: true, parameters: out };
}

// deno-lint-ignore no-explicit-any
type CsiVolume = any;

/** The PersistentVolume for a provisioned CSI volume, pre-bound to its claim. */
export function persistentVolume(
  pvc: KubeObject,
  sc: KubeObject,
  volume: CsiVolume,
  opts: ProvisionOptions,
): KubeObject {
  const reclaim = sc.reclaimPolicy ?? "Delete";
  const block = pvc.spec?.volumeMode === "Block";
  const terms = (volume.accessible_topology ?? [])
    .map((t: { segments?: Record<string, string> }) => Object.entries(t.segments ?? {}))
    .filter((e: unknown[]) => e.length > 0)
    .map((entries: [string, string][]) => ({
      matchExpressions: entries.map(([key, v]) => ({ key, operator: "In", values: [v] })),
    }));
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name: pvNameFor(pvc),
      annotations: { [PROVISIONED_BY]: opts.driverName },
      finalizers: reclaim === "Delete" ? [PV_FINALIZER] : [],
    },
    spec: {
      capacity: { storage: formatQuantity(Number(volume.capacity_bytes)) },
      accessModes: pvc.spec?.accessModes?.length ? pvc.spec.accessModes : ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: reclaim,
      storageClassName: sc.metadata.name,
      volumeMode: block ? "Block" : "Filesystem",
      ...(sc.mountOptions?.length ? { mountOptions: sc.mountOptions } : {}),
      claimRef: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        namespace: pvc.metadata.namespace,
        name: pvc.metadata.name,
        uid: pvc.metadata.uid,
        resourceVersion: pvc.metadata.resourceVersion,
      },
      csi: {
        driver: opts.driverName,
        volumeHandle: volume.volume_id,
        ...(block ? {} : { fsType: sc.parameters?.[FSTYPE_PARAM] ?? opts.defaultFsType }),
        volumeAttributes: volume.volume_context ?? {},
      },
      ...(terms.length ? { nodeAffinity: { required: { nodeSelectorTerms: terms } } } : {}),
    },
  };
}

export type VolumeDecision =
  | { action: "keep"; reason: string }
  | { action: "delete-volume"; volumeHandle: string; deletePv: boolean }
  | { action: "release-finalizer" };

/**
 * For a PV this driver provisioned: whether its backing volume must go. `claim` is the PVC the
 * PV's claimRef names as found now (undefined: gone).
 */
export function decideVolume(
  pv: KubeObject,
  claim: KubeObject | undefined,
  driverName: string,
): VolumeDecision {
  if (pv.metadata.annotations?.[PROVISIONED_BY] !== driverName) {
    return { action: "keep", reason: "not ours" };
  }
  const handle = pv.spec?.csi?.volumeHandle;
  const reclaim = pv.spec?.persistentVolumeReclaimPolicy ?? "Delete";
  const finalizing = Boolean(pv.metadata.deletionTimestamp) &&
    (pv.metadata.finalizers ?? []).includes(PV_FINALIZER);
  if (finalizing) {
    return reclaim === "Delete" && handle
      ? { action: "delete-volume", volumeHandle: handle, deletePv: false }
      : { action: "release-finalizer" };
  }
  if (pv.metadata.deletionTimestamp) return { action: "keep", reason: "being deleted" };
  const ref = pv.spec?.claimRef;
  if (!ref) return { action: "keep", reason: "not claimed" };
  const claimGone = !claim || (ref.uid && claim.metadata.uid !== ref.uid);
  const released = pv.status?.phase === "Released";
  if (!claimGone && !released) return { action: "keep", reason: "claim exists" };
  if (reclaim !== "Delete") return { action: "keep", reason: `reclaim policy ${reclaim}` };
  if (!handle) return { action: "keep", reason: "no volume handle" };
  return { action: "delete-volume", volumeHandle: handle, deletePv: true };
}
