/**
 * The embedded LightningStor VolumeService: the same gRPC contract a PlasmaCloud LightningStor
 * serves, implemented on one host. Volumes are sparse image files under `<dir>/volumes`, which
 * a node attaches as loop devices (see loop.ts); snapshots are block-sharing copies under
 * `<dir>/snapshots`; expansion truncates the image larger. All state is in StateStore.
 */
import { type grpc, GrpcError, Status } from "../grpc/mod.ts";
import { logger } from "../log/mod.ts";
import { copyImage, createSparse, growImage, removeImage } from "./files.ts";
import {
  type AttachmentRecord,
  createMismatch,
  decideAttach,
  newId,
  paginate,
  parseAttachMode,
  parseCreateVolume,
  roundSize,
  RuleError,
  type VolumeRecord,
} from "./rules.ts";
import type { StateStore } from "./store.ts";

const log = logger("lightningstor");

export interface EmbeddedOptions {
  /** The node whose filesystem holds the images: the only node that can attach them. */
  hostNode: string;
  zone: string;
  maxVolumeBytes: number;
}

export type Req = Record<string, unknown>;

const CODES: Record<RuleError["kind"], grpc.status> = {
  invalid: Status.INVALID_ARGUMENT,
  "not-found": Status.NOT_FOUND,
  exists: Status.ALREADY_EXISTS,
  precondition: Status.FAILED_PRECONDITION,
  exhausted: Status.RESOURCE_EXHAUSTED,
  range: Status.OUT_OF_RANGE,
  aborted: Status.ABORTED,
};

