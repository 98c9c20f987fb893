/**
 * Wiring of one leadership term of the FiberLB controller: informers on Services,
 * EndpointSlices, Nodes and Namespaces; the allocation table rebuilt from a full sync of the
 * Services AND the FiberLB listing before the first reconcile (nothing is allocated earlier);
 * a work queue keyed by Service; debounced endpoint churn; and a periodic resync that repairs
 * drift and garbage-collects orphaned load balancers.
 */
import type { Config } from "../config/spec.ts";
import type { EventRecorder, KubeApi, KubeObject } from "../kube/api.ts";
import {
  Backoff,
  createEventRecorder,
  createInformer,
  createWorkQueue,
  type InformerHandle,
  RESOURCES,
  sleep,
} from "../kube/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { AllocationTable } from "./allocations.ts";
import { ANNOTATIONS } from "./annotations.ts";
import type { FiberlbClient, LoadBalancer } from "./client.ts";
import {
  hasOurRecord,
  isServed,
  LABELS,
  rebuildAllocations,
  serviceKey,
  type Settings,
} from "./desired.ts";
import type { IpPool } from "./pools.ts";
import { ProblemError, Reconciler } from "./reconcile.ts";

export interface ControllerOptions {
  api: KubeApi;
  client: FiberlbClient;
  config: Config["fiberlb"];
  pools: Map<string, IpPool>;
  log: Logger;
  metrics?: Registry;
  events?: EventRecorder;
  /** Informer relist period (default 10 min). */
  informerResyncMs?: number;
}

export interface FiberlbController {
  /** Resolves once the table is rebuilt and reconciling has begun. */
  synced(): Promise<void>;
  /** Resolves after the signal aborted and everything stopped. */
  stopped(): Promise<void>;
  /** Set after synced(). */
  readonly table: AllocationTable | undefined;
  readonly reconciler: Reconciler | undefined;
  /** Runs the resync (listing, garbage collection, full enqueue) now. */
  resync(): Promise<void>;
  /** Resolves when the queue is empty and nothing is in flight. */
  idle(): Promise<void>;
}

/** Coalesces bursts per key: the first touch schedules one fire after `delayMs`. */
class Debouncer {
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  constructor(private delayMs: number, private fire: (key: string) => void) {}
  touch(key: string): void {
    if (this.#timers.has(key)) return;
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.fire(key);
      }, this.delayMs),
    );
  }
  cancel(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}

