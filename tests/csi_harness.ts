/**
 * Test harness for the CSI driver: an embedded LightningStor and the CSI endpoints (one socket
 * serving all three services, or separate controller and node sockets) inside a private temp
 * dir, CSI clients over real gRPC, and a teardown that unmounts and detaches everything it
 * made. Names carry the `khcsi` prefix so parallel suites never collide.
 */
import { call, grpc, makeClient, type RunningServer, serviceClient } from "../mod/grpc/mod.ts";
import { exec } from "../mod/lightningstor/exec.ts";
import { loopsFor } from "../mod/lightningstor/loop.ts";
import { LightningstorClient, startEmbeddedLightningstor } from "../mod/lightningstor/mod.ts";
import type { EmbeddedLightningstor } from "../mod/lightningstor/mod.ts";
import { controllerService } from "../csi/controller.ts";
import { identityService } from "../csi/identity.ts";
import { type NodeOptions, nodeService, registerNodeWithBackend } from "../csi/node.ts";
import { startCsiEndpoint } from "../csi/server.ts";
import { readMounts } from "../csi/mount.ts";

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
export const DRIVER = "stor.plasmacloud.io";

export interface Harness {
  root: string;
  kubelet: string;
  nodeId: string;
  backend: EmbeddedLightningstor;
  store: LightningstorClient;
  identity: grpc.Client;
  controller: grpc.Client;
  node: grpc.Client;
  /** Unary call; rejects with the gRPC ServiceError (check `.code`). */
  // deno-lint-ignore no-explicit-any
  rpc(client: grpc.Client, method: string, req?: unknown): Promise<any>;
  /** A fresh directory under the kubelet dir (like kubelet's per-pod dirs). */
  dir(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  split?: boolean;
  nodeId?: string;
  maxVolumes?: number;
  defaultFsType?: "ext4" | "xfs";
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const root = await Deno.makeTempDir({ prefix: "khcsi-" });
  const kubelet = `${root}/kubelet`;
  await Deno.mkdir(kubelet, { recursive: true });
  const nodeId = o.nodeId ?? `khcsi-node-${crypto.randomUUID().slice(0, 6)}`;
  const backend = await startEmbeddedLightningstor({
    dir: `${root}/data/lightningstor`,
    listen: `unix://${root}/ls.sock`,
    hostNode: nodeId,
  });
  const store = new LightningstorClient({ endpoint: backend.target });
  const nodeOpts: NodeOptions = {
    backend: store,
    nodeId,
    zone: "",
    maxVolumes: o.maxVolumes ?? 64,
    roots: [kubelet],
    stateDir: `${kubelet}/plugins/${DRIVER}/state`,
    defaultFsType: o.defaultFsType ?? "ext4",
  };
  await registerNodeWithBackend(nodeOpts);
  const identity = identityService({ driverName: DRIVER, probe: () => Promise.resolve(true) });
  const controller = controllerService({
    backend: store,
    defaultVolumeBytes: GiB,
    maxVolumeBytes: 64 * GiB,
  });
  const node = nodeService(nodeOpts);
  const servers: RunningServer[] = [];
  let ctlTarget: string;
  let nodeTarget: string;
  if (o.split) {
    servers.push(await startCsiEndpoint(`unix://${root}/ctl.sock`, { identity, controller }));
    servers.push(await startCsiEndpoint(`unix://${root}/node.sock`, { identity, node }));
    ctlTarget = servers[0].target;
    nodeTarget = servers[1].target;
  } else {
    servers.push(await startCsiEndpoint(`unix://${root}/csi.sock`, { identity, controller, node }));
    ctlTarget = nodeTarget = servers[0].target;
  }
  const client = (svc: string, target: string) =>
    makeClient(serviceClient("csi.proto", `csi.v1.${svc}`), { endpoint: target });
  const clients = {
    identity: client("Identity", nodeTarget),
    controller: client("Controller", ctlTarget),
    node: client("Node", nodeTarget),
  };
  let dirs = 0;
  return {
    root,
    kubelet,
    nodeId,
    backend,
    store,
    ...clients,
    rpc(c, method, req = {}) {
      return call(c, method, req, { timeoutMs: 60_000 });
    },
    async dir(name) {
      const d = `${kubelet}/pods/${++dirs}-${name}`;
      await Deno.mkdir(d, { recursive: true });
      return d;
    },
    async close() {
      for (const c of Object.values(clients)) c.close();
      store.close();
      for (const s of servers) await s.stop();
      await backend.stop();
      await cleanupUnder(root);
    },
  };
}

/** Unmounts everything under `root` (deepest first), detaches its loop devices, removes it. */
export async function cleanupUnder(root: string): Promise<void> {
  const mounts = (await readMounts()).filter((m) => m.mountPoint.startsWith(root + "/"))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  for (const m of mounts) await exec("umount", ["-l", m.mountPoint]).catch(() => {});
  for (
    const dir of [`${root}/data/lightningstor/volumes`, `${root}/data/lightningstor/snapshots`]
  ) {
    try {
      for await (const e of Deno.readDir(dir)) {
        for (const l of await loopsFor(`${dir}/${e.name}`).catch(() => [])) {
          await exec("losetup", ["-d", l.device]).catch(() => {});
        }
      }
    } catch { /* no images */ }
  }
  await Deno.remove(root, { recursive: true }).catch(() => {});
}

export const mountCap = (fsType = "", mode = "SINGLE_NODE_WRITER") => ({
  mount: { fs_type: fsType, mount_flags: [] },
  access_mode: { mode },
});
export const blockCap = (mode = "SINGLE_NODE_WRITER") => ({ block: {}, access_mode: { mode } });

/** The gRPC status code of a rejected call (fails the test if it resolved). */
export async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error("expected the call to fail");
}

export const Status = grpc.status;
