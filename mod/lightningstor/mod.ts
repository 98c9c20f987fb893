/**
 * LightningStor: the block-volume contract (proto/lightningstor.proto), its client, and the
 * embedded implementation k8shost serves when no LightningStor endpoint is configured.
 */
import {
  loadProto,
  type RunningServer,
  serviceClient,
  startServer,
  unaryHandlers,
} from "../grpc/mod.ts";
import { clientOptionsFromSection } from "../grpc/section.ts";
import type { Config } from "../config/spec.ts";
import { LightningstorClient } from "./client.ts";
import { EmbeddedVolumeService } from "./service.ts";
import { CatalogRpcs } from "./service_catalog.ts";
import { StateStore } from "./store.ts";

export { LightningstorClient } from "./client.ts";
export type { Attachment, ServiceInfo, Snapshot, Volume } from "./client.ts";
export { EmbeddedVolumeService } from "./service.ts";
export { StateStore } from "./store.ts";

export interface EmbeddedLightningstor {
  target: string;
  service: EmbeddedVolumeService;
  stop(): Promise<void>;
}

export interface EmbeddedStartOptions {
  /** State and image directory, normally `<dataDir>/lightningstor`. */
  dir: string;
  /** `unix:///path` or `host:port`; default `unix://<dir>/volume.sock`. */
  listen?: string;
  hostNode: string;
  zone?: string;
  maxVolumeBytes?: number;
}

/** Starts the embedded VolumeService over gRPC. */
export async function startEmbeddedLightningstor(
  opts: EmbeddedStartOptions,
): Promise<EmbeddedLightningstor> {
  const store = await StateStore.open(opts.dir);
  const service = new EmbeddedVolumeService(store, {
    hostNode: opts.hostNode,
    zone: opts.zone ?? "",
    maxVolumeBytes: opts.maxVolumeBytes ?? 16 * 1024 ** 4,
  });
  const catalog = new CatalogRpcs(store, service.opts);
  loadProto("lightningstor.proto");
  const ctor = serviceClient("lightningstor.proto", "plasmacloud.lightningstor.v1.VolumeService");
  const handlers: Record<string, (req: Record<string, unknown>) => Promise<unknown>> = {};
  for (const name of Object.keys(ctor.service)) {
    const fn = (service as unknown as Record<string, unknown>)[name] ??
      (catalog as unknown as Record<string, unknown>)[name];
    if (typeof fn !== "function") throw new Error(`embedded LightningStor lacks ${name}`);
    handlers[name] = (req) => (fn as (r: unknown) => Promise<unknown>)(req);
  }
  const server: RunningServer = await startServer(opts.listen ?? `unix://${opts.dir}/volume.sock`, [
    [ctor.service, unaryHandlers(handlers)],
  ]);
  return { target: server.target, service, stop: () => server.stop() };
}

/** Where the embedded LightningStor serves for this config. */
export function embeddedTarget(config: Config): string {
  return config.lightningstor.embeddedListen ||
    `unix://${config.dataDir}/lightningstor/volume.sock`;
}

/**
 * A client for the configured LightningStor: the endpoint with its TLS material and token when
 * set, else the embedded service's address.
 */
export async function clientFromConfig(config: Config): Promise<LightningstorClient> {
  const c = config.lightningstor;
  if (!c.endpoint) return new LightningstorClient({ endpoint: embeddedTarget(config) }, c.timeout);
  return new LightningstorClient(await clientOptionsFromSection("lightningstor", c), c.timeout);
}
