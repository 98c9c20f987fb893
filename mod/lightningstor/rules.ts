/**
 * The embedded LightningStor's pure rules: request validation, idempotency comparisons, ids,
 * page tokens. No I/O, so every rule is unit-tested directly.
 */
import { Buffer } from "node:buffer";

export interface VolumeRecord {
  id: string;
  name: string;
  sizeBytes: number;
  volumeType: string;
  replicationFactor: number;
  orgId: string;
  projectId: string;
  createdAt: string;
  sourceSnapshotId: string;
  sourceVolumeId: string;
  labels: Record<string, string>;
  hostNode: string;
}

export interface SnapshotRecord {
  id: string;
  name: string;
  sourceVolumeId: string;
  sizeBytes: number;
  createdAt: string;
  orgId: string;
  projectId: string;
}

export interface AttachmentRecord {
  id: string;
  volumeId: string;
  nodeId: string;
  attachMode: "read-write" | "read-only";
  multiNode: boolean;
  createdAt: string;
}

export interface NodeRecord {
  id: string;
  topology: Record<string, string>;
  maxAttachments: number;
  registeredAt: string;
}

export interface StoreState {
  version: 1;
  volumes: Record<string, VolumeRecord>;
  snapshots: Record<string, SnapshotRecord>;
  attachments: Record<string, AttachmentRecord>;
  nodes: Record<string, NodeRecord>;
}

export const emptyState = (): StoreState => ({
  version: 1,
  volumes: {},
  snapshots: {},
  attachments: {},
  nodes: {},
});

/** A rule broken by a request; the service maps `kind` to a gRPC status code. */
export class RuleError extends Error {
  constructor(
    readonly kind:
      | "invalid"
      | "not-found"
      | "exists"
      | "precondition"
      | "exhausted"
      | "range"
      | "aborted",
    message: string,
  ) {
    super(message);
  }
}

// Control characters the CSI specification bans in names (other than common whitespace).
// deno-lint-ignore no-control-regex
const BANNED_NAME_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
export const MAX_NAME_LENGTH = 256;
const ID_PATTERN = /^(vol|snap|att)-[0-9a-f]{20}$/;
const VOLUME_TYPES = ["ssd", "hdd"];
/** Volumes are sized in whole MiB: loop devices and filesystems want sector-aligned sizes. */
export const SIZE_UNIT = 1024 * 1024;

