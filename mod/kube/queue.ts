/**
 * Work queue with client-go semantics: a key queued many times is handled once; a key is never
 * handled by two workers at once; a key added while being handled runs again afterwards;
 * failures back off exponentially per key.
 */
import type { WorkQueue, WorkQueueOptions } from "./api.ts";
import { logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";

export interface WorkQueueConfig extends WorkQueueOptions {
  /** Names the queue in logs and metrics. */
  name?: string;
  metrics?: Registry;
}

/** The queue, with the members tests and wiring need beyond the contract. */
export interface WorkQueueHandle extends WorkQueue {
  /** Keys being handled now. */
  processing(): number;
  /** Failures recorded for the key since it last succeeded. */
  failures(key: string): number;
  /** Resolves when nothing is queued, delayed or in flight. */
  idle(): Promise<void>;
}

const log = logger("kube.queue");

export function createWorkQueue(opts: WorkQueueConfig = {}): WorkQueueHandle {
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const baseDelay = opts.baseDelayMs ?? 5;
  const maxDelay = opts.maxDelayMs ?? 60_000;
  const name = opts.name ?? "queue";
  const ready: string[] = [];
  const queued = new Set<string>(); // in `ready`
  const inFlight = new Set<string>();
  const dirty = new Set<string>(); // re-added while in flight
  const delayed = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();
  const failureCount = new Map<string, number>();
  let handler: ((key: string) => Promise<void>) | undefined;
  let shuttingDown = false;
  const running = new Set<Promise<void>>();
  let idleWaiters: Array<() => void> = [];
  const depth = opts.metrics?.gauge("kube_workqueue_depth", "Keys waiting");
  depth?.collect({ name }, () => ready.length);
  const retries = opts.metrics?.counter("kube_workqueue_retries_total", "Rate-limited re-adds");
  const handled = opts.metrics?.counter("kube_workqueue_handled_total", "Handler calls");

  function checkIdle() {
    if (ready.length || inFlight.size || delayed.size) return;
    const w = idleWaiters;
    idleWaiters = [];
    w.forEach((f) => f());
  }

  function add(key: string) {
    if (shuttingDown) return;
    if (inFlight.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    queued.add(key);
    ready.push(key);
    pump();
  }

  function addAfter(key: string, delayMs: number) {
    if (shuttingDown) return;
    if (delayMs <= 0) return add(key);
    const at = Date.now() + delayMs;
    const existing = delayed.get(key);
    if (existing && existing.at <= at) return; // an earlier wake-up is already set
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      delayed.delete(key);
      add(key);
      checkIdle();
    }, delayMs);
    delayed.set(key, { at, timer });
  }

  function backoffFor(key: string): number {
    const n = failureCount.get(key) ?? 0;
    failureCount.set(key, n + 1);
    return Math.min(maxDelay, baseDelay * 2 ** Math.min(n, 40));
  }

  function pump() {
    if (!handler) return;
    while (!shuttingDown && inFlight.size < concurrency && ready.length) {
      const key = ready.shift()!;
      queued.delete(key);
      inFlight.add(key);
      const p = process(key);
      running.add(p);
      p.finally(() => running.delete(p));
    }
  }

  async function process(key: string) {
    handled?.inc({ name });
    let failed = false;
    try {
      await handler!(key);
    } catch (e) {
      failed = true;
      log.warn("handler failed; will retry", {
        queue: name,
        key,
        error: (e as Error)?.message ?? String(e),
        failures: (failureCount.get(key) ?? 0) + 1,
      });
    }
    inFlight.delete(key);
    if (!shuttingDown) {
      if (failed) {
        retries?.inc({ name });
        addAfter(key, backoffFor(key));
      } else failureCount.delete(key);
      if (dirty.delete(key)) add(key);
    }
    pump();
    checkIdle();
  }

  return {
    add,
    addAfter,
    addRateLimited(key) {
      addAfter(key, backoffFor(key));
    },
    forget(key) {
      failureCount.delete(key);
    },
    len: () => ready.length,
    run(h) {
      if (handler) throw new Error(`work queue ${name} already running`);
      handler = h;
      pump();
    },
    async shutdown() {
      shuttingDown = true;
      for (const d of delayed.values()) clearTimeout(d.timer);
      delayed.clear();
      ready.length = 0;
      queued.clear();
      dirty.clear();
      while (running.size) await Promise.allSettled([...running]);
      checkIdle();
    },
    processing: () => inFlight.size,
    failures: (key) => failureCount.get(key) ?? 0,
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
  };
}
