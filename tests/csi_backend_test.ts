/**
 * The embedded LightningStor through its real client over gRPC: sparse images, idempotent
 * creates, snapshots as copies, expansion, attachment rules, pagination and tenant filters,
 * and state that survives a restart.
 */
import assert from "node:assert/strict";
import { grpc } from "../mod/grpc/mod.ts";
import { LightningstorClient, startEmbeddedLightningstor } from "../mod/lightningstor/mod.ts";

const MiB = 1024 * 1024;

async function withBackend(
  fn: (
    c: LightningstorClient,
    dir: string,
    restart: () => Promise<LightningstorClient>,
  ) => Promise<void>,
) {
  const root = await Deno.makeTempDir({ prefix: "khcsi-ls-" });
  const dir = `${root}/lightningstor`;
  const start = () =>
    startEmbeddedLightningstor({ dir, listen: `unix://${root}/ls.sock`, hostNode: "khcsi-n1" });
  let backend = await start();
  let client = new LightningstorClient({ endpoint: backend.target });
  try {
    await fn(client, dir, async () => {
      client.close();
      await backend.stop();
      backend = await start();
      client = new LightningstorClient({ endpoint: backend.target });
      return client;
    });
  } finally {
    client.close();
    await backend.stop();
    await Deno.remove(root, { recursive: true });
  }
}

const codeOf = (p: Promise<unknown>) => p.then(() => grpc.status.OK, (e) => e.code as number);

