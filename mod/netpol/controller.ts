/**
 * The NetworkPolicy controller loop: informers on Pods, Namespaces and NetworkPolicies and a
 * monitor of the NB (port groups, ACLs, address sets, logical switch ports) all feed one
 * de-duplicated queue key, so a burst of changes becomes one pass: compute the desired rows
 * from the caches, diff against the NB cache, apply in as few transactions as possible.
 * Passes also run periodically and after every NB reconnect; a pass repairs whatever drifted.
 */
import type { EventRecorder, Informer, KubeApi, KubeObject } from "../kube/api.ts";
import { createInformer, createWorkQueue, RESOURCES } from "../kube/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { OvsdbSession, RowChange } from "../ovsdb/mod.ts";
import { asMap } from "../ovsdb/mod.ts";
import { desiredState } from "./desired.ts";
import { namespaceInfos, podInfos } from "./inputs.ts";
import { OWNER, OWNER_KEY } from "./names.ts";
import { podPorts, reconcileNb } from "./reconcile.ts";
import { staleSwitches } from "./switches.ts";
import { OvnTopology } from "../ovn/topology.ts";
import type { NetworkPolicy } from "./types.ts";

export interface NetpolControllerOptions {
  api: KubeApi;
  /** NB session created with `cache: NETPOL_TABLES`. */
  nb: OvsdbSession;
  log: Logger;
  metrics?: Registry;
  /** Full pass period (a pass also follows every change). */
  resyncMs: number;
  events?: EventRecorder;
}

export interface NetpolStats {
  passes: number;
  /** NB transactions written (a pass with nothing to change writes none). */
  transactions: number;
  lastPassMs: number;
  /** Of which waiting for the NB to commit. */
  lastWriteMs: number;
}

export interface NetpolController {
  /** Resolves once the informers have synced and the first pass is applied. */
  synced(): Promise<void>;
  /** Resolves when no pass is queued or running. */
  idle(): Promise<void>;
  /** Queues a full pass now. */
  resync(): void;
  stopped(): Promise<void>;
  readonly stats: NetpolStats;
}

const SYNC = "sync";
const LSP = "Logical_Switch_Port";

const podRelevant = (p: KubeObject) =>
  JSON.stringify([
    p.metadata.labels,
    p.status?.podIPs,
    p.status?.podIP,
    p.status?.phase,
    p.spec?.containers?.map((c: { ports?: unknown }) => c.ports),
  ]);

export function runNetpolController(
  o: NetpolControllerOptions,
  signal: AbortSignal,
): NetpolController {
  const pods = createInformer<KubeObject>(o.api, { ref: RESOURCES.pods, metrics: o.metrics });
  const namespaces = createInformer<KubeObject>(o.api, {
    ref: RESOURCES.namespaces,
    metrics: o.metrics,
  });
  const policies = createInformer<NetworkPolicy>(o.api, {
    ref: RESOURCES.networkPolicies,
    metrics: o.metrics,
  });
  const queue = createWorkQueue({
    name: "netpol",
    concurrency: 1,
    baseDelayMs: 200,
    maxDelayMs: 30_000,
    metrics: o.metrics,
  });
  const stats: NetpolStats = { passes: 0, transactions: 0, lastPassMs: 0, lastWriteMs: 0 };
  const passes = o.metrics?.counter("netpol_passes_total", "NetworkPolicy reconcile passes");
  const txns = o.metrics?.counter("netpol_ovsdb_transactions_total", "NB transactions written");
  const reported = new Map<string, string>();
  const topology = new OvnTopology(o.nb);
  let primed = false;
  let applying = 0;

  const trigger = () => {
    if (primed && !signal.aborted) queue.add(SYNC);
  };
  const on = <T extends KubeObject>(inf: Informer<T>, relevant: (x: T) => string) =>
    inf.on({
      add: trigger,
      delete: trigger,
      update: (a, b) => relevant(a) !== relevant(b) && trigger(),
    });
  on(pods, podRelevant);
  on(namespaces, (n) => JSON.stringify(n.metadata.labels ?? {}));
  on(policies, (p) => JSON.stringify(p.spec));

  const nbChanged = (changes: RowChange[]) => {
    // Our own writes echo back while a transaction is in flight; only other writers' edits
    // (and every logical switch port change, the CNI's doing) need a pass.
    const ownedTouched = (r?: Record<string, unknown>) =>
      asMap(r?.external_ids)[OWNER_KEY] === OWNER;
    if (
      changes.some((c) =>
        c.table === LSP || (applying === 0 && (ownedTouched(c.old) || ownedTouched(c.new)))
      )
    ) trigger();
  };
  o.nb.onConnect((conn) => {
    conn.cache?.onChange(nbChanged);
    // A lost connection means lost updates: the next pass reconnects and repairs.
    conn.client.closed.then(() => signal.aborted || queue.addRateLimited(SYNC));
    trigger();
  });

  queue.run(async () => {
    const t0 = performance.now();
    const conn = await o.nb.get();
    if (!conn.cache) throw new Error("netpol: NB session has no cache");
    const desired = desiredState({
      policies: policies.list(),
      pods: podInfos(pods.list(), podPorts(conn.cache)),
      namespaces: namespaceInfos(namespaces.list()),
    });
    let writeStart = 0;
    stats.lastWriteMs = 0;
    const res = await reconcileNb(conn.cache, desired, {
      before: () => {
        applying++;
        writeStart = performance.now();
      },
      after: () => {
        applying--;
        stats.lastWriteMs += performance.now() - writeStart;
      },
    });
    stats.passes++;
    stats.transactions += res.transactions;
    stats.lastPassMs = performance.now() - t0;
    passes?.inc({});
    txns?.inc({}, res.transactions);
    if (res.transactions) {
      o.log.debug("netpol pass applied", {
        transactions: res.transactions,
        ...res.plan.counts,
        ms: Math.round(stats.lastPassMs),
      });
    }
    await report(desired.problems);
    const names = new Set(namespaces.list().map((n) => n.metadata.name ?? ""));
    for (
      const ns of staleSwitches(conn.cache.rows("Logical_Switch"), conn.cache.rows(LSP), names)
    ) {
      o.log.info("removing the switch of a deleted namespace", { namespace: ns });
      await topology.removeNamespaceSwitch(ns);
    }
  });

  async function report(problems: Array<{ policy: string; message: string }>) {
    const now = new Map<string, string>();
    for (const p of problems) {
      now.set(p.policy, [now.get(p.policy), p.message].filter(Boolean).join("; "));
    }
    for (const [key, message] of now) {
      if (reported.get(key) === message) continue;
      o.log.warn("NetworkPolicy not fully translated", { policy: key, problem: message });
      const obj = policies.get(key);
      if (obj && o.events) {
        await o.events.event(obj, "Warning", "PolicyNotTranslated", message).catch(() => {});
      }
    }
    reported.clear();
    for (const [k, v] of now) reported.set(k, v);
  }

  for (const inf of [pods, namespaces, policies]) inf.start(signal);
  const timer = setInterval(trigger, o.resyncMs);
  const done = new Promise<void>((resolve) => {
    const stop = async () => {
      clearInterval(timer);
      await queue.shutdown();
      await Promise.all([pods.stopped(), namespaces.stopped(), policies.stopped()]);
      resolve();
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
  const ready = (async () => {
    await Promise.all([pods.synced(), namespaces.synced(), policies.synced()]);
    primed = true;
    trigger();
    await queue.idle();
  })();

  return {
    synced: () => ready,
    idle: () => queue.idle(),
    resync: trigger,
    stopped: () => done,
    stats,
  };
}
