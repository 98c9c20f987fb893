/**
 * CSI driver benchmark (run as root): `deno run -A bench/csi_provision.ts`.
 *
 * 1. 50 PVCs against the test API server with the embedded provisioner, the CSI controller and
 *    the embedded LightningStor: time from PVC create to phase Bound, one claim at a time and
 *    all 50 at once. Binding itself is done by a stand-in for kube-controller-manager's PV
 *    binder (tests/csi_binder.ts), as the test API server runs no controllers.
 * 2. NodeStageVolume + NodePublishVolume on real loop devices (mkfs included), ext4 and xfs.
 * Prints a table of p50/p99/max in milliseconds.
 */
import type { KubeObject } from "../mod/kube/api.ts";
import { createInformer, RESOURCES } from "../mod/kube/mod.ts";
import { configureLogging } from "../mod/log/mod.ts";
import { startCsiControllers } from "../csi/kube_controllers.ts";
import { startTestApiServer } from "../tests/support/apiserver/mod.ts";
import { startTestBinder } from "../tests/csi_binder.ts";
import { DRIVER, GiB, mountCap, startHarness } from "../tests/csi_harness.ts";

const CLAIMS = 50;
const STAGES = 20;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const rows: string[][] = [];
function record(what: string, xs: number[]) {
  rows.push([
    what,
    String(xs.length),
    pct(xs, 50).toFixed(1),
    pct(xs, 99).toFixed(1),
    Math.max(...xs).toFixed(1),
  ]);
}

async function provisioning() {
  const h = await startHarness({ split: true });
  const server = await startTestApiServer();
  const ctl = await startCsiControllers({
    api: server.api,
    csiTarget: `unix://${h.root}/ctl.sock`,
    driverName: DRIVER,
    defaultFsType: "ext4",
    forceDetachAfterMs: 360_000,
    resyncMs: 300_000,
  });
  const binder = startTestBinder(server.api);
  const ac = new AbortController();
  const watch = createInformer<KubeObject>(server.api, { ref: RESOURCES.persistentVolumeClaims });
  const created = new Map<string, number>();
  const bound = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  watch.on({
    update: (_o, c) => {
      const n = c.metadata.name!;
      if (c.status?.phase === "Bound" && !bound.has(n)) {
        bound.set(n, performance.now());
        waiters.get(n)?.();
      }
    },
  });
  watch.start(ac.signal);
  try {
    await ctl.synced();
    await watch.synced();
    await server.api.create(RESOURCES.storageClasses, {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "bench" },
      provisioner: DRIVER,
      reclaimPolicy: "Delete",
    });
    const create = async (name: string) => {
      const done = new Promise<void>((r) => waiters.set(name, r));
      created.set(name, performance.now());
      await server.api.create(RESOURCES.persistentVolumeClaims, {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name, namespace: "default" },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "bench",
          resources: { requests: { storage: "1Gi" } },
        },
      });
      await done;
      return bound.get(name)! - created.get(name)!;
    };
    const sequential: number[] = [];
    for (let i = 0; i < CLAIMS; i++) sequential.push(await create(`seq-${i}`));
    record(`PVC create → Bound, ${CLAIMS} one at a time`, sequential);
    const burst = await Promise.all(Array.from({ length: CLAIMS }, (_, i) => create(`burst-${i}`)));
    record(`PVC create → Bound, ${CLAIMS} at once`, burst);
  } finally {
    ac.abort();
    await watch.stopped();
    await binder.stop();
    await ctl.stop();
    await server.close();
    await h.close();
  }
}

async function staging(fsType: "ext4" | "xfs") {
  const h = await startHarness({ defaultFsType: fsType });
  try {
    const cap = mountCap(fsType);
    const times: number[] = [];
    for (let i = 0; i < STAGES; i++) {
      const { volume } = await h.rpc(h.controller, "CreateVolume", {
        name: `bench-${fsType}-${i}`,
        capacity_range: { required_bytes: GiB },
        volume_capabilities: [cap],
      });
      await h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: volume.volume_id,
        node_id: h.nodeId,
        volume_capability: cap,
      });
      const staging = await h.dir(`st-${i}`);
      const target = `${await h.dir(`pod-${i}`)}/mount`;
      const t0 = performance.now();
      await h.rpc(h.node, "NodeStageVolume", {
        volume_id: volume.volume_id,
        staging_target_path: staging,
        volume_capability: cap,
      });
      await h.rpc(h.node, "NodePublishVolume", {
        volume_id: volume.volume_id,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
      });
      times.push(performance.now() - t0);
      await h.rpc(h.node, "NodeUnpublishVolume", {
        volume_id: volume.volume_id,
        target_path: target,
      });
      await h.rpc(h.node, "NodeUnstageVolume", {
        volume_id: volume.volume_id,
        staging_target_path: staging,
      });
    }
    record(`NodeStage + NodePublish, 1 GiB ${fsType} (mkfs incl.)`, times);
  } finally {
    await h.close();
  }
}

if (import.meta.main) {
  configureLogging({ level: "error" });
  await provisioning();
  await staging("ext4");
  await staging("xfs");
  const head = ["measurement", "n", "p50 ms", "p99 ms", "max ms"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(head));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of rows) console.log(line(r));
}
