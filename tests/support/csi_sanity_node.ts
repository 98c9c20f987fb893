/**
 * csi-sanity's Node cases (pkg/sanity node.go), case for case, in its order. Run by
 * tests/csi_sanity_test.ts.
 */
import assert from "node:assert/strict";
import { type Harness, Status } from "../csi_harness.ts";
import {
  type Case,
  EXPAND_SIZE,
  expectCode,
  fakeVolumeId,
  IDEMPOTENT_COUNT,
  onlyFakeVolumeId,
  refusals,
  type Resources,
  SNW,
  unique,
} from "./csi_sanity.ts";

const { INVALID_ARGUMENT, NOT_FOUND } = Status;

/** A new volume, controller-published to this node, staged and published at `r.target`. */
async function publishedVolume(r: Resources, h: Harness, name: string) {
  const v = await r.mustCreateVolume(name);
  const ni = await h.rpc(h.node, "NodeGetInfo");
  await r.publishOnNode(v, ni.node_id);
  return v;
}

/** csi-sanity's runControllerTest ("Node Service"): the full node flow, each call `count` times. */
async function runControllerTest(r: Resources, h: Harness, count: number) {
  const ni = await h.rpc(h.node, "NodeGetInfo");
  const v = await r.mustCreateVolume(unique(`sanity-node-full-${count}`), {
    accessibility_requirements: { requisite: [ni.accessible_topology] },
  });
  await r.publishOnNode(v, ni.node_id, count);
  const stats = await h.rpc(h.node, "NodeGetVolumeStats", {
    volume_id: v.volume.volume_id,
    volume_path: r.target,
  });
  assert.ok(stats.usage.length > 0);
}

export const nodeCases: Record<string, Case> = {
  "NodeGetCapabilities returns known capabilities": async (_r, h) => {
    const known = [
      "UNKNOWN",
      "STAGE_UNSTAGE_VOLUME",
      "GET_VOLUME_STATS",
      "EXPAND_VOLUME",
      "VOLUME_CONDITION",
      "SINGLE_NODE_MULTI_WRITER",
      "VOLUME_MOUNT_GROUP",
    ];
    const res = await h.rpc(h.node, "NodeGetCapabilities");
    for (const c of res.capabilities) assert.ok(known.includes(c.rpc.type));
  },
  "NodeGetInfo returns appropriate values": async (_r, h) => {
    const res = await h.rpc(h.node, "NodeGetInfo");
    assert.ok(res.node_id);
    assert.ok(Number(res.max_volumes_per_node) >= 0);
    assert.ok(
      res.accessible_topology,
      "topology is required with VOLUME_ACCESSIBILITY_CONSTRAINTS",
    );
  },
  ...refusals("node", "NodePublishVolume", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, {}],
    "fails when no target path is provided": [INVALID_ARGUMENT, onlyFakeVolumeId],
    "fails when no volume capability is provided": [
      INVALID_ARGUMENT,
      (r) => ({ volume_id: fakeVolumeId(), target_path: r.target }),
    ],
  }),
  ...refusals("node", "NodeUnpublishVolume", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, {}],
    "fails when no target path is provided": [INVALID_ARGUMENT, onlyFakeVolumeId],
  }),
  "NodeUnpublishVolume removes the target path": async (r, h) => {
    const v = await publishedVolume(r, h, unique("sanity-node-unpublish-volume"));
    assert.ok((await Deno.stat(r.target)).isDirectory, "driver created the target path");
    await h.rpc(h.node, "NodeUnpublishVolume", {
      volume_id: v.volume.volume_id,
      target_path: r.target,
    });
    await assert.rejects(Deno.stat(r.target), Deno.errors.NotFound);
  },
  ...refusals("node", "NodeStageVolume", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, (r) => ({
      staging_target_path: r.staging,
      volume_capability: SNW,
      publish_context: { device: "/dev/mock" },
    })],
    "fails when no staging target path is provided": [INVALID_ARGUMENT, () => ({
      volume_id: fakeVolumeId(),
      volume_capability: SNW,
      publish_context: { device: "/dev/mock" },
    })],
  }),
  "NodeStageVolume fails when no volume capability is provided": async (r, h) => {
    const v = await r.createDefaultSizedVolume(unique("sanity-node-stage-nocaps"));
    await expectCode(
      h.rpc(h.node, "NodeStageVolume", {
        volume_id: v.volume.volume_id,
        staging_target_path: r.staging,
        publish_context: { device: "/dev/mock" },
      }),
      INVALID_ARGUMENT,
    );
  },
  ...refusals("node", "NodeUnstageVolume", {
    "fails when no volume id is provided": [
      INVALID_ARGUMENT,
      (r) => ({ staging_target_path: r.staging }),
    ],
    "fails when no staging target path is provided": [INVALID_ARGUMENT, onlyFakeVolumeId],
  }),
  ...refusals("node", "NodeGetVolumeStats", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, { volume_path: "some/path" }],
    "fails when no volume path is provided": [INVALID_ARGUMENT, onlyFakeVolumeId],
    "fails when the volume is not found": [
      NOT_FOUND,
      () => ({ volume_id: fakeVolumeId(), volume_path: "some/path" }),
    ],
  }),
  "NodeGetVolumeStats fails when the volume is not at the path": async (r, h) => {
    const v = await publishedVolume(r, h, unique("sanity-node-get-volume-stats"));
    await expectCode(
      h.rpc(h.node, "NodeGetVolumeStats", {
        volume_id: v.volume.volume_id,
        volume_path: "some/path",
      }),
      NOT_FOUND,
    );
  },
  ...refusals("node", "NodeExpandVolume", {
    "fails when no volume id is provided": [
      INVALID_ARGUMENT,
      (r) => ({ volume_path: r.targetBase, volume_capability: SNW }),
    ],
  }),
  "NodeExpandVolume fails when no volume path is provided": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-node-expand-volume-valid-id"));
    await expectCode(
      h.rpc(h.node, "NodeExpandVolume", { volume_id: v.volume.volume_id, volume_capability: SNW }),
      INVALID_ARGUMENT,
    );
  },
  ...refusals("node", "NodeExpandVolume", {
    "fails when the volume is not found": [
      NOT_FOUND,
      () => ({ volume_id: fakeVolumeId(), volume_path: "some/path" }),
    ],
  }),
  "NodeExpandVolume works after node-publish": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-node-expand-volume"));
    const exp = await h.rpc(h.controller, "ControllerExpandVolume", {
      volume_id: v.volume.volume_id,
      capacity_range: { required_bytes: EXPAND_SIZE },
    });
    assert.equal(Number(exp.capacity_bytes), EXPAND_SIZE);
    const ni = await h.rpc(h.node, "NodeGetInfo");
    await r.publishOnNode(v, ni.node_id);
    await h.rpc(h.node, "NodeExpandVolume", {
      volume_id: v.volume.volume_id,
      volume_path: r.target,
      capacity_range: { required_bytes: EXPAND_SIZE },
    });
  },
  "Node Service works": (r, h) => runControllerTest(r, h, 1),
  "Node Service is idempotent": (r, h) => runControllerTest(r, h, IDEMPOTENT_COUNT),
};
