/**
 * Idempotency of every RPC, the error code of every RPC for an unknown volume, bad capabilities
 * and bad paths, and ABORTED for concurrent operations on one volume.
 */
import assert from "node:assert/strict";
import { codeOf, GiB, mountCap, Status } from "./csi_harness.ts";
import type { grpc } from "../mod/grpc/mod.ts";
import { withHarness } from "./support/csi.ts";
import { mountAt, readMounts } from "../csi/mount.ts";

const cap = mountCap("ext4");

Deno.test("csi every RPC is idempotent", () =>
  withHarness(async (h) => {
    // XFS: grows online whatever the process's capabilities (ext4 online growth needs
    // CAP_SYS_RESOURCE, covered in csi_lifecycle_test).
    const cap = mountCap("xfs");
    const twice = async (client: unknown, method: string, req: unknown) => {
      const a = await h.rpc(client as never, method, req);
      const b = await h.rpc(client as never, method, req);
      return [a, b];
    };
    const [c1, c2] = await twice(h.controller, "CreateVolume", {
      name: "khcsi-idem",
      capacity_range: { required_bytes: GiB },
      volume_capabilities: [cap],
    });
    assert.deepEqual(c1, c2);
    const id = c1.volume.volume_id;
    const [p1, p2] = await twice(h.controller, "ControllerPublishVolume", {
      volume_id: id,
      node_id: h.nodeId,
      volume_capability: cap,
    });
    assert.deepEqual(p1, p2);
    const [v1, v2] = await twice(h.controller, "ValidateVolumeCapabilities", {
      volume_id: id,
      volume_capabilities: [cap],
    });
    assert.deepEqual(v1, v2);
    const staging = await h.dir("staging");
    const target = `${await h.dir("pod")}/mount`;
    await twice(h.node, "NodeStageVolume", {
      volume_id: id,
      staging_target_path: staging,
      volume_capability: cap,
    });
    const pub = {
      volume_id: id,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
    };
    await twice(h.node, "NodePublishVolume", pub);
    assert.equal(
      (await readMounts()).filter((m) => m.mountPoint === target).length,
      1,
      "one mount, not two",
    );
    const [e1, e2] = await twice(h.controller, "ControllerExpandVolume", {
      volume_id: id,
      capacity_range: { required_bytes: 2 * GiB },
    });
    assert.deepEqual(e1, e2);
    await twice(h.node, "NodeExpandVolume", {
      volume_id: id,
      volume_path: staging,
      capacity_range: { required_bytes: 2 * GiB },
    });
    const [s1, s2] = await twice(h.controller, "CreateSnapshot", {
      name: "khcsi-idem-snap",
      source_volume_id: id,
    });
    assert.deepEqual(s1, s2);
    await twice(h.controller, "DeleteSnapshot", { snapshot_id: s1.snapshot.snapshot_id });
    await twice(h.node, "NodeUnpublishVolume", { volume_id: id, target_path: target });
    await twice(h.node, "NodeUnstageVolume", { volume_id: id, staging_target_path: staging });
    assert.equal(await mountAt(staging), undefined);
    await twice(h.controller, "ControllerUnpublishVolume", { volume_id: id, node_id: h.nodeId });
    await twice(h.controller, "DeleteVolume", { volume_id: id });
    const list = await h.rpc(h.controller, "ListVolumes");
    assert.equal(list.entries.length, 0);
  }));

