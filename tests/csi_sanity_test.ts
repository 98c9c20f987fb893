/**
 * The cases of the community conformance suite (kubernetes-csi/csi-test, pkg/sanity:
 * identity.go, controller.go, node.go), case for case, with csi-sanity's defaults (10 GiB
 * volumes, IdempotentCount 10, target `<TargetPath>/target`) and its cleanup rules (unpublish
 * and unstage may answer OK or NOT_FOUND). Run against one endpoint serving all three services
 * and against separate controller and node endpoints, as csi-sanity would be.
 */
import assert from "node:assert/strict";
import {
  blockCap,
  codeOf,
  GiB,
  type Harness,
  mountCap,
  startHarness,
  Status,
} from "./csi_harness.ts";

const VOLUME_SIZE = 10 * GiB;
const EXPAND_SIZE = VOLUME_SIZE + GiB;
const IDEMPOTENT_COUNT = 10;
const SNW = mountCap("", "SINGLE_NODE_WRITER");

let uniq = 0;
const unique = (p: string) => `${p}-${Date.now().toString(36)}-${++uniq}`;
const uniqueLen = (p: string, len: number) => (unique(p) + "x".repeat(len)).slice(0, len);

/** csi-sanity's Resources: remembers what a case made and tears it down LIFO. */
class Resources {
  private items: Array<{ kind: "volume" | "snapshot"; id: string; node?: string }> = [];
  constructor(readonly h: Harness, readonly staging: string, readonly targetBase: string) {}

  async createVolume(req: Record<string, unknown>) {
    const r = await this.h.rpc(this.h.controller, "CreateVolume", req);
    this.items.push({ kind: "volume", id: r.volume.volume_id });
    return r;
  }
  mustCreateVolume(name: string, extra: Record<string, unknown> = {}) {
    return this.createVolume({
      name,
      volume_capabilities: [SNW],
      capacity_range: { required_bytes: VOLUME_SIZE },
      ...extra,
    });
  }
  async publish(volumeId: string, nodeId: string, readonly = false) {
    const r = await this.h.rpc(this.h.controller, "ControllerPublishVolume", {
      volume_id: volumeId,
      node_id: nodeId,
      volume_capability: SNW,
      readonly,
    });
    this.items.push({ kind: "volume", id: volumeId, node: nodeId });
    return r;
  }
  async createSnapshot(name: string, source: string) {
    const r = await this.h.rpc(this.h.controller, "CreateSnapshot", {
      name,
      source_volume_id: source,
    });
    this.items.push({ kind: "snapshot", id: r.snapshot.snapshot_id });
    return r;
  }
  async snapshotFromNewVolume(volName: string, snapName: string) {
    const v = await this.mustCreateVolume(volName, {
      capacity_range: { required_bytes: VOLUME_SIZE, limit_bytes: VOLUME_SIZE },
    });
    return await this.createSnapshot(snapName, v.volume.volume_id);
  }
  forget(id: string) {
    this.items = this.items.filter((i) => i.id !== id);
  }
  async cleanup() {
    const okOrMissing = async (p: Promise<unknown>) => {
      const c = await p.then(() => Status.OK, (e) => e.code);
      assert.ok(c === Status.OK || c === Status.NOT_FOUND, `cleanup call failed with ${c}`);
    };
    for (const it of this.items.reverse()) {
      if (it.kind === "snapshot") {
        await this.h.rpc(this.h.controller, "DeleteSnapshot", { snapshot_id: it.id });
        continue;
      }
      await okOrMissing(
        this.h.rpc(this.h.node, "NodeUnpublishVolume", {
          volume_id: it.id,
          target_path: `${this.targetBase}/target`,
        }),
      );
      await okOrMissing(
        this.h.rpc(this.h.node, "NodeUnstageVolume", {
          volume_id: it.id,
          staging_target_path: this.staging,
        }),
      );
      if (it.node) {
        await this.h.rpc(this.h.controller, "ControllerUnpublishVolume", {
          volume_id: it.id,
          node_id: it.node,
        });
      }
      await this.h.rpc(this.h.controller, "DeleteVolume", { volume_id: it.id });
    }
    this.items = [];
  }
}

type Case = (r: Resources, h: Harness) => Promise<void>;

const expectCode = async (p: Promise<unknown>, code: number) => assert.equal(await codeOf(p), code);
const fakeVolumeId = () => `fake-vol-${crypto.randomUUID()}`;
const fakeNodeId = () => `fake-node-${crypto.randomUUID()}`;

