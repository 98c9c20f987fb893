/**
 * The FlashDNS controller loop: informers on Services, EndpointSlices and Pods feed "dirty
 * sources" (Namespaces too: their tenant labels are on every record of their objects); one
 * de-duplicated queue key coalesces bursts into a single diff-and-batch flush; a periodic full
 * resync (list what FlashDNS holds under our owner label, recompute everything)
 * repairs drift. All state is rebuilt from the informer caches and the backend listing.
 */
import type { Informer, KubeApi, KubeObject } from "../kube/api.ts";
import { createInformer, createWorkQueue, RESOURCES } from "../kube/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { FlashdnsClient } from "./client.ts";
import {
  type EndpointSlice,
  type Pod,
  type Service,
  SERVICE_NAME_LABEL,
  tenantOf,
} from "./kube_objects.ts";
import { clusterRecords, podRecords, serviceRecords } from "./object_records.ts";
import { type DesiredContext, REVERSE_V4, REVERSE_V6 } from "./record_builder.ts";
import type { RecordSet } from "./records.ts";
import { RecordSyncer } from "./reconcile.ts";

export interface ControllerOptions {
  api: KubeApi;
  client: FlashdnsClient;
  desired: DesiredContext;
  resyncMs: number;
  batchSize: number;
  flushDelayMs: number;
  log: Logger;
  metrics?: Registry;
}

export interface FlashdnsController {
  /** Resolves once the informers have synced and the first full resync has been applied. */
  synced(): Promise<void>;
  /** Resolves when no change is waiting to be flushed (for tests and benchmarks). */
  idle(): Promise<void>;
  /** Triggers a full resync now. */
  resync(): Promise<void>;
  /** Resolves once the loops have ended after the signal aborted. */
  stopped(): Promise<void>;
}

const FLUSH = "flush";
const svcKey = (ns: string, name: string) => `svc/${ns}/${name}`;

