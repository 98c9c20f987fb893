/**
 * List + watch cache. Unlike client-node's informer it never gives up: any error leads to a
 * jittered-backoff reconnect, 410 Gone to a relist, a silent watch to a rebuilt one, and a
 * periodic relist diffs the cache so a missed event cannot persist.
 */
import type {
  Informer,
  InformerHandlers,
  InformerOptions,
  KubeApi,
  KubeObject,
  WatchEvent,
} from "./api.ts";
import { Backoff, sleep } from "./backoff.ts";
import { IndexedCache } from "./cache.ts";
import { isGone, KubeRequestError, type KubeStatus } from "./errors.ts";
import { apiVersionOf, objectKey } from "./resources.ts";
import { logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";

export interface InformerConfig extends InformerOptions {
  /** List page size (default 500). */
  pageSize?: number;
  /** Restart a watch that delivered no event or bookmark for this long (default 5 min; 0 = off). */
  stallTimeoutMs?: number;
  /** Server-side watch timeout; default a random 5–10 min so clients don't reconnect in step. */
  watchTimeoutSeconds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  metrics?: Registry;
}

/** The informer, with the members tests and wiring need beyond the contract. */
export interface InformerHandle<T extends KubeObject> extends Informer<T> {
  /** Resolves when the loop has exited after the start signal aborted. */
  stopped(): Promise<void>;
  /** The resourceVersion the next watch would start from. */
  lastResourceVersion(): string | undefined;
  /** Relists now (diffing the cache), as a resync would; resolves when the relist is applied. */
  relist(): Promise<void>;
}

const log = logger("kube.informer");

export function createInformer<T extends KubeObject>(
  api: KubeApi,
  opts: InformerConfig,
): InformerHandle<T> {
  const ref = opts.ref;
  const name = `${ref.group || "core"}/${ref.plural}`;
  const resyncMs = opts.resyncMs ?? 10 * 60_000;
  const stallMs = opts.stallTimeoutMs ?? 5 * 60_000;
  const pageSize = opts.pageSize ?? 500;
  const cache = new IndexedCache<T>();
  const handlers: InformerHandlers<T>[] = [];
  const m = opts.metrics;
  const eventsTotal = m?.counter("kube_informer_events_total", "Watch events applied");
  const relists = m?.counter("kube_informer_relists_total", "Full lists");
  const restarts = m?.counter("kube_informer_watch_restarts_total", "Watch reconnects");
  m?.gauge("kube_informer_objects", "Objects in the cache").collect(
    { resource: name },
    () => cache.size,
  );

  let rv: string | undefined;
  let synced = false;
  let resolveSynced!: () => void;
  const syncedPromise = new Promise<void>((r) => resolveSynced = r);
  let running: Promise<void> | undefined;
  let relistNow: (() => void) | undefined;
  let forceRelist = false;
  let relistWaiters: Array<() => void> = [];

  function notify(fn: (h: InformerHandlers<T>) => void) {
    for (const h of handlers) {
      try {
        fn(h);
      } catch (e) {
        log.error("handler threw", { resource: name, error: String(e) });
      }
    }
  }

  function apply(ev: WatchEvent<T>) {
    eventsTotal?.inc({ resource: name, type: ev.type });
    if (ev.type === "ERROR") {
      const st = ev.object as unknown as KubeStatus;
      throw new KubeRequestError(st.code || 500, st.reason || "Unknown", st.message || "", st);
    }
    const obj = ev.object;
    const newRv = obj?.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      if (newRv) rv = newRv;
      return;
    }
    const key = objectKey(obj);
    if (ev.type === "DELETED") {
      const old = cache.delete(key);
      if (old) notify((h) => h.delete?.(obj));
    } else {
      const old = cache.get(key);
      if (old && old.metadata.resourceVersion === newRv) {
        if (newRv) rv = newRv;
        return; // a replayed event: the cache already has this version
      }
      cache.set(obj);
      if (old) notify((h) => h.update?.(old, obj));
      else notify((h) => h.add?.(obj));
    }
    if (newRv) rv = newRv;
  }

  async function list(signal: AbortSignal) {
    relists?.inc({ resource: name });
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let listRv = "";
    const apiVersion = apiVersionOf(ref);
    do {
      let page;
      try {
        page = await api.list<T>(ref, {
          namespace: opts.namespace,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: pageSize,
          continue: cont,
        });
      } catch (e) {
        if (cont && isGone(e)) {
          // The continue token outlived its snapshot: start the list over.
          fresh.clear();
          cont = undefined;
          continue;
        }
        throw e;
      }
      if (signal.aborted) return;
      for (const item of page.items) {
        item.apiVersion ??= apiVersion;
        item.kind ??= ref.kind;
        fresh.set(objectKey(item), item);
      }
      listRv = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    for (const key of [...cache.keys()]) {
      if (!fresh.has(key)) {
        const old = cache.delete(key)!;
        notify((h) => h.delete?.(old));
      }
    }
    for (const [key, obj] of fresh) {
      const old = cache.get(key);
      if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) continue;
      cache.set(obj);
      if (old) notify((h) => h.update?.(old, obj));
      else notify((h) => h.add?.(obj));
    }
    rv = listRv;
    if (!synced) {
      synced = true;
      resolveSynced();
    }
  }

  type Outcome = "closed" | "empty" | "stalled" | "resync";

  async function watchOnce(signal: AbortSignal, resyncAt: number): Promise<Outcome> {
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    let last = Date.now();
    let reason: Outcome = "closed";
    let events = 0;
    const tick = Math.max(5, Math.min(1000, stallMs > 0 ? stallMs / 4 : 1000, resyncMs / 4));
    const timer = setInterval(() => {
      const now = Date.now();
      if (stallMs > 0 && now - last > stallMs) reason = "stalled";
      else if (now >= resyncAt || forceRelist) reason = "resync";
      else return;
      ctrl.abort();
    }, tick);
    relistNow = () => {
      forceRelist = true;
      reason = "resync";
      ctrl.abort();
    };
    const timeoutSeconds = opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    try {
      const stream = api.watch<T>(ref, {
        resourceVersion: rv!,
        allowWatchBookmarks: true,
        timeoutSeconds,
        namespace: opts.namespace,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
      }, ctrl.signal);
      for await (const ev of stream) {
        last = Date.now();
        events++;
        apply(ev);
      }
      if (ctrl.signal.aborted && !signal.aborted && reason !== "closed") return reason;
      return events ? "closed" : "empty";
    } catch (e) {
      if (ctrl.signal.aborted && !signal.aborted && reason !== "closed") return reason;
      throw e;
    } finally {
      relistNow = undefined;
      clearInterval(timer);
      signal.removeEventListener("abort", onAbort);
      if (!ctrl.signal.aborted) ctrl.abort();
    }
  }

  async function loop(signal: AbortSignal) {
    const backoff = new Backoff(opts.backoffBaseMs ?? 500, opts.backoffMaxMs ?? 30_000);
    let needList = true;
    let resyncAt = Date.now() + resyncMs;
    while (!signal.aborted) {
      try {
        if (needList || forceRelist) {
          forceRelist = false;
          // Only a list that starts after relist() was called satisfies its caller.
          const waiters = relistWaiters;
          relistWaiters = [];
          try {
            await list(signal);
          } catch (e) {
            relistWaiters.push(...waiters);
            throw e;
          }
          needList = false;
          waiters.forEach((w) => w());
          resyncAt = Date.now() + resyncMs;
          backoff.reset();
          if (signal.aborted) break;
        }
        const outcome = await watchOnce(signal, resyncAt);
        restarts?.inc({ resource: name, reason: outcome });
        if (outcome === "resync") needList = true;
        else if (outcome === "stalled") {
          log.warn("watch stalled, restarting", { resource: name, rv });
        } else if (outcome === "empty") {
          // A server that closes watches at once must not turn this into a busy loop.
          await sleep(backoff.next(), signal);
        } else backoff.reset();
      } catch (e) {
        if (signal.aborted) break;
        if (isGone(e)) {
          log.info("resourceVersion expired, relisting", { resource: name, rv });
          needList = true;
          restarts?.inc({ resource: name, reason: "gone" });
          continue;
        }
        const delay = backoff.next();
        log.warn("list/watch failed, retrying", {
          resource: name,
          error: (e as Error).message,
          delayMs: delay,
        });
        restarts?.inc({ resource: name, reason: "error" });
        await sleep(delay, signal);
      }
    }
  }

  return {
    on(h) {
      handlers.push(h);
      if (synced) { for (const o of cache.values()) h.add?.(o); }
    },
    start(signal) {
      if (running) throw new Error(`informer ${name} already started`);
      running = loop(signal).catch((e) => log.error("informer loop died", { error: String(e) }));
    },
    synced: () => syncedPromise,
    hasSynced: () => synced,
    get: (key) => cache.get(key),
    list: () => cache.values(),
    byNamespace: (ns) => cache.byNamespace(ns),
    byLabels: (sel, ns) => cache.byLabels(sel, ns),
    stopped: () => running ?? Promise.resolve(),
    lastResourceVersion: () => rv,
    relist() {
      const done = new Promise<void>((r) => relistWaiters.push(r));
      forceRelist = true;
      relistNow?.();
      return done;
    },
  };
}
