/**
 * A CSI Controller client for the embedded provisioner, attacher and resizer: they drive the
 * driver exactly as the external sidecars would, over gRPC on the controller's unix socket.
 */
import { call, type grpc, makeClient, serviceClient } from "../mod/grpc/mod.ts";

// deno-lint-ignore no-explicit-any
type Wire = any;

export class CsiControllerClient {
  private readonly client: grpc.Client;

  constructor(target: string, private readonly timeoutMs = 60_000) {
    this.client = makeClient(serviceClient("csi.proto", "csi.v1.Controller"), { endpoint: target });
  }

  rpc(method: string, req: unknown): Promise<Wire> {
    return call<Wire>(this.client, method, req, { timeoutMs: this.timeoutMs });
  }

  createVolume(req: unknown) {
    return this.rpc("CreateVolume", req);
  }
  deleteVolume(volumeId: string) {
    return this.rpc("DeleteVolume", { volume_id: volumeId });
  }
  publish(req: unknown) {
    return this.rpc("ControllerPublishVolume", req);
  }
  unpublish(volumeId: string, nodeId: string) {
    return this.rpc("ControllerUnpublishVolume", { volume_id: volumeId, node_id: nodeId });
  }
  expand(req: unknown) {
    return this.rpc("ControllerExpandVolume", req);
  }

  close() {
    this.client.close();
  }
}

/** The message of a gRPC error (its details), for events and status fields. */
export function grpcMessage(err: unknown): string {
  const e = err as { details?: string; message?: string };
  return e?.details || e?.message || String(err);
}

export function grpcCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === "number" ? c : undefined;
}