const identityCases: Record<string, Case> = {
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

const controllerCases: Record<string, Case> = {
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
  "ListVolumes fails with an invalid starting_token": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ListVolumes", { starting_token: "invalid-token" }),
      Status.ABORTED,
    ),
  "ListVolumes shows new volumes and not deleted ones": async (r, h) => {
    const before = (await h.rpc(h.controller, "ListVolumes")).entries.length;
    const v = await r.createVolume({ name: "sanity", volume_capabilities: [SNW] });
    assert.equal((await h.rpc(h.controller, "ListVolumes")).entries.length, before + 1);
    await h.rpc(h.controller, "DeleteVolume", { volume_id: v.volume.volume_id });
    r.forget(v.volume.volume_id);
    assert.equal((await h.rpc(h.controller, "ListVolumes")).entries.length, before);
  },
  "CreateVolume fails when no name is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "CreateVolume", {}), Status.INVALID_ARGUMENT),
  "CreateVolume fails when no volume capabilities are provided": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "CreateVolume", { name: unique("sanity-nocaps") }),
      Status.INVALID_ARGUMENT,
    ),
  "CreateVolume SingleNodeWriter NoCapacity": async (r) => {
    await r.createVolume({ name: unique("sanity-nocap"), volume_capabilities: [SNW] });
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
      Status.ALREADY_EXISTS,
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
  "CreateVolume fails when the source snapshot is not found": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "CreateVolume", {
        name: unique("sanity-nosnap"),
        volume_capabilities: [SNW],
        capacity_range: { required_bytes: VOLUME_SIZE, limit_bytes: VOLUME_SIZE },
        volume_content_source: { snapshot: { snapshot_id: "non-existing-snapshot-id" } },
      }),
      Status.NOT_FOUND,
    ),
  "CreateVolume from an existing source volume": async (r) => {
    const src = await r.mustCreateVolume(unique("sanity-clone-src"));
    await r.mustCreateVolume(unique("sanity-clone"), {
      volume_content_source: { volume: { volume_id: src.volume.volume_id } },
    });
  },
  "CreateVolume fails when the source volume is not found": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "CreateVolume", {
        name: unique("sanity-novol"),
        volume_capabilities: [SNW],
        volume_content_source: { volume: { volume_id: fakeVolumeId() } },
      }),
      Status.NOT_FOUND,
    ),
  "DeleteVolume fails when no volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "DeleteVolume", {}), Status.INVALID_ARGUMENT),
  "DeleteVolume succeeds with an invalid volume id": async (_r, h) => {
    await h.rpc(h.controller, "DeleteVolume", { volume_id: "fake-vol-id" });
  },
  "DeleteVolume returns appropriate values": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-delete"));
    await h.rpc(h.controller, "DeleteVolume", { volume_id: v.volume.volume_id });
    r.forget(v.volume.volume_id);
  },
  "ValidateVolumeCapabilities fails when no volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "ValidateVolumeCapabilities", {}), Status.INVALID_ARGUMENT),
  "ValidateVolumeCapabilities fails when no capabilities are provided": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-validate-nocaps"));
    await expectCode(
      h.rpc(h.controller, "ValidateVolumeCapabilities", { volume_id: v.volume.volume_id }),
      Status.INVALID_ARGUMENT,
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
  "ValidateVolumeCapabilities fails when the volume does not exist": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ValidateVolumeCapabilities", {
        volume_id: fakeVolumeId(),
        volume_capabilities: [SNW],
      }),
      Status.NOT_FOUND,
    ),
  "ControllerPublishVolume fails when no volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "ControllerPublishVolume", {}), Status.INVALID_ARGUMENT),
  "ControllerPublishVolume fails when no node id is provided": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", { volume_id: fakeVolumeId() }),
      Status.INVALID_ARGUMENT,
    ),
  "ControllerPublishVolume fails when no volume capability is provided": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: fakeVolumeId(),
        node_id: fakeNodeId(),
      }),
      Status.INVALID_ARGUMENT,
    ),
  "ControllerPublishVolume fails when the volume does not exist": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: fakeVolumeId(),
        node_id: fakeNodeId(),
        volume_capability: SNW,
      }),
      Status.NOT_FOUND,
    ),
  "ControllerPublishVolume fails when the node does not exist": async (r, h) => {
    const v = await r.createVolume({
      name: unique("sanity-wrong-node"),
      volume_capabilities: [SNW],
    });
    await expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: v.volume.volume_id,
        node_id: fakeNodeId(),
        volume_capability: SNW,
      }),
      Status.NOT_FOUND,
    );
  },
  "ControllerPublishVolume fails when already published but incompatible": async (r, h) => {
    const v = await r.createVolume({
      name: unique("sanity-incompatible"),
      volume_capabilities: [SNW],
    });
    const nid = (await h.rpc(h.node, "NodeGetInfo")).node_id;
    await r.publish(v.volume.volume_id, nid);
    await expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: v.volume.volume_id,
        node_id: nid,
        volume_capability: SNW,
        readonly: true,
      }),
      Status.ALREADY_EXISTS,
    );
  },
  "volume lifecycle works": (r, h) => controllerLifecycle(r, h, 1),
  "volume lifecycle is idempotent": (r, h) => controllerLifecycle(r, h, IDEMPOTENT_COUNT),
  "ControllerUnpublishVolume fails when no volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "ControllerUnpublishVolume", {}), Status.INVALID_ARGUMENT),
  "ExpandVolume fails if no volume id is given": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ControllerExpandVolume", {
        capacity_range: { required_bytes: EXPAND_SIZE },
      }),
      Status.INVALID_ARGUMENT,
    ),
  "ExpandVolume fails if no capacity range is given": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "ControllerExpandVolume", { volume_id: "" }),
      Status.INVALID_ARGUMENT,
    ),
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