export function validateName(name: unknown, what: string): string {
  if (typeof name !== "string" || name === "") {
    throw new RuleError("invalid", `${what} is required`);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new RuleError("invalid", `${what} is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (BANNED_NAME_CHARS.test(name)) {
    throw new RuleError("invalid", `${what} contains control characters`);
  }
  return name;
}

export function isWellFormedId(id: string, prefix: "vol" | "snap" | "att"): boolean {
  return ID_PATTERN.test(id) && id.startsWith(prefix + "-");
}

export function newId(prefix: "vol" | "snap" | "att"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Rounds a requested size up to the allocation unit. */
export function roundSize(bytes: number): number {
  return Math.ceil(bytes / SIZE_UNIT) * SIZE_UNIT;
}

export interface CreateVolumeInput {
  name: string;
  sizeBytes: number;
  volumeType: string;
  replicationFactor: number;
  orgId: string;
  projectId: string;
  sourceSnapshotId: string;
  sourceVolumeId: string;
  labels: Record<string, string>;
}

/** Validates and normalises a CreateVolume request (strings/numbers as they come off the wire). */
export function parseCreateVolume(
  req: Record<string, unknown>,
  limits: { maxBytes: number },
): CreateVolumeInput {
  const name = validateName(req.name, "name");
  const size = Number(req.size_bytes ?? 0);
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new RuleError("invalid", "size_bytes must be a positive integer");
  }
  if (size > limits.maxBytes) {
    throw new RuleError("range", `size_bytes ${size} exceeds the maximum ${limits.maxBytes}`);
  }
  const volumeType = String(req.volume_type || "ssd");
  if (!VOLUME_TYPES.includes(volumeType)) {
    throw new RuleError("invalid", `volume_type must be one of ${VOLUME_TYPES.join(", ")}`);
  }
  const replicationFactor = Number(req.replication_factor || 1);
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > 5) {
    throw new RuleError("invalid", "replication_factor must be an integer from 1 to 5");
  }
  const sourceSnapshotId = String(req.source_snapshot_id ?? "");
  const sourceVolumeId = String(req.source_volume_id ?? "");
  if (sourceSnapshotId && sourceVolumeId) {
    throw new RuleError("invalid", "give at most one of source_snapshot_id and source_volume_id");
  }
  return {
    name,
    sizeBytes: roundSize(size),
    volumeType,
    replicationFactor,
    orgId: String(req.org_id ?? ""),
    projectId: String(req.project_id ?? ""),
    sourceSnapshotId,
    sourceVolumeId,
    labels: { ...(req.labels as Record<string, string> ?? {}) },
  };
}

/** Why an existing volume of the same name does not match a create request, or undefined. */
export function createMismatch(v: VolumeRecord, want: CreateVolumeInput): string | undefined {
  if (v.sizeBytes !== want.sizeBytes) return `size ${v.sizeBytes} != ${want.sizeBytes}`;
  if (v.volumeType !== want.volumeType) return `volume_type ${v.volumeType} != ${want.volumeType}`;
  if (v.replicationFactor !== want.replicationFactor) return "replication_factor differs";
  if (v.orgId !== want.orgId || v.projectId !== want.projectId) return "tenant differs";
  if (v.sourceSnapshotId !== want.sourceSnapshotId || v.sourceVolumeId !== want.sourceVolumeId) {
    return "content source differs";
  }
  return undefined;
}

export function parseAttachMode(mode: unknown): "read-write" | "read-only" {
  const m = String(mode || "read-write");
  if (m !== "read-write" && m !== "read-only") {
    throw new RuleError("invalid", `attach_mode must be read-write or read-only, not ${m}`);
  }
  return m;
}

/**
 * Decides an attach request against the volume's current attachments: returns the existing
 * attachment (idempotent repeat), or undefined to create one, or throws the broken rule.
 */
export function decideAttach(
  current: AttachmentRecord[],
  req: { volumeId: string; nodeId: string; mode: "read-write" | "read-only"; multiNode: boolean },
  nodeAttachmentCount: number,
  nodeMax: number,
): AttachmentRecord | undefined {
  const same = current.find((a) => a.nodeId === req.nodeId);
  if (same) {
    if (same.attachMode !== req.mode) {
      throw new RuleError(
        "exists",
        `volume ${req.volumeId} is already attached to ${req.nodeId} as ${same.attachMode}`,
      );
    }
    return same;
  }
  const others = current.filter((a) => a.nodeId !== req.nodeId);
  if (others.length > 0 && !(req.multiNode && others.every((a) => a.multiNode))) {
    throw new RuleError(
      "precondition",
      `volume ${req.volumeId} is attached to node ${others[0].nodeId}`,
    );
  }
  if (nodeAttachmentCount >= nodeMax) {
    throw new RuleError("exhausted", `node ${req.nodeId} already has ${nodeMax} volumes attached`);
  }
  return undefined;
}

const TOKEN_PREFIX = "lst1.";

export function encodePageToken(lastId: string): string {
  return TOKEN_PREFIX + Buffer.from(lastId, "utf8").toString("base64url");
}

export function decodePageToken(token: string): string {
  if (!token.startsWith(TOKEN_PREFIX)) throw new RuleError("aborted", "invalid page token");
  const id = Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url").toString("utf8");
  if (!/^(vol|snap)-[0-9a-f]{20}$/.test(id)) throw new RuleError("aborted", "invalid page token");
  return id;
}

/**
 * One page of `items` (sorted by id) after the token's id. Tokens name the last id returned,
 * so deleting that item between pages does not skip or repeat others.
 */
export function paginate<T extends { id: string }>(
  items: T[],
  pageSize: number,
  token: string,
): { page: T[]; next: string } {
  if (!Number.isInteger(pageSize) || pageSize < 0) {
    throw new RuleError("invalid", "page_size must not be negative");
  }
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const after = token ? decodePageToken(token) : undefined;
  const rest = after === undefined ? sorted : sorted.filter((i) => i.id > after);
  if (pageSize === 0 || rest.length <= pageSize) return { page: rest, next: "" };
  const page = rest.slice(0, pageSize);
  return { page, next: encodePageToken(page[page.length - 1].id) };
}
