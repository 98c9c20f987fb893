/**
 * csi-sanity's Identity, Controller and snapshot cases (pkg/sanity identity.go, controller.go),
 * case for case, in its order. Run by tests/csi_sanity_test.ts.
 */
import assert from "node:assert/strict";
import { type Harness, Status } from "../csi_harness.ts";
import {
  type Case,
  EXPAND_SIZE,
  expectCode,
  fakeNodeId,
  fakeVolumeId,
  IDEMPOTENT_COUNT,
  onlyFakeVolumeId,
  refusals,
  type Resources,
  SNW,
  unique,
  uniqueLen,
  VOLUME_SIZE,
} from "./csi_sanity.ts";

const { ABORTED, ALREADY_EXISTS, INVALID_ARGUMENT, NOT_FOUND } = Status;

export const identityCases: Record<string, Case> = {
  "GetPluginInfo returns appropriate information": async (_r, h) => {
    const res = await h.rpc(h.identity, "GetPluginInfo");
    assert.ok(res.name.length > 0 && res.name.length <= 63);
    assert.equal(res.name, "stor.plasmacloud.io");
    assert.ok(res.vendor_version.length > 0);
  },
  "GetPluginCapabilities returns appropriate capabilities": async (_r, h) => {
    const res = await h.rpc(h.identity, "GetPluginCapabilities");
    for (const c of res.capabilities) {
      if (c.service) {
        assert.ok(
          ["CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS"].includes(c.service.type),
        );
      } else assert.ok(["ONLINE", "OFFLINE"].includes(c.volume_expansion.type));
    }
  },
  "Probe returns ready": async (_r, h) => {
    const res = await h.rpc(h.identity, "Probe");
    assert.equal(res.ready?.value, true);
  },
};

/** csi-sanity's "volume lifecycle": controller-publish one volume to this node `count` times. */
async function controllerLifecycle(r: Resources, h: Harness, count: number) {
  const ni = await h.rpc(h.node, "NodeGetInfo");
  assert.ok(ni.node_id);
  const v = await r.createVolume({
    name: unique(`sanity-controller-publish-${count}`),
    volume_capabilities: [SNW],
    accessibility_requirements: ni.accessible_topology
      ? { requisite: [ni.accessible_topology] }
      : null,
  });
  for (let i = 0; i < count; i++) {
    await r.publish(v.volume.volume_id, ni.node_id);
  }
}

