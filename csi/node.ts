/**
 * CSI Node service: makes a controller-published LightningStor volume usable on this node.
 * Stage attaches the volume's image as a loop device and (for mount volumes) formats it only
 * when blank and mounts it at the staging path; publish bind-mounts the staging mount (or, for
 * raw block volumes, the device node) at the pod's target path. Each call is idempotent and
 * checked against the kernel's mount and loop tables; paths are confined to the kubelet dirs.
 */
import type { LightningstorClient } from "../mod/lightningstor/mod.ts";
import {
  attachLoop,
  detachLoops,
  loopsFor,
  parseConnectionInfo,
} from "../mod/lightningstor/loop.ts";
import {
  type Capability,
  isReadOnlyMode,
  requireCapability,
  topologySegments,
} from "./capability.ts";
import {
  backendCode,
  Code,
  exclusive,
  fail,
  fromBackend,
  guardAll,
  requireField,
} from "./errors.ts";
import { InFlight } from "./inflight.ts";
import {
  bindMount,
  isDeviceBind,
  isReadOnly,
  mkfs,
  mountAt,
  mountDevice,
  type MountEntry,
  probeFs,
  readMounts,
  unmount,
} from "./mount.ts";
import { nodeInfoRpcs } from "./node_info.ts";
import { NodeState, type StagedVolume } from "./node_state.ts";
import { confinePath } from "./paths.ts";

export interface NodeOptions {
  backend: LightningstorClient;
  nodeId: string;
  zone: string;
  maxVolumes: number;
  /** Directories the CO's paths must lie in: normally just the kubelet root dir. */
  roots: string[];
  /** Where staging records are kept (inside the plugin's kubelet plugin dir). */
  stateDir: string;
  defaultFsType: "ext4" | "xfs";
}

// deno-lint-ignore no-explicit-any
type Req = any;

export interface NodeContext {
  opts: NodeOptions;
  state: NodeState;
  locks: InFlight;
  /** True when the backend knows the volume (or this node has it staged). */
  volumeKnown(id: string): Promise<boolean>;
}

/** Whether a mount entry is this staged volume's (its device, or a bind of its device node). */
export function ownsMount(st: StagedVolume, m: MountEntry): boolean {
  return st.kind === "mount" ? m.source === st.device : isDeviceBind(m, st.device);
}

async function stagedIntact(st: StagedVolume): Promise<boolean> {
  const loops = await loopsFor(st.backingFile);
  if (!loops.some((d) => d.device === st.device)) return false;
  if (st.kind === "block") return true;
  return (await mountAt(st.stagingPath))?.source === st.device;
}

async function stage(ctx: NodeContext, id: string, stagingPath: string, cap: Capability) {
  const { opts, state } = ctx;
  const prev = await state.get(id);
  if (prev) {
    if (prev.stagingPath !== stagingPath) {
      fail(Code.FAILED_PRECONDITION, `volume ${id} is staged at ${prev.stagingPath}`);
    }
    if (prev.kind !== cap.kind || (cap.fsType && prev.fsType && cap.fsType !== prev.fsType)) {
      fail(Code.ALREADY_EXISTS, `volume ${id} is staged as ${prev.kind} ${prev.fsType}`.trim());
    }
    if (await stagedIntact(prev)) return;
  }
  try {
    await opts.backend.getVolume(id);
  } catch (err) {
    throw fromBackend(err, [Code.NOT_FOUND]);
  }
  const atts = await opts.backend.listAttachments({ volumeId: id, nodeId: opts.nodeId })
    .catch((err) => Promise.reject(fromBackend(err, [])));
  if (atts.length === 0) {
    fail(Code.FAILED_PRECONDITION, `volume ${id} is not published to node ${opts.nodeId}`);
  }
  const conn = parseConnectionInfo(atts[0].connectionInfo);
  const existing = await mountAt(stagingPath);
  const loop = await attachLoop(conn.backingFile, conn.readOnly);
  if (existing && existing.source !== loop.device) {
    fail(Code.ALREADY_EXISTS, `${stagingPath} already holds a mount of ${existing.source}`);
  }
  await Deno.mkdir(stagingPath, { recursive: true });
  let fsType = "";
  if (cap.kind === "mount") {
    if (existing) {
      fsType = existing.fsType;
    } else {
      let found: string;
      try {
        found = await probeFs(loop.device);
      } catch (err) {
        fail(Code.FAILED_PRECONDITION, err instanceof Error ? err.message : String(err));
      }
      if (!found) {
        if (conn.readOnly) {
          fail(Code.FAILED_PRECONDITION, `volume ${id} is blank and attached read-only`);
        }
        found = cap.fsType || opts.defaultFsType;
        await mkfs(loop.device, found as "ext4" | "xfs");
      } else if (cap.fsType && cap.fsType !== found) {
        fail(Code.FAILED_PRECONDITION, `volume ${id} holds ${found}, not ${cap.fsType}`);
      }
      await mountDevice(loop.device, stagingPath, found, cap.mountFlags, conn.readOnly);
      fsType = found;
    }
  }
  await state.put({
    volumeId: id,
    stagingPath,
    backingFile: conn.backingFile,
    device: loop.device,
    kind: cap.kind,
    fsType,
    mountFlags: cap.mountFlags,
    readOnly: conn.readOnly,
    targets: prev?.targets ?? {},
  });
}