const snapshotCases: Record<string, Case> = {
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
  "DeleteSnapshot fails when no snapshot id is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "DeleteSnapshot", {}), Status.INVALID_ARGUMENT),
  "DeleteSnapshot succeeds with an invalid snapshot id": async (_r, h) => {
    await h.rpc(h.controller, "DeleteSnapshot", { snapshot_id: "reallyfakesnapshotid" });
  },
  "DeleteSnapshot returns appropriate values": async (r) => {
    const v = await r.mustCreateVolume(unique("DeleteSnapshot-volume-1"));
    await r.createSnapshot(unique("DeleteSnapshot-snapshot-1"), v.volume.volume_id);
  },
  "CreateSnapshot fails when no name is provided": (_r, h) =>
    expectCode(
      h.rpc(h.controller, "CreateSnapshot", { source_volume_id: "testId" }),
      Status.INVALID_ARGUMENT,
    ),
  "CreateSnapshot fails when no source volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.controller, "CreateSnapshot", { name: "name" }), Status.INVALID_ARGUMENT),
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
      Status.ALREADY_EXISTS,
    );
  },
  "CreateSnapshot with a maximum-length name": async (r) => {
    const v = await r.mustCreateVolume(unique("CreateSnapshot-volume-maxlen"));
    const name = uniqueLen("CreateSnapshot-snapshot-maxlen", 128);
    await r.createSnapshot(name, v.volume.volume_id);
    await r.createSnapshot(name, v.volume.volume_id);
  },
};

async function nodeFlow(r: Resources, h: Harness, name: string, opts: { publish?: boolean } = {}) {
  const v = await r.mustCreateVolume(name);
  const ni = await h.rpc(h.node, "NodeGetInfo");
  const pub = await r.publish(v.volume.volume_id, ni.node_id);
  await h.rpc(h.node, "NodeStageVolume", {
    volume_id: v.volume.volume_id,
    volume_capability: SNW,
    staging_target_path: r.staging,
    volume_context: v.volume.volume_context,
    publish_context: pub.publish_context,
  });
  if (opts.publish !== false) {
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: v.volume.volume_id,
      target_path: `${r.targetBase}/target`,
      staging_target_path: r.staging,
      volume_capability: SNW,
      volume_context: v.volume.volume_context,
      publish_context: pub.publish_context,
    });
  }
  return v;
}

async function runControllerTest(r: Resources, h: Harness, count: number) {
  const ni = await h.rpc(h.node, "NodeGetInfo");
  const v = await r.createVolume({
    name: unique(`sanity-node-full-${count}`),
    volume_capabilities: [SNW],
    capacity_range: { required_bytes: VOLUME_SIZE },
    accessibility_requirements: { requisite: [ni.accessible_topology] },
  });
  const pub = await r.publish(v.volume.volume_id, ni.node_id);
  for (let i = 0; i < count; i++) {
    await h.rpc(h.node, "NodeStageVolume", {
      volume_id: v.volume.volume_id,
      volume_capability: SNW,
      staging_target_path: r.staging,
      volume_context: v.volume.volume_context,
      publish_context: pub.publish_context,
    });
  }
  for (let i = 0; i < count; i++) {
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: v.volume.volume_id,
      target_path: `${r.targetBase}/target`,
      staging_target_path: r.staging,
      volume_capability: SNW,
      volume_context: v.volume.volume_context,
      publish_context: pub.publish_context,
    });
  }
  const stats = await h.rpc(h.node, "NodeGetVolumeStats", {
    volume_id: v.volume.volume_id,
    volume_path: `${r.targetBase}/target`,
  });
  assert.ok(stats.usage.length > 0);
}