/** Runs until `signal` aborts. */
export function runFlashdnsController(
  opts: ControllerOptions,
  signal: AbortSignal,
): FlashdnsController {
  const { api, log } = opts;
  const services = createInformer<Service>(api, { ref: RESOURCES.services, metrics: opts.metrics });
  const slices = createInformer<EndpointSlice>(api, {
    ref: RESOURCES.endpointSlices,
    metrics: opts.metrics,
  });
  const pods = createInformer<Pod>(api, { ref: RESOURCES.pods, metrics: opts.metrics });
  const namespaces = createInformer<KubeObject>(api, {
    ref: RESOURCES.namespaces,
    metrics: opts.metrics,
  });
  const syncer = new RecordSyncer({
    client: opts.client,
    zones: [opts.desired.domain, REVERSE_V4, REVERSE_V6],
    owner: opts.desired.owner,
    batchSize: opts.batchSize,
    log,
    metrics: opts.metrics,
  });
  const queue = createWorkQueue({
    name: "flashdns",
    concurrency: 1,
    metrics: opts.metrics,
    baseDelayMs: 100,
  });
  /** EndpointSlices per Service key, kept from events so a Service's slices are found in O(1). */
  const slicesBySvc = new Map<string, Map<string, EndpointSlice>>();
  const dirty = new Set<string>();
  let primed = false;
  let fullResync: Promise<void> | undefined;

  const mark = (source: string) => {
    dirty.add(source);
    if (primed) queue.addAfter(FLUSH, opts.flushDelayMs);
  };
  const sliceSvc = (s: EndpointSlice) => {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    return svc ? svcKey(s.metadata.namespace ?? "default", svc) : undefined;
  };
  const indexSlice = (s: EndpointSlice, present: boolean) => {
    const key = sliceSvc(s);
    if (!key) return;
    const name = s.metadata.name ?? "";
    let m = slicesBySvc.get(key);
    if (present) {
      if (!m) slicesBySvc.set(key, m = new Map());
      m.set(name, s);
    } else {
      m?.delete(name);
      if (m?.size === 0) slicesBySvc.delete(key);
    }
    mark(key);
  };
  const nsName = (o: KubeObject) =>
    [o.metadata.namespace ?? "default", o.metadata.name ?? ""] as const;

  services.on({
    add: (s) => mark(svcKey(...nsName(s))),
    update: (_o, s) => mark(svcKey(...nsName(s))),
    delete: (s) => mark(svcKey(...nsName(s))),
  });
  slices.on({
    add: (s) => indexSlice(s, true),
    update: (o, s) => {
      if (sliceSvc(o) !== sliceSvc(s)) indexSlice(o, false);
      indexSlice(s, true);
    },
    delete: (s) => indexSlice(s, false),
  });
  pods.on({
    add: (p) => mark(`pod/${nsName(p).join("/")}`),
    update: (o, p) => {
      // Most pod updates (conditions, container states) do not move its IPs or phase.
      if (
        o.status?.podIP !== p.status?.podIP || o.status?.phase !== p.status?.phase ||
        JSON.stringify(o.status?.podIPs) !== JSON.stringify(p.status?.podIPs)
      ) mark(`pod/${nsName(p).join("/")}`);
    },
    delete: (p) => mark(`pod/${nsName(p).join("/")}`),
  });

  // A namespace's tenant can be seen after its objects (separate watches) or change later:
  // every source in it is recomputed then.
  const tenantChanged = (o: KubeObject | undefined, n: KubeObject) => {
    if (JSON.stringify(tenantOf(o)) === JSON.stringify(tenantOf(n))) return;
    const ns = n.metadata.name ?? "";
    for (const s of services.byNamespace(ns)) mark(svcKey(...nsName(s)));
    for (const p of pods.byNamespace(ns)) mark(`pod/${nsName(p).join("/")}`);
  };
  namespaces.on({ add: (n) => tenantChanged(undefined, n), update: tenantChanged });

  const sourceRecords = (source: string): RecordSet[] => {
    const [kind, ns, name] = source.split("/");
    const tenant = tenantOf(namespaces.get(ns));
    if (kind === "svc") {
      const svc = services.get(`${ns}/${name}`);
      const sl = [...(slicesBySvc.get(source)?.values() ?? [])];
      return svc ? serviceRecords(svc, sl, opts.desired, tenant) : [];
    }
    const pod = pods.get(`${ns}/${name}`);
    return pod ? podRecords(pod, opts.desired, tenant) : [];
  };

  const allSources = (): Map<string, RecordSet[]> => {
    const m = new Map<string, RecordSet[]>([["cluster", clusterRecords(opts.desired)]]);
    for (const s of services.list()) {
      m.set(svcKey(...nsName(s)), sourceRecords(svcKey(...nsName(s))));
    }
    for (const p of pods.list()) {
      m.set(`pod/${nsName(p).join("/")}`, sourceRecords(`pod/${nsName(p).join("/")}`));
    }
    return m;
  };

  const doResync = async () => {
    dirty.clear();
    const started = performance.now();
    const r = await syncer.resync(allSources());
    log.info("full resync", {
      ...r,
      ms: Math.round(performance.now() - started),
      sets: syncer.known().length,
    });
  };

  queue.run(async (key) => {
    if (key !== FLUSH) return;
    const sources = [...dirty];
    dirty.clear();
    for (const src of sources) syncer.setSource(src, sourceRecords(src));
    const r = await syncer.flush();
    if (r.upserted || r.deleted || r.conflicts) {
      log.debug("flushed", { ...r, sources: sources.length });
    }
  });

  const resync = (): Promise<void> => {
    if (!fullResync) {
      fullResync = doResync().finally(() => fullResync = undefined);
    }
    return fullResync;
  };

  const ready = (async () => {
    const all = [services, slices, pods, namespaces] as Informer<KubeObject>[];
    for (const inf of all) inf.start(signal);
    await Promise.all(all.map((i) => i.synced()));
    // The first resync must succeed before incremental flushes make sense; retry with backoff.
    for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
      try {
        await resync();
        break;
      } catch (e) {
        log.warn("initial resync failed; retrying", { error: e, retryMs: delay });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    primed = true;
    if (dirty.size > 0) queue.add(FLUSH);
  })();

  const timer = setInterval(() => {
    if (primed) resync().catch((e) => log.warn("periodic resync failed", { error: e }));
  }, opts.resyncMs);
  let shutdown: Promise<void> | undefined;
  signal.addEventListener("abort", () => {
    clearInterval(timer);
    shutdown = queue.shutdown();
  }, { once: true });

  return {
    synced: () => ready,
    idle: async () => {
      await ready;
      while (dirty.size > 0 || queue.len() > 0 || syncer.pending() > 0 || fullResync) {
        if (dirty.size > 0 || syncer.pending() > 0) queue.add(FLUSH);
        await queue.idle();
        await fullResync;
      }
    },
    resync,
    stopped: async () => {
      await Promise.allSettled([
        ready,
        shutdown,
        fullResync,
        services.stopped(),
        slices.stopped(),
        pods.stopped(),
        namespaces.stopped(),
      ]);
    },
  };
}