export const controllerCases: Record<string, Case> = {
  "ControllerGetCapabilities returns known capabilities": async (_r, h) => {
    const known = [
      "CREATE_DELETE_VOLUME",
      "PUBLISH_UNPUBLISH_VOLUME",
      "LIST_VOLUMES",
      "GET_CAPACITY",
      "CREATE_DELETE_SNAPSHOT",
      "LIST_SNAPSHOTS",
      "PUBLISH_READONLY",
      "CLONE_VOLUME",
      "EXPAND_VOLUME",
      "LIST_VOLUMES_PUBLISHED_NODES",
      "GET_VOLUME",
      "VOLUME_CONDITION",
      "SINGLE_NODE_MULTI_WRITER",
    ];
    const res = await h.rpc(h.controller, "ControllerGetCapabilities");
    assert.ok(res.capabilities.length > 0);
    for (const c of res.capabilities) assert.ok(known.includes(c.rpc.type), c.rpc.type);
  },
  "GetCapacity with no optional values": async (_r, h) => {
    const res = await h.rpc(h.controller, "GetCapacity");
    assert.ok(Number(res.available_capacity) >= 0);
  },
  "ListVolumes with no optional values": async (_r, h) => {
    const res = await h.rpc(h.controller, "ListVolumes");
    for (const e of res.entries) assert.ok(e.volume.volume_id);
  },
  ...refusals("controller", "ListVolumes", {
    "fails with an invalid starting_token": [ABORTED, { starting_token: "invalid-token" }],
  }),
  "ListVolumes shows new volumes and not deleted ones": async (r, h) => {
    const before = (await h.rpc(h.controller, "ListVolumes")).entries.length;
    const v = await r.createDefaultSizedVolume("sanity");
    assert.equal((await h.rpc(h.controller, "ListVolumes")).entries.length, before + 1);
    await h.rpc(h.controller, "DeleteVolume", { volume_id: v.volume.volume_id });
    r.forget(v.volume.volume_id);
    assert.equal((await h.rpc(h.controller, "ListVolumes")).entries.length, before);
  },
  ...refusals("controller", "CreateVolume", {
    "fails when no name is provided": [INVALID_ARGUMENT, {}],
    "fails when no volume capabilities are provided": [
      INVALID_ARGUMENT,
      () => ({ name: unique("sanity-nocaps") }),
    ],
  }),
  "CreateVolume SingleNodeWriter NoCapacity": async (r) => {
    await r.createDefaultSizedVolume(unique("sanity-nocap"));
  },
  "CreateVolume SingleNodeWriter WithCapacity 1Gi": async (r) => {
    const v = await r.mustCreateVolume(unique("sanity-cap"));
    assert.ok(Number(v.volume.capacity_bytes) >= VOLUME_SIZE);
  },
  "CreateVolume with an existing name and the same capacity returns the same volume": async (r) => {
    const name = unique("sanity-twice");
    const a = await r.mustCreateVolume(name);
    const b = await r.mustCreateVolume(name);
    assert.equal(a.volume.volume_id, b.volume.volume_id);
    assert.ok(Number(b.volume.capacity_bytes) >= VOLUME_SIZE);
  },
  "CreateVolume with an existing name and a different capacity fails ALREADY_EXISTS": async (
    r,
    h,
  ) => {
    const name = unique("sanity-twice-different");
    await r.mustCreateVolume(name, {
      capacity_range: { required_bytes: VOLUME_SIZE, limit_bytes: VOLUME_SIZE },
    });
    await expectCode(
      h.rpc(h.controller, "CreateVolume", {
        name,
        volume_capabilities: [SNW],
        capacity_range: { required_bytes: 2 * VOLUME_SIZE, limit_bytes: 2 * VOLUME_SIZE },
      }),
      ALREADY_EXISTS,
    );
  },
  "CreateVolume with a maximum-length name": async (r) => {
    await r.mustCreateVolume(uniqueLen("sanity-maxlen", 128));
  },
  "CreateVolume from an existing source snapshot": async (r) => {
    const snap = await r.snapshotFromNewVolume(unique("sanity-src"), unique("sanity-snap"));
    assert.equal(snap.snapshot.ready_to_use, true);
    await r.mustCreateVolume(unique("sanity-from-snap"), {
      volume_content_source: { snapshot: { snapshot_id: snap.snapshot.snapshot_id } },
    });
  },
  ...refusals("controller", "CreateVolume", {
    "fails when the source snapshot is not found": [NOT_FOUND, () => ({
      name: unique("sanity-nosnap"),
      volume_capabilities: [SNW],
      capacity_range: { required_bytes: VOLUME_SIZE, limit_bytes: VOLUME_SIZE },
      volume_content_source: { snapshot: { snapshot_id: "non-existing-snapshot-id" } },
    })],
  }),
  "CreateVolume from an existing source volume": async (r) => {
    const src = await r.mustCreateVolume(unique("sanity-clone-src"));
    await r.mustCreateVolume(unique("sanity-clone"), {
      volume_content_source: { volume: { volume_id: src.volume.volume_id } },
    });
  },
  ...refusals("controller", "CreateVolume", {
    "fails when the source volume is not found": [NOT_FOUND, () => ({
      name: unique("sanity-novol"),
      volume_capabilities: [SNW],
      volume_content_source: { volume: { volume_id: fakeVolumeId() } },
    })],
  }),
  ...refusals("controller", "DeleteVolume", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, {}],
  }),
  "DeleteVolume succeeds with an invalid volume id": async (_r, h) => {
    await h.rpc(h.controller, "DeleteVolume", { volume_id: "fake-vol-id" });
  },
  "DeleteVolume returns appropriate values": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-delete"));
    await h.rpc(h.controller, "DeleteVolume", { volume_id: v.volume.volume_id });
    r.forget(v.volume.volume_id);
  },
  ...refusals("controller", "ValidateVolumeCapabilities", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, {}],
  }),
  "ValidateVolumeCapabilities fails when no capabilities are provided": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-validate-nocaps"));
    await expectCode(
      h.rpc(h.controller, "ValidateVolumeCapabilities", { volume_id: v.volume.volume_id }),
      INVALID_ARGUMENT,
    );
  },
  "ValidateVolumeCapabilities returns appropriate values": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-validate"));
    const res = await h.rpc(h.controller, "ValidateVolumeCapabilities", {
      volume_id: v.volume.volume_id,
      volume_capabilities: [SNW],
    });
    assert.ok(res.confirmed, "supported capabilities are confirmed");
    assert.ok(res.confirmed.volume_capabilities.length > 0);
  },
  ...refusals("controller", "ValidateVolumeCapabilities", {
    "fails when the volume does not exist": [
      NOT_FOUND,
      () => ({ volume_id: fakeVolumeId(), volume_capabilities: [SNW] }),
    ],
  }),
  ...refusals("controller", "ControllerPublishVolume", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, {}],
    "fails when no node id is provided": [INVALID_ARGUMENT, onlyFakeVolumeId],
    "fails when no volume capability is provided": [
      INVALID_ARGUMENT,
      () => ({ volume_id: fakeVolumeId(), node_id: fakeNodeId() }),
    ],
    "fails when the volume does not exist": [
      NOT_FOUND,
      () => ({ volume_id: fakeVolumeId(), node_id: fakeNodeId(), volume_capability: SNW }),
    ],
  }),
  "ControllerPublishVolume fails when the node does not exist": async (r, h) => {
    const v = await r.createDefaultSizedVolume(unique("sanity-wrong-node"));
    await expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: v.volume.volume_id,
        node_id: fakeNodeId(),
        volume_capability: SNW,
      }),
      NOT_FOUND,
    );
  },
  "ControllerPublishVolume fails when already published but incompatible": async (r, h) => {
    const v = await r.createDefaultSizedVolume(unique("sanity-incompatible"));
    const nid = (await h.rpc(h.node, "NodeGetInfo")).node_id;
    await r.publish(v.volume.volume_id, nid);
    await expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: v.volume.volume_id,
        node_id: nid,
        volume_capability: SNW,
        readonly: true,
      }),
      ALREADY_EXISTS,
    );
  },
  "volume lifecycle works": (r, h) => controllerLifecycle(r, h, 1),
  "volume lifecycle is idempotent": (r, h) => controllerLifecycle(r, h, IDEMPOTENT_COUNT),
  ...refusals("controller", "ControllerUnpublishVolume", {
    "fails when no volume id is provided": [INVALID_ARGUMENT, {}],
  }),
  // csi-sanity names the ControllerExpandVolume cases "ExpandVolume".
  ...refusals("controller", "ControllerExpandVolume", {
    "fails if no volume id is given": [
      INVALID_ARGUMENT,
      { capacity_range: { required_bytes: EXPAND_SIZE } },
    ],
    "fails if no capacity range is given": [INVALID_ARGUMENT, { volume_id: "" }],
  }, "ExpandVolume"),
  "ExpandVolume works": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-expand"));
    const res = await h.rpc(h.controller, "ControllerExpandVolume", {
      volume_id: v.volume.volume_id,
      capacity_range: { required_bytes: EXPAND_SIZE },
      volume_capability: SNW,
    });
    assert.equal(Number(res.capacity_bytes), EXPAND_SIZE);
  },
};