Deno.test("csi unknown volume gets the code each RPC specifies", () =>
  withHarness(async (h) => {
    const id = "vol-00000000000000000000";
    const staging = await h.dir("s");
    const target = `${await h.dir("t")}/m`;
    // Every RPC that names a volume; each answers NOT_FOUND for one that does not exist.
    const callsOnUnknownVolume: Array<[grpc.Client, string, Record<string, unknown>]> = [
      [h.controller, "ControllerPublishVolume", {
        volume_id: id,
        node_id: h.nodeId,
        volume_capability: cap,
      }],
      [h.controller, "ValidateVolumeCapabilities", { volume_id: id, volume_capabilities: [cap] }],
      [h.controller, "ControllerExpandVolume", {
        volume_id: id,
        capacity_range: { required_bytes: GiB },
      }],
      [h.controller, "ControllerGetVolume", { volume_id: id }],
      [h.controller, "CreateSnapshot", { name: "khcsi-x", source_volume_id: id }],
      [h.node, "NodeStageVolume", {
        volume_id: id,
        staging_target_path: staging,
        volume_capability: cap,
      }],
      [h.node, "NodePublishVolume", {
        volume_id: id,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
      }],
      [h.node, "NodeUnpublishVolume", { volume_id: id, target_path: target }],
      [h.node, "NodeUnstageVolume", { volume_id: id, staging_target_path: staging }],
      [h.node, "NodeGetVolumeStats", { volume_id: id, volume_path: target }],
      [h.node, "NodeExpandVolume", { volume_id: id, volume_path: target }],
    ];
    for (const [client, method, req] of callsOnUnknownVolume) {
      assert.equal(await codeOf(h.rpc(client, method, req)), Status.NOT_FOUND, method);
    }
    // Deleting or unpublishing what does not exist is success.
    await h.rpc(h.controller, "DeleteVolume", { volume_id: id });
    await h.rpc(h.controller, "ControllerUnpublishVolume", { volume_id: id, node_id: h.nodeId });
  }));