Deno.test("lightningstor: sparse volumes, idempotent create, expansion", () =>
  withBackend(async (c, dir) => {
    const v = await c.createVolume({
      name: "khcsi-a",
      sizeBytes: 10 * 1024 * MiB,
      volumeType: "ssd",
      orgId: "o1",
      projectId: "p1",
    });
    assert.match(v.id, /^vol-[0-9a-f]{20}$/);
    assert.equal(v.status, "available");
    assert.equal(v.hostNode, "khcsi-n1");
    const st = await Deno.stat(`${dir}/volumes/${v.id}.img`);
    assert.equal(st.size, 10 * 1024 * MiB);
    assert.ok((st.blocks ?? 0) * 512 < MiB, "a new image allocates (almost) nothing");
    assert.equal(
      (await c.createVolume({
        name: "khcsi-a",
        sizeBytes: 10 * 1024 * MiB,
        volumeType: "ssd",
        orgId: "o1",
        projectId: "p1",
      })).id,
      v.id,
    );
    assert.equal(
      await codeOf(c.createVolume({ name: "khcsi-a", sizeBytes: MiB })),
      grpc.status.ALREADY_EXISTS,
    );
    assert.equal(
      await codeOf(c.createVolume({ name: "", sizeBytes: MiB })),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.equal(
      await codeOf(c.createVolume({ name: "x", sizeBytes: MiB, volumeType: "tape" })),
      grpc.status.INVALID_ARGUMENT,
    );
    const grown = await c.expandVolume(v.id, 11 * 1024 * MiB);
    assert.equal(grown.sizeBytes, 11 * 1024 * MiB);
    assert.equal((await Deno.stat(`${dir}/volumes/${v.id}.img`)).size, 11 * 1024 * MiB);
    assert.equal((await c.expandVolume(v.id, MiB)).sizeBytes, 11 * 1024 * MiB, "never shrinks");
    assert.equal(
      await codeOf(c.expandVolume("vol-00000000000000000000", MiB)),
      grpc.status.NOT_FOUND,
    );
  }));

Deno.test("lightningstor: snapshots are point-in-time copies; volumes restore from them", () =>
  withBackend(async (c, dir) => {
    const v = await c.createVolume({ name: "khcsi-src", sizeBytes: 4 * MiB });
    const img = `${dir}/volumes/${v.id}.img`;
    const write = async (path: string, text: string) => {
      const f = await Deno.open(path, { write: true });
      await f.write(new TextEncoder().encode(text));
      f.close();
    };
    const read = async (path: string) => {
      const f = await Deno.open(path);
      const b = new Uint8Array(6);
      await f.read(b);
      f.close();
      return new TextDecoder().decode(b);
    };
    await write(img, "before");
    const snap = await c.createSnapshot("khcsi-snap", v.id);
    assert.equal(snap.readyToUse, true);
    assert.equal(snap.sizeBytes, 4 * MiB);
    assert.equal((await c.createSnapshot("khcsi-snap", v.id)).id, snap.id, "idempotent");
    await write(img, "after!");
    const restored = await c.createVolume({
      name: "khcsi-restored",
      sizeBytes: 8 * MiB,
      sourceSnapshotId: snap.id,
    });
    assert.equal(await read(`${dir}/volumes/${restored.id}.img`), "before");
    assert.equal(
      (await Deno.stat(`${dir}/volumes/${restored.id}.img`)).size,
      8 * MiB,
      "grown to the request",
    );
    const clone = await c.createVolume({
      name: "khcsi-clone",
      sizeBytes: 4 * MiB,
      sourceVolumeId: v.id,
    });
    assert.equal(await read(`${dir}/volumes/${clone.id}.img`), "after!");
    assert.equal(
      await codeOf(
        c.createVolume({ name: "khcsi-small", sizeBytes: MiB, sourceSnapshotId: snap.id }),
      ),
      grpc.status.OUT_OF_RANGE,
    );
    assert.equal(
      await codeOf(
        c.createVolume({
          name: "khcsi-none",
          sizeBytes: MiB,
          sourceSnapshotId: "snap-00000000000000000000",
        }),
      ),
      grpc.status.NOT_FOUND,
    );
    // Snapshots outlive their source volume.
    await c.deleteVolume(v.id);
    assert.equal((await c.getSnapshot(snap.id)).sourceVolumeId, v.id);
    await c.deleteSnapshot(snap.id);
    await c.deleteSnapshot(snap.id);
    await assert.rejects(Deno.stat(`${dir}/snapshots/${snap.id}.img`), Deno.errors.NotFound);
  }));

Deno.test("lightningstor: attachments need a registered node, respect limits, block deletion", () =>
  withBackend(async (c) => {
    const v = await c.createVolume({ name: "khcsi-att", sizeBytes: MiB });
    assert.equal(
      await codeOf(c.attachVolume(v.id, "khcsi-n1", "read-write", false)),
      grpc.status.NOT_FOUND,
      "node unknown",
    );
    await c.registerNode("khcsi-n1", { zone: "z" }, 1);
    await c.registerNode("khcsi-n2", {}, 1);
    const a = await c.attachVolume(v.id, "khcsi-n1", "read-write", false);
    assert.deepEqual(JSON.parse(a.connectionInfo).transport, "loop");
    assert.equal((await c.attachVolume(v.id, "khcsi-n1", "read-write", false)).id, a.id);
    assert.equal(
      await codeOf(c.attachVolume(v.id, "khcsi-n1", "read-only", false)),
      grpc.status.ALREADY_EXISTS,
    );
    assert.equal(
      await codeOf(c.attachVolume(v.id, "khcsi-n2", "read-write", false)),
      grpc.status.FAILED_PRECONDITION,
      "node-local volume",
    );
    assert.equal((await c.getVolume(v.id)).status, "in-use");
    const w = await c.createVolume({ name: "khcsi-att2", sizeBytes: MiB });
    assert.equal(
      await codeOf(c.attachVolume(w.id, "khcsi-n1", "read-write", false)),
      grpc.status.RESOURCE_EXHAUSTED,
    );
    assert.equal(await codeOf(c.deleteVolume(v.id)), grpc.status.FAILED_PRECONDITION);
    await c.detachVolume(v.id, "khcsi-n1");
    await c.detachVolume(v.id, "khcsi-n1");
    await c.deleteVolume(v.id);
    await c.deleteVolume(v.id);
    assert.equal(await codeOf(c.getVolume(v.id)), grpc.status.NOT_FOUND);
  }));

Deno.test("lightningstor: pagination, tenant filters and a restart keep their promises", () =>
  withBackend(async (c, dir, restart) => {
    for (let i = 0; i < 5; i++) {
      await c.createVolume({ name: `khcsi-p${i}`, sizeBytes: MiB, orgId: i % 2 ? "odd" : "even" });
    }
    const seen: string[] = [];
    let token = "";
    do {
      const page = await c.listVolumes(2, token);
      assert.ok(page.volumes.length <= 2);
      seen.push(...page.volumes.map((v) => v.name));
      token = page.next;
    } while (token);
    assert.deepEqual(seen.sort(), ["khcsi-p0", "khcsi-p1", "khcsi-p2", "khcsi-p3", "khcsi-p4"]);
    assert.equal(await codeOf(c.listVolumes(1, "invalid-token")), grpc.status.ABORTED);
    await c.registerNode("khcsi-n1", {}, 8);
    const first = (await c.listVolumes(0, "")).volumes[0];
    await c.attachVolume(first.id, "khcsi-n1", "read-only", false);
    const snap = await c.createSnapshot("khcsi-keep", first.id);

    const c2 = await restart();
    assert.equal((await c2.listVolumes(0, "")).volumes.length, 5);
    assert.equal((await c2.getSnapshot(snap.id)).name, "khcsi-keep");
    assert.deepEqual(
      (await c2.listAttachments({ nodeId: "khcsi-n1" })).map((a) => [a.volumeId, a.attachMode]),
      [[first.id, "read-only"]],
    );
    assert.equal((await c2.getNode("khcsi-n1")).id, "khcsi-n1");
    const files = [];
    for await (const e of Deno.readDir(dir)) files.push(e.name);
    assert.ok(!files.some((f) => f.includes(".tmp")), "no temp files left behind");
    const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`));
    assert.equal(Object.keys(state.volumes).length, 5);
    assert.equal((await Deno.stat(`${dir}/state.json`)).mode! & 0o777, 0o600);
  }));
