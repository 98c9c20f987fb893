/**
 * The CSI driver end to end as root: real sparse images, loop devices, mkfs, mounts. Every test
 * runs in its own temp dir and tears everything down in `finally`.
 */
import assert from "node:assert/strict";
import { blockCap, codeOf, GiB, type Harness, mountCap, Status } from "./csi_harness.ts";
import { withHarness } from "./support/csi.ts";
import { mountAt } from "../csi/mount.ts";
import { exec } from "../mod/lightningstor/exec.ts";

/** Creates, controller-publishes and stages a volume; returns its id and paths. */
async function provision(h: Harness, name: string, cap: unknown, bytes = GiB, readonly = false) {
  const { volume } = await h.rpc(h.controller, "CreateVolume", {
    name,
    capacity_range: { required_bytes: bytes },
    volume_capabilities: [cap],
  });
  const pub = await h.rpc(h.controller, "ControllerPublishVolume", {
    volume_id: volume.volume_id,
    node_id: h.nodeId,
    volume_capability: cap,
    readonly,
  });
  const staging = await h.dir(`${name}-staging`);
  await h.rpc(h.node, "NodeStageVolume", {
    volume_id: volume.volume_id,
    staging_target_path: staging,
    volume_capability: cap,
    publish_context: pub.publish_context,
  });
  return { id: volume.volume_id as string, staging, volume };
}

async function dfBytes(path: string): Promise<number> {
  const out = await exec("df", ["-B1", "--output=size", path]);
  return Number(out.trim().split("\n").pop());
}

for (const fsType of ["ext4", "xfs"] as const) {
  Deno.test(`csi lifecycle (${fsType}): create, stage, publish, write, unstage, restage, delete`, () =>
    withHarness(async (h) => {
      const cap = mountCap(fsType);
      const { id, staging } = await provision(h, `khcsi-life-${fsType}`, cap);
      const stagedMount = await mountAt(staging);
      assert.equal(stagedMount?.fsType, fsType);
      assert.match(stagedMount!.source, /^\/dev\/loop\d+$/);

      const target = `${await h.dir("pod-a")}/mount`;
      const pub = {
        volume_id: id,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
      };
      await h.rpc(h.node, "NodePublishVolume", pub);
      await Deno.writeTextFile(`${target}/hello.txt`, "persisted across restage");

      await h.rpc(h.node, "NodeUnpublishVolume", { volume_id: id, target_path: target });
      await assert.rejects(Deno.stat(target), Deno.errors.NotFound, "unpublish removes the target");
      await h.rpc(h.node, "NodeUnstageVolume", { volume_id: id, staging_target_path: staging });
      assert.equal(await mountAt(staging), undefined);

      // Restage: the filesystem is reused (not reformatted) and the data is still there.
      await h.rpc(h.node, "NodeStageVolume", {
        volume_id: id,
        staging_target_path: staging,
        volume_capability: cap,
      });
      await h.rpc(h.node, "NodePublishVolume", pub);
      assert.equal(await Deno.readTextFile(`${target}/hello.txt`), "persisted across restage");

      await h.rpc(h.node, "NodeUnpublishVolume", { volume_id: id, target_path: target });
      await h.rpc(h.node, "NodeUnstageVolume", { volume_id: id, staging_target_path: staging });
      assert.equal(
        await codeOf(h.rpc(h.controller, "DeleteVolume", { volume_id: id })),
        Status.FAILED_PRECONDITION,
        "a volume still controller-published is in use",
      );
      await h.rpc(h.controller, "ControllerUnpublishVolume", { volume_id: id, node_id: h.nodeId });
      await h.rpc(h.controller, "DeleteVolume", { volume_id: id });
      await assert.rejects(
        Deno.stat(`${h.root}/data/lightningstor/volumes/${id}.img`),
        Deno.errors.NotFound,
      );
    }));
}

Deno.test("csi read-only publish refuses writes with EROFS", () =>
  withHarness(async (h) => {
    const cap = mountCap("ext4");
    const { id, staging } = await provision(h, "khcsi-ro", cap);
    const rw = `${await h.dir("writer")}/mount`;
    const ro = `${await h.dir("reader")}/mount`;
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: id,
      staging_target_path: staging,
      target_path: rw,
      volume_capability: cap,
    });
    await Deno.writeTextFile(`${rw}/data`, "x");
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: id,
      staging_target_path: staging,
      target_path: ro,
      volume_capability: cap,
      readonly: true,
    });
    assert.equal(await Deno.readTextFile(`${ro}/data`), "x");
    const err = await Deno.writeTextFile(`${ro}/other`, "y").then(() => undefined, (e) => e);
    assert.ok(err instanceof Error, "write on a read-only publish must fail");
    assert.match(String((err as Error).message), /Read-only file system|os error 30/);
  }));

Deno.test("csi block mode publishes the loop device itself", () =>
  withHarness(async (h) => {
    const cap = blockCap();
    const { id, staging } = await provision(h, "khcsi-block", cap, 64 * 1024 * 1024);
    assert.equal(await mountAt(staging), undefined, "block volumes are not mounted at staging");
    const target = `${await h.dir("pod-b")}/dev`;
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: id,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
    });
    const size = Number((await exec("blockdev", ["--getsize64", target])).trim());
    assert.equal(size, 64 * 1024 * 1024);
    // Write through the published device and read it back through the backing image.
    const f = await Deno.open(target, { write: true });
    await f.write(new TextEncoder().encode("KHCSI-BLOCK"));
    await f.syncData();
    f.close();
    const img = await Deno.open(`${h.root}/data/lightningstor/volumes/${id}.img`);
    const buf = new Uint8Array(11);
    await img.read(buf);
    img.close();
    assert.equal(new TextDecoder().decode(buf), "KHCSI-BLOCK");
    await h.rpc(h.node, "NodeUnpublishVolume", { volume_id: id, target_path: target });
    await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
  }));

