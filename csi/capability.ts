/**
 * Pure CSI request rules shared by the controller and node services: volume capabilities,
 * capacity ranges, StorageClass parameters and topology. Errors are CsiRuleErrors naming the
 * gRPC code the specification assigns; the servers turn them into statuses.
 */
import { grpc } from "../mod/grpc/mod.ts";

export const Code = grpc.status;

export class CsiRuleError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

export const invalid = (msg: string) => new CsiRuleError(Code.INVALID_ARGUMENT, msg);

export const SUPPORTED_FS = ["ext4", "xfs"] as const;
export type FsType = typeof SUPPORTED_FS[number];

const SUPPORTED_MODES = [
  "SINGLE_NODE_WRITER",
  "SINGLE_NODE_READER_ONLY",
  "MULTI_NODE_READER_ONLY",
] as const;
const KNOWN_MODES = [
  ...SUPPORTED_MODES,
  "MULTI_NODE_SINGLE_WRITER",
  "MULTI_NODE_MULTI_WRITER",
  "SINGLE_NODE_SINGLE_WRITER",
  "SINGLE_NODE_MULTI_WRITER",
];

export interface Capability {
  kind: "mount" | "block";
  /** "" when the CO left it to the driver. */
  fsType: string;
  mountFlags: string[];
  mode: typeof SUPPORTED_MODES[number];
}

/** A well-formed capability the driver cannot serve (the caller picks the error code). */
export class UnsupportedCapability extends Error {}

// deno-lint-ignore no-explicit-any
type Wire = any;

const MOUNT_FLAG = /^[A-Za-z0-9_=.,:@/+-]{1,256}$/;

/**
 * Parses a wire VolumeCapability. Malformed ones (no access type, no or unknown access mode)
 * throw INVALID_ARGUMENT; well-formed ones the driver cannot serve throw UnsupportedCapability.
 */
export function parseCapability(cap: Wire): Capability {
  if (!cap || typeof cap !== "object") throw invalid("volume_capability is required");
  const kind = cap.access_type ?? (cap.block ? "block" : cap.mount ? "mount" : undefined);
  if (kind !== "block" && kind !== "mount") {
    throw invalid("volume_capability needs an access type (block or mount)");
  }
  const mode = cap.access_mode?.mode;
  if (!mode || mode === "UNKNOWN" || !KNOWN_MODES.includes(mode)) {
    throw invalid("volume_capability.access_mode.mode is required");
  }
  const fsType = kind === "mount" ? String(cap.mount?.fs_type ?? "") : "";
  const mountFlags: string[] = kind === "mount" ? [...(cap.mount?.mount_flags ?? [])] : [];
  for (const f of mountFlags) {
    if (!MOUNT_FLAG.test(f)) throw invalid(`mount flag ${JSON.stringify(f)} is not allowed`);
  }
  if (kind === "mount" && cap.mount?.volume_mount_group) {
    throw new UnsupportedCapability("volume_mount_group is not supported");
  }
  if (!(SUPPORTED_MODES as readonly string[]).includes(mode)) {
    throw new UnsupportedCapability(`access mode ${mode} is not supported`);
  }
  if (fsType && !(SUPPORTED_FS as readonly string[]).includes(fsType)) {
    throw new UnsupportedCapability(`fs_type ${fsType} is not supported (use ext4 or xfs)`);
  }
  return { kind, fsType, mountFlags, mode: mode as Capability["mode"] };
}

/** Parses with unsupported capabilities reported as `code`. */
export function requireCapability(cap: Wire, code: grpc.status): Capability {
  try {
    return parseCapability(cap);
  } catch (err) {
    if (err instanceof UnsupportedCapability) throw new CsiRuleError(code, err.message);
    throw err;
  }
}

export const isReadOnlyMode = (m: Capability["mode"]) => m.endsWith("READER_ONLY");
export const isMultiNodeMode = (m: Capability["mode"]) => m.startsWith("MULTI_NODE");

/**
 * The size to provision for a capacity range: `required` rounded up to the allocation unit,
 * the default when the range is empty, OUT_OF_RANGE when the range cannot be met.
 */
