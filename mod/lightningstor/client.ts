/**
 * Typed client of the LightningStor VolumeService, used by the CSI driver whether the service
 * is a remote PlasmaCloud LightningStor or the embedded one: both are reached over real gRPC.
 */
import { call, type grpc, makeClient, serviceClient } from "../grpc/mod.ts";
import type { ClientOptions } from "../grpc/mod.ts";

export interface Volume {
  id: string;
  name: string;
  sizeBytes: number;
  status: string;
  volumeType: string;
  replicationFactor: number;
  orgId: string;
  projectId: string;
  createdAt: string;
  sourceSnapshotId: string;
  sourceVolumeId: string;
  labels: Record<string, string>;
  hostNode: string;
}

export interface Attachment {
  id: string;
  volumeId: string;
  nodeId: string;
  devicePath: string;
  connectionInfo: string;
  attachMode: "read-write" | "read-only";
  createdAt: string;
}

export interface Snapshot {
  id: string;
  name: string;
  sourceVolumeId: string;
  sizeBytes: number;
  createdAt: string;
  readyToUse: boolean;
}

export interface ServiceInfo {
  locality: "node" | "zone";
  zone: string;
  version: string;
  hostNode: string;
}

export interface CreateVolumeParams {
  name: string;
  sizeBytes: number;
  volumeType?: string;
  replicationFactor?: number;
  orgId?: string;
  projectId?: string;
  sourceSnapshotId?: string;
  sourceVolumeId?: string;
  labels?: Record<string, string>;
}

// deno-lint-ignore no-explicit-any
type Wire = any;

const volume = (w: Wire): Volume => ({
  id: w.id,
  name: w.name,
  sizeBytes: Number(w.size_bytes),
  status: w.status,
  volumeType: w.volume_type,
  replicationFactor: Number(w.replication_factor),
  orgId: w.org_id,
  projectId: w.project_id,
  createdAt: w.created_at,
  sourceSnapshotId: w.source_snapshot_id,
  sourceVolumeId: w.source_volume_id,
  labels: w.labels ?? {},
  hostNode: w.host_node,
});

const attachment = (w: Wire): Attachment => ({
  id: w.id,
  volumeId: w.volume_id,
  nodeId: w.node_id,
  devicePath: w.device_path,
  connectionInfo: w.connection_info,
  attachMode: w.attach_mode,
  createdAt: w.created_at,
});

const snapshot = (w: Wire): Snapshot => ({
  id: w.id,
  name: w.name,
  sourceVolumeId: w.source_volume_id,
  sizeBytes: Number(w.size_bytes),
  createdAt: w.created_at,
  readyToUse: Boolean(w.ready_to_use),
});

export class LightningstorClient {
  private readonly client: grpc.Client;

  constructor(opts: ClientOptions, private readonly timeoutMs = 10_000) {
    const ctor = serviceClient("lightningstor.proto", "plasmacloud.lightningstor.v1.VolumeService");
    this.client = makeClient(ctor, opts);
  }

  private rpc<T = Wire>(method: string, req: unknown): Promise<T> {
    return call<T>(this.client, method, req, { timeoutMs: this.timeoutMs });
  }

  close() {
    this.client.close();
  }

  async createVolume(p: CreateVolumeParams): Promise<Volume> {
    return volume(
      await this.rpc("CreateVolume", {
        name: p.name,
        size_bytes: String(p.sizeBytes),
        volume_type: p.volumeType ?? "",
        replication_factor: p.replicationFactor ?? 0,
        org_id: p.orgId ?? "",
        project_id: p.projectId ?? "",
        source_snapshot_id: p.sourceSnapshotId ?? "",
        source_volume_id: p.sourceVolumeId ?? "",
        labels: p.labels ?? {},
      }),
    );
  }

  async deleteVolume(id: string): Promise<void> {
    await this.rpc("DeleteVolume", { volume_id: id });
  }

  async getVolume(id: string): Promise<Volume> {
    return volume(await this.rpc("GetVolume", { volume_id: id }));
  }

  async listVolumes(pageSize: number, pageToken: string) {
    const r = await this.rpc("ListVolumes", { page_size: pageSize, page_token: pageToken });
    return { volumes: (r.volumes as Wire[]).map(volume), next: String(r.next_page_token ?? "") };
  }

  async expandVolume(id: string, sizeBytes: number): Promise<Volume> {
    return volume(await this.rpc("ExpandVolume", { volume_id: id, size_bytes: String(sizeBytes) }));
  }

  async attachVolume(
    volumeId: string,
    nodeId: string,
    mode: "read-write" | "read-only",
    multiNode: boolean,
  ): Promise<Attachment> {
    return attachment(
      await this.rpc("AttachVolume", {
        volume_id: volumeId,
        node_id: nodeId,
        attach_mode: mode,
        multi_node: multiNode,
      }),
    );
  }

  async detachVolume(volumeId: string, nodeId: string): Promise<void> {
    await this.rpc("DetachVolume", { volume_id: volumeId, node_id: nodeId });
  }

  async listAttachments(filter: { volumeId?: string; nodeId?: string }): Promise<Attachment[]> {
    const r = await this.rpc("ListAttachments", {
      volume_id: filter.volumeId ?? "",
      node_id: filter.nodeId ?? "",
    });
    return (r.attachments as Wire[]).map(attachment);
  }

  async createSnapshot(name: string, sourceVolumeId: string): Promise<Snapshot> {
    return snapshot(await this.rpc("CreateSnapshot", { name, source_volume_id: sourceVolumeId }));
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.rpc("DeleteSnapshot", { snapshot_id: id });
  }

  async getSnapshot(id: string): Promise<Snapshot> {
    return snapshot(await this.rpc("GetSnapshot", { snapshot_id: id }));
  }

  async listSnapshots(
    f: { pageSize: number; pageToken: string; snapshotId?: string; sourceVolumeId?: string },
  ) {
    const r = await this.rpc("ListSnapshots", {
      page_size: f.pageSize,
      page_token: f.pageToken,
      snapshot_id: f.snapshotId ?? "",
      source_volume_id: f.sourceVolumeId ?? "",
    });
    return {
      snapshots: (r.snapshots as Wire[]).map(snapshot),
      next: String(r.next_page_token ?? ""),
    };
  }

  async registerNode(id: string, topology: Record<string, string>, maxAttachments: number) {
    await this.rpc("RegisterNode", { node_id: id, topology, max_attachments: maxAttachments });
  }

  async getNode(id: string): Promise<{ id: string; topology: Record<string, string> }> {
    const r = await this.rpc("GetNode", { node_id: id });
    return { id: r.id, topology: r.topology ?? {} };
  }

  async getCapacity() {
    const r = await this.rpc("GetCapacity", {});
    return {
      availableBytes: Number(r.available_bytes),
      maximumVolumeBytes: Number(r.maximum_volume_bytes),
      minimumVolumeBytes: Number(r.minimum_volume_bytes),
    };
  }

  async serviceInfo(): Promise<ServiceInfo> {
    const r = await this.rpc("GetServiceInfo", {});
    return {
      locality: r.locality === "zone" ? "zone" : "node",
      zone: r.zone,
      version: r.version,
      hostNode: r.host_node,
    };
  }
}