Deno.test("csi bad capabilities and parameters", () =>
  withHarness(async (h) => {
    const create = (caps: unknown[], parameters = {}) =>
      codeOf(
        h.rpc(h.controller, "CreateVolume", {
          name: "khcsi-badcap",
          volume_capabilities: caps,
          parameters,
        }),
      );
    assert.equal(await create([mountCap("", "MULTI_NODE_MULTI_WRITER")]), Status.INVALID_ARGUMENT);
    assert.equal(await create([mountCap("btrfs")]), Status.INVALID_ARGUMENT);
    assert.equal(await create([{ mount: {} }]), Status.INVALID_ARGUMENT, "no access mode");
    assert.equal(
      await create([{ access_mode: { mode: "SINGLE_NODE_WRITER" } }]),
      Status.INVALID_ARGUMENT,
      "no access type",
    );
    assert.equal(await create([cap], { type: "nvme" }), Status.INVALID_ARGUMENT);
    assert.equal(
      await create([cap], { replicaton: "3" }),
      Status.INVALID_ARGUMENT,
      "typo is rejected",
    );
    const { volume } = await h.rpc(h.controller, "CreateVolume", {
      name: "khcsi-goodcap",
      volume_capabilities: [cap],
      parameters: { type: "hdd", replication: "2", "csi.storage.k8s.io/pvc/name": "x" },
    });
    assert.deepEqual(volume.volume_context, { type: "hdd", replication: "2" });
    const v = await h.rpc(h.controller, "ValidateVolumeCapabilities", {
      volume_id: volume.volume_id,
      volume_capabilities: [mountCap("", "MULTI_NODE_MULTI_WRITER")],
    });
    assert.equal(v.confirmed, null);
    assert.match(v.message, /MULTI_NODE_MULTI_WRITER/);
    await h.rpc(h.controller, "ControllerPublishVolume", {
      volume_id: volume.volume_id,
      node_id: h.nodeId,
      volume_capability: cap,
    });
    const staging = await h.dir("s");
    assert.equal(
      await codeOf(
        h.rpc(h.node, "NodeStageVolume", {
          volume_id: volume.volume_id,
          staging_target_path: staging,
          volume_capability: mountCap("btrfs"),
        }),
      ),
      Status.FAILED_PRECONDITION,
    );
    await h.rpc(h.node, "NodeStageVolume", {
      volume_id: volume.volume_id,
      staging_target_path: staging,
      volume_capability: cap,
    });
    assert.equal(
      await codeOf(
        h.rpc(h.node, "NodeStageVolume", {
          volume_id: volume.volume_id,
          staging_target_path: staging,
          volume_capability: mountCap("xfs"),
        }),
      ),
      Status.ALREADY_EXISTS,
      "restaging with another fs type is incompatible",
    );
    assert.equal(
      await codeOf(h.rpc(h.node, "NodePublishVolume", {
        volume_id: volume.volume_id,
        staging_target_path: staging,
        target_path: `${await h.dir("p")}/dev`,
        volume_capability: { block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" } },
      })),
      Status.FAILED_PRECONDITION,
      "a mount-staged volume cannot be published as block",
    );
    assert.equal(
      await codeOf(h.rpc(h.node, "NodePublishVolume", {
        volume_id: volume.volume_id,
        target_path: `${await h.dir("p2")}/m`,
        volume_capability: cap,
      })),
      Status.FAILED_PRECONDITION,
      "no staging_target_path",
    );
  }));

Deno.test("csi path arguments are confined to the kubelet dir", () =>
  withHarness(async (h) => {
    const { volume } = await h.rpc(h.controller, "CreateVolume", {
      name: "khcsi-paths",
      volume_capabilities: [cap],
    });
    const id = volume.volume_id;
    await h.rpc(h.controller, "ControllerPublishVolume", {
      volume_id: id,
      node_id: h.nodeId,
      volume_capability: cap,
    });
    const outside = await Deno.makeTempDir({ prefix: "khcsi-outside-" });
    await Deno.symlink(outside, `${h.kubelet}/escape`);
    const bad = [
      outside,
      "relative/path",
      `${h.kubelet}/pods/../../escape-up`,
      `${h.kubelet}/./pods`,
      `${h.kubelet}/escape/sub`,
      h.kubelet,
      "/etc",
    ];
    try {
      for (const p of bad) {
        assert.equal(
          await codeOf(
            h.rpc(h.node, "NodeStageVolume", {
              volume_id: id,
              staging_target_path: p,
              volume_capability: cap,
            }),
          ),
          Status.INVALID_ARGUMENT,
          `stage at ${p}`,
        );
        assert.equal(
          await codeOf(h.rpc(h.node, "NodeUnpublishVolume", { volume_id: id, target_path: p })),
          Status.INVALID_ARGUMENT,
          `unpublish at ${p}`,
        );
      }
      const staging = await h.dir("s");
      await h.rpc(h.node, "NodeStageVolume", {
        volume_id: id,
        staging_target_path: staging,
        volume_capability: cap,
      });
      assert.equal(
        await codeOf(h.rpc(h.node, "NodePublishVolume", {
          volume_id: id,
          staging_target_path: staging,
          target_path: `${outside}/m`,
          volume_capability: cap,
        })),
        Status.INVALID_ARGUMENT,
      );
      assert.ok(
        !(await readMounts()).some((m) => m.mountPoint.startsWith(outside)),
        "nothing mounted outside",
      );
      assert.ok((await Deno.stat(outside)).isDirectory, "nothing deleted outside");
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  }));

Deno.test("csi concurrent operations on one volume: the second gets ABORTED", () =>
  withHarness(async (h) => {
    const c = mountCap("xfs");
    const { volume } = await h.rpc(h.controller, "CreateVolume", {
      name: "khcsi-race",
      capacity_range: { required_bytes: 10 * GiB },
      volume_capabilities: [c],
    });
    await h.rpc(h.controller, "ControllerPublishVolume", {
      volume_id: volume.volume_id,
      node_id: h.nodeId,
      volume_capability: c,
    });
    const staging = await h.dir("s");
    const req = { volume_id: volume.volume_id, staging_target_path: staging, volume_capability: c };
    const results = await Promise.allSettled([
      h.rpc(h.node, "NodeStageVolume", req),
      h.rpc(h.node, "NodeStageVolume", req),
    ]);
    const codes = results.map((r) =>
      r.status === "fulfilled" ? Status.OK : (r.reason as { code: number }).code
    ).sort();
    assert.deepEqual(codes, [Status.OK, Status.ABORTED]);
    // The CO retries the aborted call; it then succeeds idempotently.
    await h.rpc(h.node, "NodeStageVolume", req);
    assert.equal((await mountAt(staging))?.fsType, "xfs");
    const dels = await Promise.allSettled([
      h.rpc(h.controller, "ControllerExpandVolume", {
        volume_id: volume.volume_id,
        capacity_range: { required_bytes: 11 * GiB },
      }),
      h.rpc(h.controller, "ControllerExpandVolume", {
        volume_id: volume.volume_id,
        capacity_range: { required_bytes: 11 * GiB },
      }),
    ]);
    for (const d of dels) {
      if (d.status === "rejected") {
        assert.equal((d.reason as { code: number }).code, Status.ABORTED);
      }
    }
  }));
