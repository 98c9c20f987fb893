/**
 * CSI Controller service: provisioning, attachment, listing and expansion of LightningStor
 * volumes. Every RPC is idempotent (the backend is keyed by name and by volume+node), returns
 * the error codes the CSI specification lists for it, and rejects a second concurrent call on
 * the same volume or name with ABORTED.
 */
import type { LightningstorClient, ServiceInfo, Volume } from "../mod/lightningstor/mod.ts";
import {
  checkAccessibility,
  isMultiNodeMode,
  isReadOnlyMode,
  parseCapability,
  parseParameters,
  requireCapability,
  sizeForRange,
  topologySegments,
  UnsupportedCapability,
} from "./capability.ts";
import { Code, exclusive, fail, fromBackend, guardAll } from "./errors.ts";
import { InFlight } from "./inflight.ts";
import { snapshotRpcs } from "./controller_snapshots.ts";

export interface ControllerOptions {
  backend: LightningstorClient;
  defaultVolumeBytes: number;
  maxVolumeBytes: number;
}

// deno-lint-ignore no-explicit-any
type Req = any;

const MiB = 1024 * 1024;
export const PUBLISH_ATTACHMENT_KEY = "stor.plasmacloud.io/attachment";
export const PUBLISH_MODE_KEY = "stor.plasmacloud.io/mode";

const CAPABILITIES = [
  "CREATE_DELETE_VOLUME",
  "PUBLISH_UNPUBLISH_VOLUME",
  "LIST_VOLUMES",
  "GET_CAPACITY",
  "CREATE_DELETE_SNAPSHOT",
  "LIST_SNAPSHOTS",
  "CLONE_VOLUME",
  "PUBLISH_READONLY",
  "EXPAND_VOLUME",
  "LIST_VOLUMES_PUBLISHED_NODES",
  "GET_VOLUME",
];

/** Opaque context handed back on every publish; identical for every call about one volume. */
function volumeContext(v: Volume): Record<string, string> {
  return { type: v.volumeType, replication: String(v.replicationFactor) };
}

function contentSource(v: Volume) {
  if (v.sourceSnapshotId) return { snapshot: { snapshot_id: v.sourceSnapshotId } };
  if (v.sourceVolumeId) return { volume: { volume_id: v.sourceVolumeId } };
  return null;
}