/** Whether this process may resize a mounted ext4 (CAP_SYS_RESOURCE, capability bit 24). */
async function hasCapSysResource(): Promise<boolean> {
  const status = await Deno.readTextFile("/proc/self/status");
  const eff = BigInt("0x" + /CapEff:\s*([0-9a-f]+)/.exec(status)![1]);
  return (eff & (1n << 24n)) !== 0n;
}

for (const fsType of ["ext4", "xfs"] as const) {
  Deno.test(`csi expansion of a staged ${fsType} volume grows its filesystem`, () =>
    withHarness(async (h) => {
      const cap = mountCap(fsType);
      const { id, staging } = await provision(h, `khcsi-grow-st-${fsType}`, cap, 512 * 1024 * 1024);
      const before = await dfBytes(staging);
      await h.rpc(h.controller, "ControllerExpandVolume", {
        volume_id: id,
        capacity_range: { required_bytes: 2 * GiB },
      });
      const r = await h.rpc(h.node, "NodeExpandVolume", {
        volume_id: id,
        volume_path: staging,
        staging_target_path: staging,
        capacity_range: { required_bytes: 2 * GiB },
        volume_capability: cap,
      });
      assert.equal(Number(r.capacity_bytes), 2 * GiB);
      const target = `${await h.dir("pod-e")}/mount`;
      await h.rpc(h.node, "NodePublishVolume", {
        volume_id: id,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
      });
      const after = await dfBytes(target);
      assert.ok(after > before * 3, `filesystem grew from ${before} to ${after}`);
    }));

  Deno.test(`csi online expansion of a published ${fsType} volume`, () =>
    withHarness(async (h) => {
      const cap = mountCap(fsType);
      const { id, staging } = await provision(h, `khcsi-grow-on-${fsType}`, cap, 512 * 1024 * 1024);
      const target = `${await h.dir("pod-g")}/mount`;
      await h.rpc(h.node, "NodePublishVolume", {
        volume_id: id,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
      });
      await Deno.writeTextFile(`${target}/keep`, "kept");
      const before = await dfBytes(target);
      const exp = await h.rpc(h.controller, "ControllerExpandVolume", {
        volume_id: id,
        capacity_range: { required_bytes: 2 * GiB },
        volume_capability: cap,
      });
      assert.equal(Number(exp.capacity_bytes), 2 * GiB);
      assert.equal(exp.node_expansion_required, true);
      const req = {
        volume_id: id,
        volume_path: target,
        staging_target_path: staging,
        capacity_range: { required_bytes: 2 * GiB },
      };
      if (fsType === "ext4" && !(await hasCapSysResource())) {
        // The kernel refuses online ext4 growth without CAP_SYS_RESOURCE: say so, don't lie.
        const err = await h.rpc(h.node, "NodeExpandVolume", req).then(() => undefined, (e) => e);
        assert.equal(err?.code, Status.FAILED_PRECONDITION);
        assert.match(err.details, /CAP_SYS_RESOURCE/);
        assert.equal(await Deno.readTextFile(`${target}/keep`), "kept", "volume still usable");
        return;
      }
      const nodeExp = await h.rpc(h.node, "NodeExpandVolume", req);
      assert.equal(Number(nodeExp.capacity_bytes), 2 * GiB);
      const after = await dfBytes(target);
      assert.ok(after > before * 3, `filesystem grew from ${before} to ${after}`);
      const stats = await h.rpc(h.node, "NodeGetVolumeStats", {
        volume_id: id,
        volume_path: target,
      });
      const bytes = stats.usage.find((u: { unit: string }) => u.unit === "BYTES");
      assert.equal(Number(bytes.total), after);
      assert.equal(stats.volume_condition.abnormal, false);
    }));
}

Deno.test("csi volume stats report usage, and an abnormal condition when the mount is gone", () =>
  withHarness(async (h) => {
    const cap = mountCap("ext4");
    const { id, staging } = await provision(h, "khcsi-stats", cap, 256 * 1024 * 1024);
    const target = `${await h.dir("pod-s")}/mount`;
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: id,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
    });
    await Deno.writeFile(`${target}/blob`, new Uint8Array(8 * 1024 * 1024).fill(7));
    await exec("sync", []);
    const ok = await h.rpc(h.node, "NodeGetVolumeStats", { volume_id: id, volume_path: target });
    const bytes = ok.usage.find((u: { unit: string }) => u.unit === "BYTES");
    const inodes = ok.usage.find((u: { unit: string }) => u.unit === "INODES");
    assert.equal(Number(bytes.total), await dfBytes(target));
    assert.ok(Number(bytes.used) >= 8 * 1024 * 1024, `used ${bytes.used}`);
    assert.ok(Number(inodes.total) > 0 && Number(inodes.used) > 0);
    assert.equal(ok.volume_condition.abnormal, false);
    // Someone unmounts the pod's view behind the driver's back.
    await exec("umount", [target]);
    const bad = await h.rpc(h.node, "NodeGetVolumeStats", { volume_id: id, volume_path: target });
    assert.equal(bad.volume_condition.abnormal, true);
    assert.match(bad.volume_condition.message, /nothing is mounted/);
    assert.deepEqual(bad.usage, []);
  }));
