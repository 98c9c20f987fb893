/**
 * The toolkit of the csi-sanity cases (tests/csi_sanity_test.ts runs them): csi-sanity's
 * defaults, its Resources (what a case made, torn down LIFO with its cleanup rules), and case
 * builders for the requests it expects refused.
 */
import assert from "node:assert/strict";
import { codeOf, GiB, type Harness, mountCap, Status } from "../csi_harness.ts";

export const VOLUME_SIZE = 10 * GiB;
export const EXPAND_SIZE = VOLUME_SIZE + GiB;
export const IDEMPOTENT_COUNT = 10;
export const SNW = mountCap("", "SINGLE_NODE_WRITER");

let uniq = 0;
export const unique = (p: string) => `${p}-${Date.now().toString(36)}-${++uniq}`;
export const uniqueLen = (p: string, len: number) => (unique(p) + "x".repeat(len)).slice(0, len);
export const fakeVolumeId = () => `fake-vol-${crypto.randomUUID()}`;
export const fakeNodeId = () => `fake-node-${crypto.randomUUID()}`;
/** A request naming a volume that does not exist, and nothing else. */
export const onlyFakeVolumeId = () => ({ volume_id: fakeVolumeId() });

// deno-lint-ignore no-explicit-any
type CreatedVolume = any;
type Request = Record<string, unknown>;

/** csi-sanity's Resources: remembers what a case made and tears it down LIFO. */
export class Resources {
  private items: Array<{ kind: "volume" | "snapshot"; id: string; node?: string }> = [];
  constructor(readonly h: Harness, readonly staging: string, readonly targetBase: string) {}

  /** Where csi-sanity publishes: `<TargetPath>/target`, which the driver must create. */
  get target(): string {
    return `${this.targetBase}/target`;
  }

  async createVolume(req: Request): Promise<CreatedVolume> {
    const r = await this.h.rpc(this.h.controller, "CreateVolume", req);
    this.items.push({ kind: "volume", id: r.volume.volume_id });
    return r;
  }
  /** A volume with no capacity range: the driver picks its default size. */
  createDefaultSizedVolume(name: string): Promise<CreatedVolume> {
    return this.createVolume({ name, volume_capabilities: [SNW] });
  }
  mustCreateVolume(name: string, extra: Request = {}): Promise<CreatedVolume> {
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
  /**
   * Controller-publishes `v` to `nodeId`, then stages it `times` times and publishes it at
   * `target` `times` times (csi-sanity repeats each call to check idempotency).
   */
  async publishOnNode(v: CreatedVolume, nodeId: string, times = 1): Promise<void> {
    const pub = await this.publish(v.volume.volume_id, nodeId);
    const stage = {
      volume_id: v.volume.volume_id,
      volume_capability: SNW,
      staging_target_path: this.staging,
      volume_context: v.volume.volume_context,
      publish_context: pub.publish_context,
    };
    for (let i = 0; i < times; i++) await this.h.rpc(this.h.node, "NodeStageVolume", stage);
    for (let i = 0; i < times; i++) {
      await this.h.rpc(this.h.node, "NodePublishVolume", { ...stage, target_path: this.target });
    }
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
          target_path: this.target,
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

export type Case = (r: Resources, h: Harness) => Promise<void>;

/**
 * Runs one case in fresh staging and target dirs, then tears down what it made, as csi-sanity
 * does after every test.
 */
export async function runCase(h: Harness, fn: Case): Promise<void> {
  const r = new Resources(h, await h.dir("csi-staging"), await h.dir("csi-mount"));
  try {
    await fn(r, h);
  } finally {
    await r.cleanup();
  }
}

export const expectCode = async (p: Promise<unknown>, code: number) =>
  assert.equal(await codeOf(p), code);

/** A request, or one built per run (fresh fake ids, the case's paths). */
type RequestOf = Request | ((r: Resources) => Request);

/**
 * Cases named `<namePrefix> <suffix>` that each send `method` one request and expect it refused
 * with the given code: csi-sanity's checks of missing fields and of what does not exist.
 */
export function refusals(
  service: "controller" | "node",
  method: string,
  cases: Record<string, [code: number, request: RequestOf]>,
  namePrefix = method,
): Record<string, Case> {
  return Object.fromEntries(
    Object.entries(cases).map(([suffix, [code, request]]) => [
      `${namePrefix} ${suffix}`,
      (r: Resources, h: Harness) =>
        expectCode(
          h.rpc(h[service], method, typeof request === "function" ? request(r) : request),
          code,
        ),
    ]),
  );
}
