/**
 * Embedded FlashDNS: the DNSService gRPC contract plus an authoritative DNS server on UDP and TCP,
 * sharing one record store persisted under `<dataDir>/flashdns/`. Started by the FlashDNS part
 * when no FlashDNS endpoint is configured; tests start it directly.
 */
import { loadProto, serviceClient, startServer, unaryHandlers } from "../grpc/mod.ts";
import type { Logger } from "../log/mod.ts";
import { logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { normalizeName, reverseZone } from "../flashdns/records.ts";
import { type DnsServer, startDnsServer } from "./dns.ts";
import { parseUpstream } from "./forward.ts";
import { dnsServiceImpl } from "./service.ts";
import { RecordStore } from "./store.ts";

export { RecordStore } from "./store.ts";
export { parseListen } from "./dns.ts";

export const PROTO_FILE = "flashdns.proto";
export const SERVICE_NAME = "plasmacloud.flashdns.v1.DNSService";

export interface EmbeddedFlashdnsOptions {
  /** State directory (the store lives in `<stateDir>/records.json`); undefined: memory only. */
  stateDir?: string;
  /** gRPC address, e.g. `127.0.0.1:0` or `unix:///run/k8shost/flashdns.sock`. */
  grpcListen: string;
  /** DNS address (UDP and TCP); undefined: no DNS server (gRPC only). */
  dnsListen?: string;
  /** Cluster domain; the server is authoritative for it. */
  domain: string;
  /** CIDRs whose reverse zones (octet/nibble aligned) the server is authoritative for. */
  reverseCidrs: string[];
  /** `ip` or `ip:port` resolvers for other names; empty: REFUSED. */
  upstreams: string[];
  /** SOA and negative-answer TTL. */
  soaTtl: number;
  log?: Logger;
  metrics?: Registry;
}

export interface EmbeddedFlashdns {
  /** Where a client dials the gRPC service. */
  grpcTarget: string;
  dns?: DnsServer;
  store: RecordStore;
  stop(): Promise<void>;
}

/** The zones served: the cluster domain and the reverse zones of the given CIDRs. */
export function servedZones(domain: string, reverseCidrs: string[]): string[] {
  const zones = new Set([normalizeName(domain, "domain")]);
  for (const c of reverseCidrs) if (c) zones.add(reverseZone(c));
  return [...zones];
}

export async function startEmbeddedFlashdns(
  opts: EmbeddedFlashdnsOptions,
): Promise<EmbeddedFlashdns> {
  const log = opts.log ?? logger("flashdnsd");
  const upstreams = opts.upstreams.map(parseUpstream);
  const zones = servedZones(opts.domain, opts.reverseCidrs);
  const store = await RecordStore.open(opts.stateDir);
  loadProto(PROTO_FILE);
  const ctor = serviceClient(PROTO_FILE, SERVICE_NAME);
  const grpcServer = await startServer(opts.grpcListen, [[
    ctor.service,
    unaryHandlers(dnsServiceImpl(store)),
  ]]);
  let dns: DnsServer | undefined;
  try {
    if (opts.dnsListen) {
      dns = await startDnsServer({
        listen: opts.dnsListen,
        view: { store, zones, soaTtl: opts.soaTtl },
        upstreams,
        log,
        metrics: opts.metrics,
      });
    }
  } catch (e) {
    await grpcServer.stop();
    throw e;
  }
  opts.metrics?.gauge("flashdns_embedded_record_sets", "Record sets held by the embedded FlashDNS.")
    .collect({}, () => store.size);
  log.info("embedded flashdns started", { grpc: grpcServer.target, sets: store.size });
  let stopped = false;
  return {
    grpcTarget: grpcServer.target,
    dns,
    store,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await dns?.close();
      await grpcServer.stop();
      await store.flush();
    },
  };
}
