/**
 * CSI snapshot RPCs: CreateSnapshot, DeleteSnapshot, ListSnapshots. LightningStor snapshots are
 * cut synchronously (the embedded one copies, sharing blocks where it can), so every snapshot
 * returned is ready_to_use.
 */
import type { LightningstorClient, Snapshot } from "../mod/lightningstor/mod.ts";
import { backendCode, Code, exclusive, fail, fromBackend } from "./errors.ts";
import type { InFlight } from "./inflight.ts";

// deno-lint-ignore no-explicit-any
type Req = any;

function timestamp(iso: string) {
  const ms = Date.parse(iso);
  const t = Number.isFinite(ms) ? ms : 0;
  return { seconds: String(Math.floor(t / 1000)), nanos: (t % 1000) * 1_000_000 };
}

export function csiSnapshot(s: Snapshot) {
  return {
    size_bytes: String(s.sizeBytes),
    snapshot_id: s.id,
    source_volume_id: s.sourceVolumeId,
    creation_time: timestamp(s.createdAt),
    ready_to_use: s.readyToUse,
    group_snapshot_id: "",
  };
}

export function snapshotRpcs(backend: LightningstorClient, locks: InFlight) {
  return {
    CreateSnapshot: async (req: Req) => {
      const name = String(req.name ?? "");
      const source = String(req.source_volume_id ?? "");
      if (!name) fail(Code.INVALID_ARGUMENT, "name is required");
      if (!source) fail(Code.INVALID_ARGUMENT, "source_volume_id is required");
      if (name.length > 128) fail(Code.INVALID_ARGUMENT, "name is longer than 128 characters");
      if (Object.keys(req.parameters ?? {}).some((k) => !k.startsWith("csi.storage.k8s.io/"))) {
        fail(Code.INVALID_ARGUMENT, "snapshot parameters are not supported");
      }
      return await exclusive(locks, [`snapname:${name}`, source], async () => {
        try {
          return { snapshot: csiSnapshot(await backend.createSnapshot(name, source)) };
        } catch (err) {
          throw fromBackend(err, [Code.ALREADY_EXISTS, Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED]);
        }
      });
    },

    DeleteSnapshot: async (req: Req) => {
      const id = String(req.snapshot_id ?? "");
      if (!id) fail(Code.INVALID_ARGUMENT, "snapshot_id is required");
      return await exclusive(locks, [`snap:${id}`], async () => {
        try {
          await backend.deleteSnapshot(id);
        } catch (err) {
          throw fromBackend(err, [Code.FAILED_PRECONDITION]);
        }
        return {};
      });
    },

    ListSnapshots: async (req: Req) => {
      const max = Number(req.max_entries ?? 0);
      if (max < 0) fail(Code.INVALID_ARGUMENT, "max_entries must not be negative");
      const snapshotId = String(req.snapshot_id ?? "");
      const sourceVolumeId = String(req.source_volume_id ?? "");
      if (snapshotId) {
        // A single snapshot: absent (or from another volume) is an empty list, not an error.
        try {
          const s = await backend.getSnapshot(snapshotId);
          const hit = !sourceVolumeId || s.sourceVolumeId === sourceVolumeId;
          return { entries: hit ? [{ snapshot: csiSnapshot(s) }] : [], next_token: "" };
        } catch (err) {
          if (backendCode(err) === Code.NOT_FOUND) return { entries: [], next_token: "" };
          throw fromBackend(err, []);
        }
      }
      try {
        const { snapshots, next } = await backend.listSnapshots({
          pageSize: max,
          pageToken: String(req.starting_token ?? ""),
          sourceVolumeId,
        });
        return { entries: snapshots.map((s) => ({ snapshot: csiSnapshot(s) })), next_token: next };
      } catch (err) {
        throw fromBackend(err, [Code.ABORTED]);
      }
    },
  };
}