async function unstage(ctx: NodeContext, id: string, stagingPath: string) {
  const st = await ctx.state.get(id);
  if (!st) {
    if (!(await ctx.volumeKnown(id))) fail(Code.NOT_FOUND, `volume ${id} not found`);
    return;
  }
  if (st.stagingPath !== stagingPath) return;
  const mounts = await readMounts();
  const busy = Object.keys(st.targets).filter((t) => mounts.some((m) => m.mountPoint === t));
  if (busy.length > 0) {
    fail(Code.FAILED_PRECONDITION, `volume ${id} is still published at ${busy.join(", ")}`);
  }
  for (let i = 0; i < 5; i++) {
    const m = await mountAt(stagingPath);
    if (!m || m.source !== st.device) break;
    await unmount(stagingPath);
  }
  await detachLoops(st.backingFile);
  await ctx.state.remove(id);
}

async function publish(
  ctx: NodeContext,
  id: string,
  stagingPath: string,
  target: string,
  cap: Capability,
  readOnly: boolean,
) {
  const st = await ctx.state.get(id);
  if (!st) {
    if (!(await ctx.volumeKnown(id))) fail(Code.NOT_FOUND, `volume ${id} not found`);
    fail(Code.FAILED_PRECONDITION, `volume ${id} is not staged on this node`);
  }
  if (st.stagingPath !== stagingPath) {
    fail(Code.FAILED_PRECONDITION, `volume ${id} is staged at ${st.stagingPath}`);
  }
  if (st.kind !== cap.kind) fail(Code.FAILED_PRECONDITION, `volume ${id} is staged as ${st.kind}`);
  if (st.readOnly && !readOnly) {
    fail(Code.FAILED_PRECONDITION, `volume ${id} is attached read-only; publish it readonly`);
  }
  if (st.kind === "mount" && (await mountAt(stagingPath))?.source !== st.device) {
    fail(Code.FAILED_PRECONDITION, `staging mount of ${id} is missing; stage it again`);
  }
  const existing = await mountAt(target);
  if (existing) {
    if (!ownsMount(st, existing)) fail(Code.ALREADY_EXISTS, `${target} holds another mount`);
    if (isReadOnly(existing) !== readOnly) {
      fail(
        Code.ALREADY_EXISTS,
        `${target} is published ${isReadOnly(existing) ? "read-only" : "read-write"}`,
      );
    }
  } else if (st.kind === "mount") {
    await Deno.mkdir(target, { recursive: true });
    await bindMount(stagingPath, target, readOnly);
  } else {
    // The device appears at target_path: bind the loop device node onto an empty file.
    const f = await Deno.open(target, { create: true, write: true });
    f.close();
    await bindMount(st.device, target, readOnly);
  }
  st.targets[target] = { readOnly };
  await ctx.state.put(st);
}