export function runFiberlbController(
  opts: ControllerOptions,
  signal: AbortSignal,
): FiberlbController {
  const { api, client, config: c, log, metrics } = opts;
  const settings: Settings = {
    clusterId: c.clusterName,
    loadBalancerClass: c.loadBalancerClass,
    memberMode: c.memberMode as Settings["memberMode"],
  };
  const events = opts.events ?? createEventRecorder(api, "fiberlb-controller");
  const informer = <T extends KubeObject>(ref: typeof RESOURCES.services) =>
    createInformer<T>(api, { ref, resyncMs: opts.informerResyncMs, metrics });
  const services: InformerHandle<KubeObject> = informer(RESOURCES.services);
  const slices: InformerHandle<KubeObject> = informer(RESOURCES.endpointSlices);
  const nodes: InformerHandle<KubeObject> = informer(RESOURCES.nodes);
  const namespaces: InformerHandle<KubeObject> = informer(RESOURCES.namespaces);
  const queue = createWorkQueue({ name: "fiberlb", concurrency: c.workers, metrics });
  const reconciles = metrics?.counter("fiberlb_reconcile_total", "Service reconciles by result.");
  const fiberlbCalls = metrics?.counter("fiberlb_client_writes_total", "FiberLB writes by method.");
  const duration = metrics?.histogram(
    "fiberlb_reconcile_seconds",
    "Time of one Service reconcile.",
  );
  let reconciler: Reconciler | undefined;
  let table: AllocationTable | undefined;
  const enqueue = (key: string) => reconciler && queue.add(key);
  const debounced = new Debouncer(c.endpointDebounce, enqueue);

  /** Keys the controller must look at: ours now, or carrying something of ours. */
  const relevant = (svc: KubeObject) =>
    isServed(svc, c.loadBalancerClass) || hasOurRecord(svc) ||
    table?.ipOf(serviceKey(svc)) !== undefined;

  services.on({
    add: (s) => relevant(s) && enqueue(serviceKey(s)),
    update: (o, s) =>
      (relevant(s) || relevant(o)) && !reconciler?.isOwnWrite(s) && enqueue(serviceKey(s)),
    delete: (s) => (relevant(s) || reconciler?.known.has(serviceKey(s))) && enqueue(serviceKey(s)),
  });
  const onSlice = (sl: KubeObject) => {
    const name = sl.metadata.labels?.["kubernetes.io/service-name"];
    const key = `${sl.metadata.namespace}/${name}`;
    const svc = name ? services.get(key) : undefined;
    if (svc && isServed(svc, c.loadBalancerClass)) debounced.touch(key);
  };
  slices.on({ add: onSlice, update: (_, s) => onSlice(s), delete: onSlice });
  const nodeServices = () => {
    if (settings.memberMode !== "node") return;
    for (const s of services.list()) {
      if (isServed(s, c.loadBalancerClass)) debounced.touch(serviceKey(s));
    }
  };
  nodes.on({
    add: nodeServices,
    update: (o, n) => nodeChanged(o, n) && nodeServices(),
    delete: nodeServices,
  });
  const onNamespace = (ns: KubeObject) => {
    for (const s of services.byNamespace(ns.metadata.name!)) {
      if (relevant(s)) enqueue(serviceKey(s));
    }
  };
  namespaces.on({ add: onNamespace, update: (o, n) => namespaceChanged(o, n) && onNamespace(n) });

  async function listAll(): Promise<LoadBalancer[]> {
    const backoff = new Backoff(200, 10_000);
    while (true) {
      if (signal.aborted) throw new Error("stopped before FiberLB could be listed");
      try {
        return await client.listAll();
      } catch (err) {
        if (signal.aborted) throw err;
        log.warn("cannot list FiberLB load balancers; retrying", { error: err });
        await sleep(backoff.next(), signal);
      }
    }
  }

  async function start(): Promise<void> {
    for (const inf of [services, slices, nodes, namespaces]) inf.start(signal);
    await Promise.all([services.synced(), slices.synced(), nodes.synced(), namespaces.synced()]);
    const lbs = await listAll();
    if (signal.aborted) return;
    const rebuilt = rebuildAllocations(
      c.clusterName,
      lbs,
      services.list(),
      (n) => namespaces.get(n),
    );
    for (const x of rebuilt.conflicts) {
      log.warn("recorded address collides; the Service will get a new one", {
        service: x.key,
        ip: x.ip,
        reason: x.reason,
      });
    }
    table = rebuilt.table;
    const r = new Reconciler({
      api,
      client,
      events,
      settings,
      pools: opts.pools,
      table,
      caches: {
        service: (k) => services.get(k),
        namespace: (n) => namespaces.get(n),
        slices: (ns) => slices.byNamespace(ns),
        nodes: () => nodes.list(),
      },
      log,
      onRelease: (keys) => keys.forEach((k) => queue.add(k)),
      count: (what) => fiberlbCalls?.inc({ method: what }),
    });
    for (const lb of lbs) {
      if (lb.labels?.[LABELS.cluster] === c.clusterName && lb.labels[LABELS.service]) {
        r.rememberLb(lb.labels[LABELS.service], lb);
      }
    }
    metrics?.gauge("fiberlb_allocated_ips", "External IPs held.").collect(
      {},
      () => table?.size ?? 0,
    );
    reconciler = r;
    queue.run(async (key) => {
      const t0 = performance.now();
      try {
        await r.reconcile(key);
        reconciles?.inc({ result: "ok" });
      } catch (err) {
        reconciles?.inc({ result: err instanceof ProblemError ? err.problem.reason : "error" });
        throw err;
      } finally {
        duration?.observe({}, (performance.now() - t0) / 1000);
      }
    });
    for (const s of services.list()) if (relevant(s)) queue.add(serviceKey(s));
    for (const key of r.known.keys()) queue.add(key);
    log.info("fiberlb controller synced", {
      services: services.list().length,
      loadBalancers: lbs.length,
      allocated: table.size,
    });
  }

  /** Repairs drift: relists FiberLB, reserves foreign addresses, re-queues orphans and everything ours. */
  async function resync(): Promise<void> {
    const r = reconciler, t = table;
    if (!r || !t) return;
    const lbs = await client.listAll();
    const foreign = new Map<string, LoadBalancer>();
    for (const lb of lbs) {
      const key = lb.labels?.[LABELS.cluster] === c.clusterName
        ? lb.labels[LABELS.service]
        : undefined;
      if (!key) {
        foreign.set(`fiberlb:${lb.id}`, lb);
        continue;
      }
      r.rememberLb(key, lb);
      const svc = services.get(key);
      if (!svc || !isServed(svc, c.loadBalancerClass) || (r.known.get(key)?.size ?? 0) > 1) {
        queue.add(key);
      }
    }
    for (const [ip, holders] of t.entries()) {
      for (const h of holders) {
        if (h.key.startsWith("fiberlb:") && !foreign.has(h.key)) {
          t.release(h.key);
          log.info("address no longer held outside this cluster", { ip, holder: h.key });
        }
      }
    }
    for (const [key, lb] of foreign) {
      if (t.ipOf(key) === undefined && !t.isUsed(lb.external_ip)) {
        t.assign(lb.external_ip, { key, sharingKey: "", tenant: "", ports: [] });
      }
    }
    for (const s of services.list()) if (relevant(s)) queue.add(serviceKey(s));
  }

  let resyncTimer: ReturnType<typeof setInterval> | undefined;
  const started = start().then(() => {
    if (signal.aborted) return;
    resyncTimer = setInterval(
      () => resync().catch((err) => log.warn("resync failed", { error: err })),
      c.resync,
    );
  });
  started.catch((err) => {
    if (!signal.aborted) log.error("fiberlb controller failed to start", { error: err });
  });
  const done = new Promise<void>((resolve) => {
    const finish = async () => {
      clearInterval(resyncTimer);
      debounced.cancel();
      await started.catch(() => {});
      await queue.shutdown();
      await reconciler?.settle();
      await Promise.all([services, slices, nodes, namespaces].map((i) => i.stopped()));
      resolve();
    };
    if (signal.aborted) finish();
    else signal.addEventListener("abort", () => void finish(), { once: true });
  });
  return {
    synced: () => started,
    stopped: () => done,
    get table() {
      return table;
    },
    get reconciler() {
      return reconciler;
    },
    resync,
    idle: () => queue.idle(),
  };
}

function nodeChanged(a: KubeObject, b: KubeObject): boolean {
  const ready = (n: KubeObject) =>
    (n.status?.conditions ?? []).find((x: { type: string }) => x.type === "Ready")?.status;
  return ready(a) !== ready(b) ||
    JSON.stringify(a.status?.addresses) !== JSON.stringify(b.status?.addresses) ||
    JSON.stringify(a.metadata.labels) !== JSON.stringify(b.metadata.labels);
}

function namespaceChanged(a: KubeObject, b: KubeObject): boolean {
  const pick = (n: KubeObject) =>
    JSON.stringify([n.metadata.labels, n.metadata.annotations?.[ANNOTATIONS.ipPool]]);
  return pick(a) !== pick(b);
}