export const snapshotCases: Record<string, Case> = {
  "ListSnapshots with no optional values": async (_r, h) => {
    const res = await h.rpc(h.controller, "ListSnapshots");
    for (const e of res.entries) {
      assert.ok(e.snapshot.snapshot_id && e.snapshot.source_volume_id && e.snapshot.creation_time);
    }
  },
  "ListSnapshots returns the snapshot matching a snapshot id": async (r, h) => {
    await r.snapshotFromNewVolume(unique("ls-vol-u1"), unique("ls-snap-u1"));
    const target = await r.snapshotFromNewVolume(unique("ls-vol-t"), unique("ls-snap-t"));
    await r.snapshotFromNewVolume(unique("ls-vol-u2"), unique("ls-snap-u2"));
    const res = await h.rpc(h.controller, "ListSnapshots", {
      snapshot_id: target.snapshot.snapshot_id,
    });
    assert.equal(res.entries.length, 1);
    assert.equal(res.entries[0].snapshot.snapshot_id, target.snapshot.snapshot_id);
  },
  "ListSnapshots returns empty for an unknown snapshot id": async (_r, h) => {
    const res = await h.rpc(h.controller, "ListSnapshots", { snapshot_id: "none-exist-id" });
    assert.equal(res.entries.length, 0);
  },
  "ListSnapshots returns the snapshots of a source volume": async (r, h) => {
    await r.snapshotFromNewVolume(unique("ls-vol-v1"), unique("ls-snap-v1"));
    const target = await r.snapshotFromNewVolume(unique("ls-vol-vt"), unique("ls-snap-vt"));
    await r.snapshotFromNewVolume(unique("ls-vol-v2"), unique("ls-snap-v2"));
    const res = await h.rpc(h.controller, "ListSnapshots", {
      source_volume_id: target.snapshot.source_volume_id,
    });
    assert.equal(res.entries.length, 1);
    assert.equal(res.entries[0].snapshot.source_volume_id, target.snapshot.source_volume_id);
  },
  "ListSnapshots returns empty for an unknown source volume": async (_r, h) => {
    const res = await h.rpc(h.controller, "ListSnapshots", { source_volume_id: fakeVolumeId() });
    assert.equal(res.entries.length, 0);
  },
  "ListSnapshots shows new snapshots and drops deleted ones": async (r, h) => {
    const total = (await h.rpc(h.controller, "ListSnapshots")).entries.length;
    const snap = await r.snapshotFromNewVolume(unique("ls-vol-3"), unique("ls-snap-3"));
    assert.equal((await h.rpc(h.controller, "ListSnapshots")).entries.length, total + 1);
    await h.rpc(h.controller, "DeleteSnapshot", { snapshot_id: snap.snapshot.snapshot_id });
    r.forget(snap.snapshot.snapshot_id);
    assert.equal((await h.rpc(h.controller, "ListSnapshots")).entries.length, total);
  },
  "ListSnapshots returns a next token when entries are limited": async (r, h) => {
    let total = (await h.rpc(h.controller, "ListSnapshots")).entries.length;
    for (; total < 5; total++) await r.snapshotFromNewVolume(unique("pg-vol"), unique("pg-snap"));
    const first = await h.rpc(h.controller, "ListSnapshots", { max_entries: 2 });
    assert.equal(first.entries.length, 2);
    assert.ok(first.next_token);
    const rest = await h.rpc(h.controller, "ListSnapshots", { starting_token: first.next_token });
    assert.equal(rest.entries.length, total - 2);
  },
  ...refusals("controller", "DeleteSnapshot", {
    "fails when no snapshot id is provided": [INVALID_ARGUMENT, {}],
  }),
  "DeleteSnapshot succeeds with an invalid snapshot id": async (_r, h) => {
    await h.rpc(h.controller, "DeleteSnapshot", { snapshot_id: "reallyfakesnapshotid" });
  },
  "DeleteSnapshot returns appropriate values": async (r) => {
    const v = await r.mustCreateVolume(unique("DeleteSnapshot-volume-1"));
    await r.createSnapshot(unique("DeleteSnapshot-snapshot-1"), v.volume.volume_id);
  },
  ...refusals("controller", "CreateSnapshot", {
    "fails when no name is provided": [INVALID_ARGUMENT, { source_volume_id: "testId" }],
    "fails when no source volume id is provided": [INVALID_ARGUMENT, { name: "name" }],
  }),
  "CreateSnapshot with an existing name and the same source succeeds": async (r) => {
    const v = await r.mustCreateVolume(unique("CreateSnapshot-volume-1"));
    const name = unique("CreateSnapshot-snapshot-1");
    const a = await r.createSnapshot(name, v.volume.volume_id);
    const b = await r.createSnapshot(name, v.volume.volume_id);
    assert.equal(a.snapshot.snapshot_id, b.snapshot.snapshot_id);
  },
  "CreateSnapshot with an existing name and another source fails ALREADY_EXISTS": async (r, h) => {
    const name = unique("CreateSnapshot-snapshot-2");
    await r.snapshotFromNewVolume(unique("CreateSnapshot-volume-2"), name);
    const v2 = await r.mustCreateVolume(unique("CreateSnapshot-volume-3"));
    await expectCode(
      h.rpc(h.controller, "CreateSnapshot", { name, source_volume_id: v2.volume.volume_id }),
      ALREADY_EXISTS,
    );
  },
  "CreateSnapshot with a maximum-length name": async (r) => {
    const v = await r.mustCreateVolume(unique("CreateSnapshot-volume-maxlen"));
    const name = uniqueLen("CreateSnapshot-snapshot-maxlen", 128);
    await r.createSnapshot(name, v.volume.volume_id);
    await r.createSnapshot(name, v.volume.volume_id);
  },
};
