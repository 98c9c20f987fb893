/**
 * The node RPCs that report and grow: NodeGetInfo (node id, topology, attach limit),
 * NodeGetCapabilities, NodeGetVolumeStats (statfs for mounts, device size for block, plus a
 * volume condition) and NodeExpandVolume (loop capacity refresh, then resize2fs/xfs_growfs).
 */
import { fsStats, imageExists } from "../mod/lightningstor/files.ts";
import { blockDeviceSize, loopsFor, refreshLoop } from "../mod/lightningstor/loop.ts";
import { requireCapability, topologySegments } from "./capability.ts";
import { Code, exclusive, fail, requireField } from "./errors.ts";
import {
  fsSizeBytes,
  growFs,
  isReadOnly,
  mountAt,
  OnlineResizeDenied,
  readMounts,
} from "./mount.ts";
import type { NodeContext } from "./node.ts";
import type { StagedVolume } from "./node_state.ts";
import { checkPathSyntax } from "./paths.ts";

// deno-lint-ignore no-explicit-any
type Req = any;

const NODE_CAPABILITIES = [
  "STAGE_UNSTAGE_VOLUME",
  "GET_VOLUME_STATS",
  "EXPAND_VOLUME",
  "VOLUME_CONDITION",
];

/** The staged volume at `path` (its staging path or a publish target), else NOT_FOUND. */
async function stagedAt(ctx: NodeContext, id: string, path: string): Promise<StagedVolume> {
  const st = await ctx.state.get(id);
  if (!st) {
    if (!(await ctx.volumeKnown(id))) fail(Code.NOT_FOUND, `volume ${id} not found`);
    fail(Code.NOT_FOUND, `volume ${id} is not staged or published on this node`);
  }
  let p: string;
  try {
    p = checkPathSyntax(path, ctx.opts.roots, "volume_path");
  } catch (err) {
    fail(
      Code.NOT_FOUND,
      `volume ${id} is not at ${path}: ${err instanceof Error ? err.message : err}`,
    );
  }
  if (p !== st.stagingPath && !(p in st.targets)) {
    fail(Code.NOT_FOUND, `volume ${id} is not at ${p}`);
  }
  return st;
}

/** What is wrong with a staged volume at `path`, if anything. */
async function problems(st: StagedVolume, path: string): Promise<string[]> {
  const out: string[] = [];
  if (!(await imageExists(st.backingFile))) out.push(`backing image ${st.backingFile} is missing`);
  const loops = await loopsFor(st.backingFile).catch(() => []);
  if (!loops.some((d) => d.device === st.device)) out.push(`loop device ${st.device} is detached`);
  const m = await mountAt(path);
  if (!m) out.push(`nothing is mounted at ${path}`);
  else if (st.kind === "mount") {
    if (m.source !== st.device) out.push(`${path} holds ${m.source}, not ${st.device}`);
    const wantRo = st.readOnly || Boolean(st.targets[path]?.readOnly);
    // ext4 remounts itself read-only on I/O errors (errors=remount-ro).
    if (isReadOnly(m) && !wantRo) out.push(`filesystem at ${path} went read-only`);
  }
  return out;
}

export function nodeInfoRpcs(ctx: NodeContext) {
  const { opts } = ctx;
  return {
    NodeGetCapabilities: () =>
      Promise.resolve({ capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) }),

    NodeGetInfo: () =>
      Promise.resolve({
        node_id: opts.nodeId,
        max_volumes_per_node: String(opts.maxVolumes),
        accessible_topology: { segments: topologySegments(opts.nodeId, opts.zone) },
      }),

    NodeGetVolumeStats: async (req: Req) => {
      const id = requireField(req.volume_id, "volume_id");
      const path = requireField(req.volume_path, "volume_path");
      const st = await stagedAt(ctx, id, path);
      const p = checkPathSyntax(path, opts.roots, "volume_path");
      const issues = await problems(st, p);
      const usage = [];
      if (issues.length === 0) {
        if (st.kind === "block") {
          usage.push({ total: String(await blockDeviceSize(st.device)), unit: "BYTES" });
        } else {
          const s = await fsStats(p);
          usage.push({
            available: String(s.availableBytes),
            total: String(s.totalBytes),
            used: String(s.totalBytes - s.freeBytes),
            unit: "BYTES",
          }, {
            available: String(s.freeInodes),
            total: String(s.totalInodes),
            used: String(s.totalInodes - s.freeInodes),
            unit: "INODES",
          });
        }
      }
      return {
        usage,
        volume_condition: {
          abnormal: issues.length > 0,
          message: issues.length > 0 ? issues.join("; ") : "volume is healthy",
        },
      };
    },

    NodeExpandVolume: async (req: Req) => {
      const id = requireField(req.volume_id, "volume_id");
      if (!(await ctx.volumeKnown(id))) fail(Code.NOT_FOUND, `volume ${id} not found`);
      const path = requireField(req.volume_path, "volume_path");
      checkPathSyntax(path, opts.roots, "volume_path");
      if (req.volume_capability) requireCapability(req.volume_capability, Code.INVALID_ARGUMENT);
      const st = await stagedAt(ctx, id, path);
      const required = Number(req.capacity_range?.required_bytes ?? 0);
      const limit = Number(req.capacity_range?.limit_bytes ?? 0);
      return await exclusive(ctx.locks, [id], async () => {
        await refreshLoop(st.device);
        const size = await blockDeviceSize(st.device);
        if (required > size) {
          fail(
            Code.OUT_OF_RANGE,
            `volume ${id} is ${size} bytes; expand it (ControllerExpandVolume) first`,
          );
        }
        if (limit > 0 && size > limit) {
          fail(Code.OUT_OF_RANGE, `volume ${id} is ${size} bytes, above limit_bytes`);
        }
        if (st.kind === "mount") {
          if (st.readOnly) fail(Code.FAILED_PRECONDITION, `volume ${id} is attached read-only`);
          // Already spanning the device (bar a partial last block): nothing to do.
          const fsBytes = await fsSizeBytes(st.device, st.stagingPath, st.fsType);
          if (fsBytes + 64 * 1024 >= size) return { capacity_bytes: String(size) };
          const mounts = await readMounts();
          const inUse = Object.keys(st.targets).some((t) => mounts.some((m) => m.mountPoint === t));
          try {
            await growFs(st.device, st.stagingPath, st.fsType, inUse, st.mountFlags ?? []);
          } catch (err) {
            if (err instanceof OnlineResizeDenied) fail(Code.FAILED_PRECONDITION, err.message);
            throw err;
          }
        }
        return { capacity_bytes: String(size) };
      });
    },
  };
}