/** Runs a handler body, turning broken rules into gRPC statuses. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RuleError) throw new GrpcError(CODES[err.kind], err.message);
    throw err;
  }
}

export const now = () => new Date().toISOString();

export class EmbeddedVolumeService {
  constructor(readonly store: StateStore, readonly opts: EmbeddedOptions) {}

  private attachmentsOf(volumeId: string): AttachmentRecord[] {
    return Object.values(this.store.read().attachments).filter((a) => a.volumeId === volumeId);
  }

  wireVolume(v: VolumeRecord) {
    return {
      id: v.id,
      name: v.name,
      size_bytes: String(v.sizeBytes),
      status: this.attachmentsOf(v.id).length > 0 ? "in-use" : "available",
      volume_type: v.volumeType,
      replication_factor: v.replicationFactor,
      org_id: v.orgId,
      project_id: v.projectId,
      created_at: v.createdAt,
      source_snapshot_id: v.sourceSnapshotId,
      source_volume_id: v.sourceVolumeId,
      labels: v.labels,
      host_node: v.hostNode,
    };
  }

  wireAttachment(a: AttachmentRecord) {
    return {
      id: a.id,
      volume_id: a.volumeId,
      node_id: a.nodeId,
      device_path: "",
      connection_info: JSON.stringify({
        transport: "loop",
        backingFile: this.store.volumePath(a.volumeId),
        readOnly: a.attachMode === "read-only",
      }),
      attach_mode: a.attachMode,
      created_at: a.createdAt,
    };
  }

  CreateVolume = (req: Req) =>
    guarded(async () => {
      const want = parseCreateVolume(req, { maxBytes: this.opts.maxVolumeBytes });
      const v = await this.store.update(async (s) => {
        const existing = Object.values(s.volumes).find((x) => x.name === want.name);
        if (existing) {
          const why = createMismatch(existing, want);
          if (why) throw new RuleError("exists", `volume ${want.name} exists: ${why}`);
          return existing;
        }
        let source: string | undefined;
        if (want.sourceSnapshotId) {
          const snap = s.snapshots[want.sourceSnapshotId];
          if (!snap) {
            throw new RuleError("not-found", `snapshot ${want.sourceSnapshotId} not found`);
          }
          if (want.sizeBytes < snap.sizeBytes) {
            throw new RuleError("range", `size is smaller than snapshot (${snap.sizeBytes} bytes)`);
          }
          source = this.store.snapshotPath(snap.id);
        } else if (want.sourceVolumeId) {
          const src = s.volumes[want.sourceVolumeId];
          if (!src) throw new RuleError("not-found", `volume ${want.sourceVolumeId} not found`);
          if (want.sizeBytes < src.sizeBytes) {
            throw new RuleError("range", `size is smaller than source (${src.sizeBytes} bytes)`);
          }
          source = this.store.volumePath(src.id);
        }
        const rec: VolumeRecord = {
          id: newId("vol"),
          ...want,
          createdAt: now(),
          hostNode: this.opts.hostNode,
        };
        const file = this.store.volumePath(rec.id);
        if (source) await copyImage(source, file, rec.sizeBytes);
        else await createSparse(file, rec.sizeBytes);
        s.volumes[rec.id] = rec;
        log.info("volume created", { volume: rec.id, name: rec.name, bytes: rec.sizeBytes });
        return rec;
      });
      return this.wireVolume(v);
    });

  DeleteVolume = (req: Req) =>
    guarded(async () => {
      const id = String(req.volume_id ?? "");
      if (!id) throw new RuleError("invalid", "volume_id is required");
      await this.store.update(async (s) => {
        if (!s.volumes[id]) return;
        const att = Object.values(s.attachments).find((a) => a.volumeId === id);
        if (att) throw new RuleError("precondition", `volume ${id} is attached to ${att.nodeId}`);
        await removeImage(this.store.volumePath(id));
        delete s.volumes[id];
        log.info("volume deleted", { volume: id });
      });
      return {};
    });

  GetVolume = (req: Req) =>
    guarded(() => {
      const v = this.store.read().volumes[String(req.volume_id ?? "")];
      if (!v) throw new RuleError("not-found", `volume ${req.volume_id} not found`);
      return Promise.resolve(this.wireVolume(v));
    });

  ListVolumes = (req: Req) =>
    guarded(() => {
      const org = String(req.org_id ?? "");
      const project = String(req.project_id ?? "");
      const all = Object.values(this.store.read().volumes).filter((v) =>
        (!org || v.orgId === org) && (!project || v.projectId === project)
      );
      const { page, next } = paginate(
        all,
        Number(req.page_size ?? 0),
        String(req.page_token ?? ""),
      );
      return Promise.resolve({
        volumes: page.map((v) => this.wireVolume(v)),
        next_page_token: next,
      });
    });

  ExpandVolume = (req: Req) =>
    guarded(async () => {
      const id = String(req.volume_id ?? "");
      const size = Number(req.size_bytes ?? 0);
      if (!Number.isSafeInteger(size) || size <= 0) {
        throw new RuleError("invalid", "size_bytes must be a positive integer");
      }
      if (size > this.opts.maxVolumeBytes) {
        throw new RuleError(
          "range",
          `size ${size} exceeds the maximum ${this.opts.maxVolumeBytes}`,
        );
      }
      const v = await this.store.update(async (s) => {
        const v = s.volumes[id];
        if (!v) throw new RuleError("not-found", `volume ${id} not found`);
        const want = roundSize(size);
        if (want <= v.sizeBytes) return v;
        await growImage(this.store.volumePath(id), want);
        v.sizeBytes = want;
        log.info("volume expanded", { volume: id, bytes: want });
        return v;
      });
      return this.wireVolume(v);
    });

  AttachVolume = (req: Req) =>
    guarded(async () => {
      const volumeId = String(req.volume_id ?? "");
      const nodeId = String(req.node_id ?? "");
      if (!volumeId || !nodeId) {
        throw new RuleError("invalid", "volume_id and node_id are required");
      }
      const mode = parseAttachMode(req.attach_mode);
      const a = await this.store.update((s) => {
        const v = s.volumes[volumeId];
        if (!v) throw new RuleError("not-found", `volume ${volumeId} not found`);
        const node = s.nodes[nodeId];
        if (!node) throw new RuleError("not-found", `node ${nodeId} is not registered`);
        if (v.hostNode && v.hostNode !== nodeId) {
          throw new RuleError(
            "precondition",
            `volume ${volumeId} is reachable only from ${v.hostNode}`,
          );
        }
        const all = Object.values(s.attachments);
        const existing = decideAttach(
          all.filter((x) => x.volumeId === volumeId),
          { volumeId, nodeId, mode, multiNode: Boolean(req.multi_node) },
          all.filter((x) => x.nodeId === nodeId).length,
          node.maxAttachments,
        );
        if (existing) return existing;
        const rec: AttachmentRecord = {
          id: newId("att"),
          volumeId,
          nodeId,
          attachMode: mode,
          multiNode: Boolean(req.multi_node),
          createdAt: now(),
        };
        s.attachments[rec.id] = rec;
        log.info("volume attached", { volume: volumeId, node: nodeId, mode });
        return rec;
      });
      return this.wireAttachment(a);
    });

  DetachVolume = (req: Req) =>
    guarded(async () => {
      const volumeId = String(req.volume_id ?? "");
      const nodeId = String(req.node_id ?? "");
      if (!volumeId) throw new RuleError("invalid", "volume_id is required");
      await this.store.update((s) => {
        for (const a of Object.values(s.attachments)) {
          if (a.volumeId === volumeId && (!nodeId || a.nodeId === nodeId)) {
            delete s.attachments[a.id];
            log.info("volume detached", { volume: volumeId, node: a.nodeId });
          }
        }
      });
      return {};
    });

  ListAttachments = (req: Req) =>
    guarded(() => {
      const volumeId = String(req.volume_id ?? "");
      const nodeId = String(req.node_id ?? "");
      const list = Object.values(this.store.read().attachments).filter((a) =>
        (!volumeId || a.volumeId === volumeId) && (!nodeId || a.nodeId === nodeId)
      );
      return Promise.resolve({ attachments: list.map((a) => this.wireAttachment(a)) });
    });
}
