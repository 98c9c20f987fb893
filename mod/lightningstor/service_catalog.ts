/**
 * The embedded LightningStor's snapshot, node and capacity RPCs (the volume and attachment RPCs
 * are in service.ts). Snapshots are block-sharing copies of a volume's image under
 * `<dir>/snapshots`, independent of their source once cut.
 */
import { copyImage, fsStats, removeImage } from "./files.ts";
import { logger } from "../log/mod.ts";
import {
  newId,
  paginate,
  RuleError,
  SIZE_UNIT,
  type SnapshotRecord,
  validateName,
} from "./rules.ts";
import { type EmbeddedOptions, guarded, now, type Req } from "./service.ts";
import type { StateStore } from "./store.ts";

const log = logger("lightningstor");

export class CatalogRpcs {
  constructor(readonly store: StateStore, readonly opts: EmbeddedOptions) {}

  wireSnapshot(s: SnapshotRecord) {
    return {
      id: s.id,
      name: s.name,
      source_volume_id: s.sourceVolumeId,
      size_bytes: String(s.sizeBytes),
      created_at: s.createdAt,
      ready_to_use: true,
      org_id: s.orgId,
      project_id: s.projectId,
    };
  }

  CreateSnapshot = (req: Req) =>
    guarded(async () => {
      const name = validateName(req.name, "name");
      const sourceId = String(req.source_volume_id ?? "");
      if (!sourceId) throw new RuleError("invalid", "source_volume_id is required");
      const snap = await this.store.update(async (s) => {
        const existing = Object.values(s.snapshots).find((x) => x.name === name);
        if (existing) {
          if (existing.sourceVolumeId !== sourceId) {
            throw new RuleError(
              "exists",
              `snapshot ${name} exists for volume ${existing.sourceVolumeId}`,
            );
          }
          return existing;
        }
        const v = s.volumes[sourceId];
        if (!v) throw new RuleError("not-found", `volume ${sourceId} not found`);
        const rec: SnapshotRecord = {
          id: newId("snap"),
          name,
          sourceVolumeId: sourceId,
          sizeBytes: v.sizeBytes,
          createdAt: now(),
          orgId: v.orgId,
          projectId: v.projectId,
        };
        await copyImage(this.store.volumePath(sourceId), this.store.snapshotPath(rec.id));
        s.snapshots[rec.id] = rec;
        log.info("snapshot created", { snapshot: rec.id, volume: sourceId });
        return rec;
      });
      return this.wireSnapshot(snap);
    });

  DeleteSnapshot = (req: Req) =>
    guarded(async () => {
      const id = String(req.snapshot_id ?? "");
      if (!id) throw new RuleError("invalid", "snapshot_id is required");
      await this.store.update(async (s) => {
        if (!s.snapshots[id]) return;
        await removeImage(this.store.snapshotPath(id));
        delete s.snapshots[id];
      });
      return {};
    });

  GetSnapshot = (req: Req) =>
    guarded(() => {
      const snap = this.store.read().snapshots[String(req.snapshot_id ?? "")];
      if (!snap) throw new RuleError("not-found", `snapshot ${req.snapshot_id} not found`);
      return Promise.resolve(this.wireSnapshot(snap));
    });

  ListSnapshots = (req: Req) =>
    guarded(() => {
      const f = {
        id: String(req.snapshot_id ?? ""),
        source: String(req.source_volume_id ?? ""),
        org: String(req.org_id ?? ""),
        project: String(req.project_id ?? ""),
      };
      const all = Object.values(this.store.read().snapshots).filter((x) =>
        (!f.id || x.id === f.id) && (!f.source || x.sourceVolumeId === f.source) &&
        (!f.org || x.orgId === f.org) && (!f.project || x.projectId === f.project)
      );
      const { page, next } = paginate(
        all,
        Number(req.page_size ?? 0),
        String(req.page_token ?? ""),
      );
      return Promise.resolve({
        snapshots: page.map((x) => this.wireSnapshot(x)),
        next_page_token: next,
      });
    });

  RegisterNode = (req: Req) =>
    guarded(async () => {
      const id = validateName(req.node_id, "node_id");
      const max = Number(req.max_attachments || 64);
      const rec = await this.store.update((s) => {
        const prev = s.nodes[id];
        s.nodes[id] = {
          id,
          topology: { ...(req.topology as Record<string, string> ?? {}) },
          maxAttachments: max,
          registeredAt: prev?.registeredAt ?? now(),
        };
        return s.nodes[id];
      });
      return wireNode(rec);
    });

  GetNode = (req: Req) =>
    guarded(() => {
      const n = this.store.read().nodes[String(req.node_id ?? "")];
      if (!n) throw new RuleError("not-found", `node ${req.node_id} is not registered`);
      return Promise.resolve(wireNode(n));
    });

  GetCapacity = (_req: Req) =>
    guarded(async () => {
      const st = await fsStats(this.store.dir);
      return {
        available_bytes: String(st.availableBytes),
        maximum_volume_bytes: String(this.opts.maxVolumeBytes),
        minimum_volume_bytes: String(SIZE_UNIT),
      };
    });

  GetServiceInfo = (_req: Req) =>
    Promise.resolve({
      locality: "node",
      zone: this.opts.zone,
      version: "embedded-1",
      host_node: this.opts.hostNode,
    });
}

function wireNode(
  n: { id: string; topology: Record<string, string>; maxAttachments: number; registeredAt: string },
) {
  return {
    id: n.id,
    topology: n.topology,
    max_attachments: n.maxAttachments,
    registered_at: n.registeredAt,
  };
}