async function unpublish(ctx: NodeContext, id: string, target: string) {
  const st = await ctx.state.get(id);
  let existed = false;
  for (let i = 0; i < 5; i++) {
    const m = await mountAt(target);
    if (!m) break;
    if (st && !ownsMount(st, m)) fail(Code.FAILED_PRECONDITION, `${target} holds another mount`);
    existed = true;
    await unmount(target);
  }
  try {
    const info = await Deno.lstat(target);
    existed = true;
    // Only what publish created: an empty directory or the empty file a device was bound on.
    if (info.isDirectory || (info.isFile && info.size === 0)) await Deno.remove(target);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (st && target in st.targets) {
    delete st.targets[target];
    await ctx.state.put(st);
  } else if (!st && !existed && !(await ctx.volumeKnown(id))) {
    fail(Code.NOT_FOUND, `volume ${id} not found`);
  }
}

export function nodeService(opts: NodeOptions) {
  const ctx: NodeContext = {
    opts,
    state: new NodeState(opts.stateDir),
    locks: new InFlight(),
    async volumeKnown(id) {
      if (await this.state.get(id)) return true;
      try {
        await opts.backend.getVolume(id);
        return true;
      } catch (err) {
        if (backendCode(err) === Code.NOT_FOUND) return false;
        throw fromBackend(err, []);
      }
    },
  };
  const confine = (p: string, field: string) => confinePath(p, opts.roots, field);

  return guardAll({
    NodeStageVolume: async (req: Req) => {
      const id = requireField(req.volume_id, "volume_id");
      const staging = requireField(req.staging_target_path, "staging_target_path");
      if (!req.volume_capability) fail(Code.INVALID_ARGUMENT, "volume_capability is required");
      const cap = requireCapability(req.volume_capability, Code.FAILED_PRECONDITION);
      const stagingPath = await confine(staging, "staging_target_path");
      await exclusive(ctx.locks, [id], () => stage(ctx, id, stagingPath, cap));
      return {};
    },

    NodeUnstageVolume: async (req: Req) => {
      const id = requireField(req.volume_id, "volume_id");
      const staging = requireField(req.staging_target_path, "staging_target_path");
      const stagingPath = await confine(staging, "staging_target_path");
      await exclusive(ctx.locks, [id], () => unstage(ctx, id, stagingPath));
      return {};
    },

    NodePublishVolume: async (req: Req) => {
      const id = requireField(req.volume_id, "volume_id");
      const targetRaw = requireField(req.target_path, "target_path");
      if (!req.volume_capability) fail(Code.INVALID_ARGUMENT, "volume_capability is required");
      const cap = requireCapability(req.volume_capability, Code.FAILED_PRECONDITION);
      if (!req.staging_target_path) {
        fail(Code.FAILED_PRECONDITION, "staging_target_path is required: stage the volume first");
      }
      const target = await confine(targetRaw, "target_path");
      const stagingPath = await confine(req.staging_target_path, "staging_target_path");
      if (target === stagingPath) {
        fail(Code.INVALID_ARGUMENT, "target_path equals staging_target_path");
      }
      const readOnly = Boolean(req.readonly) || isReadOnlyMode(cap.mode);
      await exclusive(ctx.locks, [id], () => publish(ctx, id, stagingPath, target, cap, readOnly));
      return {};
    },

    NodeUnpublishVolume: async (req: Req) => {
      const id = requireField(req.volume_id, "volume_id");
      const targetRaw = requireField(req.target_path, "target_path");
      const target = await confine(targetRaw, "target_path");
      await exclusive(ctx.locks, [id], () => unpublish(ctx, id, target));
      return {};
    },

    ...nodeInfoRpcs(ctx),
  });
}

/** Announces this node to LightningStor, which only attaches volumes to nodes it knows. */
export async function registerNodeWithBackend(opts: NodeOptions): Promise<void> {
  await opts.backend.registerNode(
    opts.nodeId,
    topologySegments(opts.nodeId, opts.zone),
    opts.maxVolumes,
  );
}