export function controllerService(opts: ControllerOptions) {
  const backend = opts.backend;
  const locks = new InFlight();
  let info: ServiceInfo | undefined;
  const serviceInfo = async () => (info ??= await backend.serviceInfo());

  const csiVolume = async (v: Volume) => {
    const si = await serviceInfo();
    return {
      capacity_bytes: String(v.sizeBytes),
      volume_id: v.id,
      volume_context: volumeContext(v),
      content_source: contentSource(v),
      accessible_topology: [{
        segments: topologySegments(si.locality === "node" ? v.hostNode : "", si.zone),
      }],
    };
  };

  const requireId = (v: unknown, field: string): string => {
    if (typeof v !== "string" || v === "") fail(Code.INVALID_ARGUMENT, `${field} is required`);
    return v;
  };

  return guardAll({
    ControllerGetCapabilities: () =>
      Promise.resolve({ capabilities: CAPABILITIES.map((type) => ({ rpc: { type } })) }),

    CreateVolume: async (req: Req) => {
      const name = requireId(req.name, "name");
      if (name.length > 128) fail(Code.INVALID_ARGUMENT, "name is longer than 128 characters");
      const caps: unknown[] = req.volume_capabilities ?? [];
      if (caps.length === 0) fail(Code.INVALID_ARGUMENT, "volume_capabilities is required");
      for (const c of caps) requireCapability(c, Code.INVALID_ARGUMENT);
      const params = parseParameters(req.parameters);
      const size = sizeForRange(req.capacity_range, {
        defaultBytes: opts.defaultVolumeBytes,
        unit: MiB,
        maxBytes: opts.maxVolumeBytes,
      });
      const src = req.volume_content_source;
      const sourceSnapshotId = src?.snapshot
        ? requireId(src.snapshot.snapshot_id, "snapshot_id")
        : "";
      const sourceVolumeId = src?.volume ? requireId(src.volume.volume_id, "volume_id") : "";
      const si = await serviceInfo();
      checkAccessibility(
        req.accessibility_requirements,
        topologySegments(si.locality === "node" ? si.hostNode : "", si.zone),
      );
      return await exclusive(locks, [`name:${name}`], async () => {
        let v: Volume;
        try {
          v = await backend.createVolume({
            name,
            sizeBytes: size,
            ...params,
            sourceSnapshotId,
            sourceVolumeId,
          });
        } catch (err) {
          throw fromBackend(err, [
            Code.ALREADY_EXISTS,
            Code.NOT_FOUND,
            Code.OUT_OF_RANGE,
            Code.RESOURCE_EXHAUSTED,
            Code.INVALID_ARGUMENT,
          ]);
        }
        return { volume: await csiVolume(v) };
      });
    },

    DeleteVolume: async (req: Req) => {
      const id = requireId(req.volume_id, "volume_id");
      return await exclusive(locks, [id], async () => {
        try {
          await backend.deleteVolume(id);
        } catch (err) {
          throw fromBackend(err, [Code.FAILED_PRECONDITION]);
        }
        return {};
      });
    },

    ControllerPublishVolume: async (req: Req) => {
      const id = requireId(req.volume_id, "volume_id");
      const node = requireId(req.node_id, "node_id");
      if (!req.volume_capability) fail(Code.INVALID_ARGUMENT, "volume_capability is required");
      const cap = requireCapability(req.volume_capability, Code.INVALID_ARGUMENT);
      const mode = req.readonly || isReadOnlyMode(cap.mode) ? "read-only" : "read-write";
      return await exclusive(locks, [id], async () => {
        try {
          const a = await backend.attachVolume(id, node, mode, isMultiNodeMode(cap.mode));
          return {
            publish_context: { [PUBLISH_ATTACHMENT_KEY]: a.id, [PUBLISH_MODE_KEY]: a.attachMode },
          };
        } catch (err) {
          throw fromBackend(err, [
            Code.NOT_FOUND,
            Code.ALREADY_EXISTS,
            Code.FAILED_PRECONDITION,
            Code.RESOURCE_EXHAUSTED,
          ]);
        }
      });
    },

    ControllerUnpublishVolume: async (req: Req) => {
      const id = requireId(req.volume_id, "volume_id");
      const node = String(req.node_id ?? "");
      return await exclusive(locks, [id], async () => {
        try {
          await backend.detachVolume(id, node);
        } catch (err) {
          throw fromBackend(err, []);
        }
        return {};
      });
    },

    ValidateVolumeCapabilities: async (req: Req) => {
      const id = requireId(req.volume_id, "volume_id");
      const caps: unknown[] = req.volume_capabilities ?? [];
      if (caps.length === 0) fail(Code.INVALID_ARGUMENT, "volume_capabilities is required");
      let v: Volume;
      try {
        v = await backend.getVolume(id);
      } catch (err) {
        throw fromBackend(err, [Code.NOT_FOUND]);
      }
      for (const c of caps) {
        try {
          parseCapability(c);
        } catch (err) {
          if (err instanceof UnsupportedCapability) {
            return { confirmed: null, message: err.message };
          }
          throw err;
        }
      }
      const ctx = volumeContext(v);
      for (const [k, val] of Object.entries(req.volume_context ?? {})) {
        if (ctx[k] !== val) {
          return { confirmed: null, message: `volume_context ${k} does not match` };
        }
      }
      const params = parseParameters(req.parameters);
      if (Object.keys(req.parameters ?? {}).length > 0 && params.volumeType !== v.volumeType) {
        return { confirmed: null, message: `volume is ${v.volumeType}, not ${params.volumeType}` };
      }
      return {
        confirmed: {
          volume_context: req.volume_context ?? {},
          volume_capabilities: caps,
          parameters: req.parameters ?? {},
        },
        message: "",
      };
    },

    ListVolumes: async (req: Req) => {
      const max = Number(req.max_entries ?? 0);
      if (max < 0) fail(Code.INVALID_ARGUMENT, "max_entries must not be negative");
      try {
        const { volumes, next } = await backend.listVolumes(max, String(req.starting_token ?? ""));
        const attachments = await backend.listAttachments({});
        const entries = [];
        for (const v of volumes) {
          entries.push({
            volume: await csiVolume(v),
            status: {
              published_node_ids: attachments.filter((a) => a.volumeId === v.id).map((a) =>
                a.nodeId
              ),
            },
          });
        }
        return { entries, next_token: next };
      } catch (err) {
        throw fromBackend(err, [Code.ABORTED]);
      }
    },

    ControllerGetVolume: async (req: Req) => {
      const id = requireId(req.volume_id, "volume_id");
      try {
        const v = await backend.getVolume(id);
        const attachments = await backend.listAttachments({ volumeId: id });
        return {
          volume: await csiVolume(v),
          status: { published_node_ids: attachments.map((a) => a.nodeId) },
        };
      } catch (err) {
        throw fromBackend(err, [Code.NOT_FOUND]);
      }
    },

    GetCapacity: async (req: Req) => {
      for (const c of req.volume_capabilities ?? []) {
        try {
          parseCapability(c);
        } catch (err) {
          // Capacity for capabilities the driver cannot serve is none.
          if (err instanceof UnsupportedCapability) return { available_capacity: "0" };
          throw err;
        }
      }
      parseParameters(req.parameters);
      const si = await serviceInfo();
      const offered = topologySegments(si.locality === "node" ? si.hostNode : "", si.zone);
      const asked: Record<string, string> = req.accessible_topology?.segments ?? {};
      if (Object.entries(asked).some(([k, v]) => k in offered && offered[k] !== v)) {
        return { available_capacity: "0" };
      }
      try {
        const c = await backend.getCapacity();
        return {
          available_capacity: String(c.availableBytes),
          maximum_volume_size: {
            value: String(Math.min(c.maximumVolumeBytes, opts.maxVolumeBytes)),
          },
          minimum_volume_size: { value: String(c.minimumVolumeBytes) },
        };
      } catch (err) {
        throw fromBackend(err, []);
      }
    },

    ControllerExpandVolume: async (req: Req) => {
      const id = requireId(req.volume_id, "volume_id");
      if (!req.capacity_range) fail(Code.INVALID_ARGUMENT, "capacity_range is required");
      const required = Number(req.capacity_range.required_bytes ?? 0);
      const limit = Number(req.capacity_range.limit_bytes ?? 0);
      if (required <= 0 && limit <= 0) fail(Code.INVALID_ARGUMENT, "capacity_range is empty");
      const size = sizeForRange(req.capacity_range, {
        defaultBytes: limit,
        unit: MiB,
        maxBytes: opts.maxVolumeBytes,
      });
      if (req.volume_capability) requireCapability(req.volume_capability, Code.INVALID_ARGUMENT);
      return await exclusive(locks, [id], async () => {
        let v: Volume;
        try {
          v = await backend.expandVolume(id, size);
        } catch (err) {
          throw fromBackend(err, [Code.NOT_FOUND, Code.OUT_OF_RANGE]);
        }
        if (limit > 0 && v.sizeBytes > limit) {
          fail(Code.OUT_OF_RANGE, `volume is already ${v.sizeBytes} bytes, above limit_bytes`);
        }
        // Block volumes too: the node must refresh its loop device to see the new size.
        return { capacity_bytes: String(v.sizeBytes), node_expansion_required: true };
      });
    },

    ...snapshotRpcs(backend, locks),
  });
}