export function sizeForRange(
  range: Wire,
  opts: { defaultBytes: number; unit: number; maxBytes: number },
): number {
  const required = Number(range?.required_bytes ?? 0);
  const limit = Number(range?.limit_bytes ?? 0);
  if (
    !Number.isSafeInteger(required) || !Number.isSafeInteger(limit) || required < 0 || limit < 0
  ) {
    throw invalid("capacity_range values must be non-negative integers");
  }
  if (limit > 0 && required > limit) {
    throw invalid("capacity_range.required_bytes exceeds limit_bytes");
  }
  const roundUp = (n: number) => Math.ceil(n / opts.unit) * opts.unit;
  let size: number;
  if (required > 0) size = roundUp(required);
  else if (limit > 0) {
    size = Math.min(roundUp(opts.defaultBytes), Math.floor(limit / opts.unit) * opts.unit);
  } else size = roundUp(opts.defaultBytes);
  if (size <= 0 || (limit > 0 && size > limit)) {
    throw new CsiRuleError(
      Code.OUT_OF_RANGE,
      `no size in ${opts.unit}-byte units fits the capacity range`,
    );
  }
  if (size > opts.maxBytes) {
    throw new CsiRuleError(
      Code.OUT_OF_RANGE,
      `${size} bytes exceeds the maximum volume size ${opts.maxBytes}`,
    );
  }
  return size;
}

export interface VolumeParams {
  volumeType: string;
  replicationFactor: number;
  orgId: string;
  projectId: string;
}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * StorageClass parameters: `type` (ssd|hdd), `replication` (1..5), `org_id`, `project_id`.
 * `csi.storage.k8s.io/…` keys are the CO's own and are ignored; anything else is rejected so a
 * typo in a StorageClass surfaces instead of silently provisioning the wrong thing.
 */
export function parseParameters(params: Record<string, string> | undefined): VolumeParams {
  const p = params ?? {};
  for (const key of Object.keys(p)) {
    if (key.startsWith("csi.storage.k8s.io/")) continue;
    if (!["type", "replication", "org_id", "project_id"].includes(key)) {
      throw invalid(
        `unknown parameter ${JSON.stringify(key)} (known: type, replication, org_id, project_id)`,
      );
    }
  }
  const volumeType = p.type ?? "ssd";
  if (volumeType !== "ssd" && volumeType !== "hdd") {
    throw invalid(`parameter type must be ssd or hdd`);
  }
  const replication = p.replication ?? "1";
  if (!/^[1-5]$/.test(replication)) throw invalid("parameter replication must be 1 to 5");
  for (const k of ["org_id", "project_id"] as const) {
    if (p[k] !== undefined && !TENANT_ID.test(p[k])) throw invalid(`parameter ${k} is malformed`);
  }
  return {
    volumeType,
    replicationFactor: Number(replication),
    orgId: p.org_id ?? "",
    projectId: p.project_id ?? "",
  };
}

export const TOPOLOGY_NODE_KEY = "topology.stor.plasmacloud.io/node";
export const TOPOLOGY_ZONE_KEY = "topology.stor.plasmacloud.io/zone";

/** The topology segments of a node (NodeGetInfo) or of the place a volume lives. */
export function topologySegments(node: string, zone: string): Record<string, string> {
  const s: Record<string, string> = {};
  if (node) s[TOPOLOGY_NODE_KEY] = node;
  if (zone) s[TOPOLOGY_ZONE_KEY] = zone;
  return s;
}

/** True when `offered` (where a volume can live) satisfies one requirement topology `t`. */
function matches(t: Record<string, string>, offered: Record<string, string>): boolean {
  return Object.entries(t).every(([k, v]) => !(k in offered) || offered[k] === v);
}

/**
 * Checks an accessibility requirement against where the backend can place the volume.
 * Throws RESOURCE_EXHAUSTED when no requisite (or preferred, without requisite) topology fits.
 */
export function checkAccessibility(req: Wire, offered: Record<string, string>): void {
  if (!req) return;
  const seg = (ts: Wire[] | undefined) => (ts ?? []).map((t) => t?.segments ?? {});
  const requisite = seg(req.requisite);
  const preferred = seg(req.preferred);
  const pool = requisite.length > 0 ? requisite : preferred;
  if (pool.length === 0) return;
  if (!pool.some((t) => matches(t, offered))) {
    throw new CsiRuleError(
      Code.RESOURCE_EXHAUSTED,
      `volumes can only be provisioned in ${JSON.stringify(offered)}`,
    );
  }
}
