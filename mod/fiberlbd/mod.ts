/**
 * The embedded FiberLB: the LoadBalancerService of proto/fiberlb.proto served over real gRPC
 * (a unix socket in the data dir by default), state in `<dataDir>/fiberlb/`, and the L4 data
 * plane of this host. Used when `fiberlb.endpoint` is empty, and by every test.
 */
import type { IpPool } from "../fiberlb/pools.ts";
import { PROTO_FILE, SERVICE_NAME } from "../fiberlb/client.ts";
import { type RunningServer, serviceClient, startServer, unaryHandlers } from "../grpc/mod.ts";
import { type Logger, logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { DataPlane } from "./dataplane.ts";
import { FiberlbService } from "./service.ts";
import { Store } from "./store.ts";
import { VipManager } from "./vip.ts";

export interface EmbeddedOptions {
  /** State lives in `<dataDir>/fiberlb/`. */
  dataDir: string;
  /** gRPC address; default `unix://<dataDir>/fiberlb/fiberlb.sock`. */
  listen?: string;
  /** Run the proxies (default true). Off: the contract only, e.g. for controller benchmarks. */
  dataPlane?: boolean;
  /** Add non-local external IPs to the dummy interface (default false). */
  manageAddresses?: boolean;
  iface?: string;
  netns?: string;
  addressPool?: IpPool;
  log?: Logger;
  metrics?: Registry;
  listenerRetryMs?: number;
}

export interface EmbeddedFiberlb {
  /** What a client dials. */
  target: string;
  service: FiberlbService;
  store: Store;
  dataplane?: DataPlane;
  stop(): Promise<void>;
}

export function defaultSocket(dataDir: string): string {
  return `unix://${dataDir}/fiberlb/fiberlb.sock`;
}

export async function startEmbeddedFiberlb(opts: EmbeddedOptions): Promise<EmbeddedFiberlb> {
  const log = opts.log ?? logger("fiberlbd");
  const store = await Store.open(`${opts.dataDir}/fiberlb`);
  let dataplane: DataPlane | undefined;
  if (opts.dataPlane ?? true) {
    const vip = new VipManager(
      { manage: opts.manageAddresses ?? false, iface: opts.iface ?? "fiberlb0", netns: opts.netns },
      log.child("vip"),
    );
    await vip.init();
    dataplane = new DataPlane({
      log: log.child("dataplane"),
      vip,
      lookup: (id) => store.get(id),
      retryMs: opts.listenerRetryMs,
    });
    await Promise.all(store.all().map((lb) => dataplane!.sync(lb.id)));
    await dataplane.releaseUnused();
  }
  const service = new FiberlbService({ store, dataplane, addressPool: opts.addressPool });
  const handlers = service.handlers();
  if (opts.metrics) {
    const calls = opts.metrics.counter(
      "fiberlb_embedded_calls_total",
      "Embedded FiberLB gRPC calls by method.",
    );
    for (const [method, fn] of Object.entries(handlers)) {
      handlers[method] = (req, call) => {
        calls.inc({ method });
        return fn(req, call);
      };
    }
    opts.metrics.gauge(
      "fiberlb_embedded_load_balancers",
      "Load balancers held by the embedded FiberLB.",
    )
      .collect({}, () => store.all().length);
    opts.metrics.counter(
      "fiberlb_embedded_journal_syncs_total",
      "Journal batches the embedded FiberLB synced to disk (one fdatasync each).",
    ).collect({}, () => store.syncs);
  }
  const def = serviceClient(PROTO_FILE, SERVICE_NAME).service;
  let server: RunningServer;
  try {
    server = await startServer(opts.listen ?? defaultSocket(opts.dataDir), [[
      def,
      unaryHandlers(handlers),
    ]]);
  } catch (err) {
    await dataplane?.stop();
    await store.close();
    throw err;
  }
  log.info("embedded FiberLB serving", {
    target: server.target,
    loadBalancers: store.all().length,
  });
  let stopped: Promise<void> | undefined;
  return {
    target: server.target,
    service,
    store,
    dataplane,
    stop: () =>
      stopped ??= (async () => {
        await server.stop();
        await dataplane?.stop();
        await store.close();
      })(),
  };
}