const nodeCases: Record<string, Case> = {
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
  "NodePublishVolume fails when no volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.node, "NodePublishVolume", {}), Status.INVALID_ARGUMENT),
  "NodePublishVolume fails when no target path is provided": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodePublishVolume", { volume_id: fakeVolumeId() }),
      Status.INVALID_ARGUMENT,
    ),
  "NodePublishVolume fails when no volume capability is provided": (r, h) =>
    expectCode(
      h.rpc(h.node, "NodePublishVolume", {
        volume_id: fakeVolumeId(),
        target_path: `${r.targetBase}/target`,
      }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeUnpublishVolume fails when no volume id is provided": (_r, h) =>
    expectCode(h.rpc(h.node, "NodeUnpublishVolume", {}), Status.INVALID_ARGUMENT),
  "NodeUnpublishVolume fails when no target path is provided": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeUnpublishVolume", { volume_id: fakeVolumeId() }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeUnpublishVolume removes the target path": async (r, h) => {
    const v = await nodeFlow(r, h, unique("sanity-node-unpublish-volume"));
    const target = `${r.targetBase}/target`;
    assert.ok((await Deno.stat(target)).isDirectory, "driver created the target path");
    await h.rpc(h.node, "NodeUnpublishVolume", {
      volume_id: v.volume.volume_id,
      target_path: target,
    });
    await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
  },
  "NodeStageVolume fails when no volume id is provided": (r, h) =>
    expectCode(
      h.rpc(h.node, "NodeStageVolume", {
        staging_target_path: r.staging,
        volume_capability: SNW,
        publish_context: { device: "/dev/mock" },
      }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeStageVolume fails when no staging target path is provided": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeStageVolume", {
        volume_id: fakeVolumeId(),
        volume_capability: SNW,
        publish_context: { device: "/dev/mock" },
      }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeStageVolume fails when no volume capability is provided": async (r, h) => {
    const v = await r.createVolume({
      name: unique("sanity-node-stage-nocaps"),
      volume_capabilities: [SNW],
    });
    await expectCode(
      h.rpc(h.node, "NodeStageVolume", {
        volume_id: v.volume.volume_id,
        staging_target_path: r.staging,
        publish_context: { device: "/dev/mock" },
      }),
      Status.INVALID_ARGUMENT,
    );
  },
  "NodeUnstageVolume fails when no volume id is provided": (r, h) =>
    expectCode(
      h.rpc(h.node, "NodeUnstageVolume", { staging_target_path: r.staging }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeUnstageVolume fails when no staging target path is provided": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeUnstageVolume", { volume_id: fakeVolumeId() }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeGetVolumeStats fails when no volume id is provided": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeGetVolumeStats", { volume_path: "some/path" }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeGetVolumeStats fails when no volume path is provided": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeGetVolumeStats", { volume_id: fakeVolumeId() }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeGetVolumeStats fails when the volume is not found": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeGetVolumeStats", { volume_id: fakeVolumeId(), volume_path: "some/path" }),
      Status.NOT_FOUND,
    ),
  "NodeGetVolumeStats fails when the volume is not at the path": async (r, h) => {
    const v = await nodeFlow(r, h, unique("sanity-node-get-volume-stats"));
    await expectCode(
      h.rpc(h.node, "NodeGetVolumeStats", {
        volume_id: v.volume.volume_id,
        volume_path: "some/path",
      }),
      Status.NOT_FOUND,
    );
  },
  "NodeExpandVolume fails when no volume id is provided": (r, h) =>
    expectCode(
      h.rpc(h.node, "NodeExpandVolume", { volume_path: r.targetBase, volume_capability: SNW }),
      Status.INVALID_ARGUMENT,
    ),
  "NodeExpandVolume fails when no volume path is provided": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-node-expand-volume-valid-id"));
    await expectCode(
      h.rpc(h.node, "NodeExpandVolume", { volume_id: v.volume.volume_id, volume_capability: SNW }),
      Status.INVALID_ARGUMENT,
    );
  },
  "NodeExpandVolume fails when the volume is not found": (_r, h) =>
    expectCode(
      h.rpc(h.node, "NodeExpandVolume", { volume_id: fakeVolumeId(), volume_path: "some/path" }),
      Status.NOT_FOUND,
    ),
  "NodeExpandVolume works after node-publish": async (r, h) => {
    const v = await r.mustCreateVolume(unique("sanity-node-expand-volume"));
    const exp = await h.rpc(h.controller, "ControllerExpandVolume", {
      volume_id: v.volume.volume_id,
      capacity_range: { required_bytes: EXPAND_SIZE },
    });
    assert.equal(Number(exp.capacity_bytes), EXPAND_SIZE);
    const ni = await h.rpc(h.node, "NodeGetInfo");
    const pub = await r.publish(v.volume.volume_id, ni.node_id);
    const req = {
      volume_id: v.volume.volume_id,
      volume_capability: SNW,
      publish_context: pub.publish_context,
    };
    await h.rpc(h.node, "NodeStageVolume", { ...req, staging_target_path: r.staging });
    await h.rpc(h.node, "NodePublishVolume", {
      ...req,
      staging_target_path: r.staging,
      target_path: `${r.targetBase}/target`,
    });
    await h.rpc(h.node, "NodeExpandVolume", {
      volume_id: v.volume.volume_id,
      volume_path: `${r.targetBase}/target`,
      capacity_range: { required_bytes: EXPAND_SIZE },
    });
  },
  "Node Service works": (r, h) => runControllerTest(r, h, 1),
  "Node Service is idempotent": (r, h) => runControllerTest(r, h, IDEMPOTENT_COUNT),
};

for (const split of [false, true]) {
  const layout = split ? "separate controller and node endpoints" : "one endpoint";
  Deno.test(`csi-sanity cases on ${layout}`, async (t) => {
    const h = await startHarness({ split });
    try {
      const suites = {
        Identity: identityCases,
        Controller: controllerCases,
        Snapshots: snapshotCases,
        Node: nodeCases,
      };
      for (const [suite, cases] of Object.entries(suites)) {
        for (const [name, fn] of Object.entries(cases)) {
          await t.step(`${suite}: ${name}`, async () => {
            const staging = await h.dir("csi-staging");
            const targetBase = await h.dir("csi-mount");
            const r = new Resources(h, staging, targetBase);
            try {
              await fn(r, h);
            } finally {
              await r.cleanup();
            }
          });
        }
      }
    } finally {
      await h.close();
    }
  });
}

Deno.test("csi-sanity: publishing more volumes than the node attach limit fails", async () => {
  const h = await startHarness({ maxVolumes: 2 });
  const r = new Resources(h, await h.dir("s"), await h.dir("t"));
  try {
    const ni = await h.rpc(h.node, "NodeGetInfo");
    assert.equal(Number(ni.max_volumes_per_node), 2);
    for (let i = 0; i < 2; i++) {
      const v = await r.mustCreateVolume(unique(`sanity-max-attach-limit-vol-${i}`));
      await r.publish(v.volume.volume_id, ni.node_id);
    }
    const extra = await r.mustCreateVolume(unique("sanity-max-attach-limit-vol+1"));
    await expectCode(
      h.rpc(h.controller, "ControllerPublishVolume", {
        volume_id: extra.volume.volume_id,
        node_id: ni.node_id,
        volume_capability: SNW,
      }),
      Status.RESOURCE_EXHAUSTED,
    );
  } finally {
    await r.cleanup();
    await h.close();
  }
});

Deno.test("csi-sanity style: block access type through the node service", async () => {
  const h = await startHarness();
  const r = new Resources(h, await h.dir("s"), await h.dir("t"));
  try {
    const cap = blockCap();
    const v = await r.createVolume({ name: unique("sanity-block"), volume_capabilities: [cap] });
    const ni = await h.rpc(h.node, "NodeGetInfo");
    await r.publish(v.volume.volume_id, ni.node_id);
    await h.rpc(h.node, "NodeStageVolume", {
      volume_id: v.volume.volume_id,
      staging_target_path: r.staging,
      volume_capability: cap,
    });
    await h.rpc(h.node, "NodePublishVolume", {
      volume_id: v.volume.volume_id,
      staging_target_path: r.staging,
      target_path: `${r.targetBase}/target`,
      volume_capability: cap,
    });
    const stats = await h.rpc(h.node, "NodeGetVolumeStats", {
      volume_id: v.volume.volume_id,
      volume_path: `${r.targetBase}/target`,
    });
    assert.equal(Number(stats.usage[0].total), GiB);
    assert.equal(stats.usage[0].unit, "BYTES");
  } finally {
    await r.cleanup();
    await h.close();
  }
});
