/**
 * The effect shell of the FiberLB controller: for one Service key, compare what desired.ts wants
 * with FiberLB and the Service, and apply the difference. Idempotent and level-triggered: every
 * call starts from the informer caches and a fresh read of the load balancer. Addresses are
 * reserved in the AllocationTable synchronously before any await, so concurrent reconciles can
 * never pick the same one; FiberLB's own uniqueness check backs that up across processes.
 */
import type { EventRecorder, KubeApi, KubeObject } from "../kube/api.ts";
import { claimWithAnnotations, patchStatus, removeFinalizer, RESOURCES } from "../kube/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { AllocationTable } from "./allocations.ts";
import { ANNOTATIONS, FINALIZER, formatAnnotationError, parseLbOptions } from "./annotations.ts";
import type { FiberlbClient, LoadBalancer } from "./client.ts";
import { AddressRefused, type ApplyContext, applyLoadBalancer } from "./apply.ts";
import {
  decideAddress,
  desiredLoadBalancer,
  hasOurRecord,
  holderFor,
  isServed,
  LABELS,
  preferredFamily,
  type Problem,
  selectPool,
  serviceKey,
  type Settings,
  tenantOf,
} from "./desired.ts";
import { type Condition, CONDITION_TYPE, withCondition } from "./plan.ts";
import type { IpPool } from "./pools.ts";

/** A reconcile that failed for a reason already reported on the Service; retried with backoff. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.reason}: ${problem.message}`);
  }
}

export interface Caches {
  service(key: string): KubeObject | undefined;
  namespace(name: string): KubeObject | undefined;
  slices(namespace: string): KubeObject[];
  nodes(): KubeObject[];
}

export interface ReconcilerDeps {
  api: KubeApi;
  client: FiberlbClient;
  events: EventRecorder;
  settings: Settings;
  pools: Map<string, IpPool>;
  table: AllocationTable;
  caches: Caches;
  log: Logger;
  /** An address was freed: Services waiting for one should be retried. */
  onRelease(keys: string[]): void;
  /** Counts calls by kind (for metrics). */
  count?(what: string): void;
}

type Known = Map<string, { org_id: string; project_id: string }>;

export class Reconciler {
  /** Services waiting for an address (exhausted pool or conflict). */
  readonly waiting = new Set<string>();
  /** FiberLB load balancers labelled with each Service key, from listings and our writes. */
  readonly known = new Map<string, Known>();
  readonly #pending = new Set<Promise<void>>();
  /** resourceVersions produced by this controller's latest writes, per key (a few). */
  readonly #ownWrites = new Map<string, string[]>();

  readonly #fiberlb: ApplyContext;

  constructor(private readonly d: ReconcilerDeps) {
    this.#fiberlb = {
      client: d.client,
      known: this.known,
      remember: (key, lb) => this.rememberLb(key, lb),
      forget: (key, id) => this.#forget(key, id),
      count: d.count,
    };
  }

  rememberLb(key: string, lb: Pick<LoadBalancer, "id" | "org_id" | "project_id">): void {
    let m = this.known.get(key);
    if (!m) this.known.set(key, m = new Map());
    m.set(lb.id, { org_id: lb.org_id, project_id: lb.project_id });
  }

  /**
   * Whether `svc` is exactly the version this controller's last write produced: its watch echo
   * needs no reconcile, since the write was the reconcile's own last step.
   */
  isOwnWrite(svc: KubeObject): boolean {
    return this.#ownWrites.get(serviceKey(svc))?.includes(svc.metadata.resourceVersion ?? "") ??
      false;
  }

  #wrote(svc: KubeObject): KubeObject {
    const key = serviceKey(svc);
    this.#ownWrites.set(key, [
      ...(this.#ownWrites.get(key) ?? []).slice(-3),
      svc.metadata.resourceVersion ?? "",
    ]);
    return svc;
  }

  async reconcile(key: string): Promise<void> {
    const svc = this.d.caches.service(key);
    if (!svc) {
      this.#ownWrites.delete(key);
      return await this.#cleanup(key, undefined);
    }
    if (!isServed(svc, this.d.settings.loadBalancerClass) || svc.metadata.deletionTimestamp) {
      if (hasOurRecord(svc) || this.d.table.ipOf(key) !== undefined || this.known.has(key)) {
        await this.#cleanup(key, svc);
      }
      return;
    }
    await this.#ensure(svc);
  }

  async #ensure(svc: KubeObject): Promise<void> {
    const key = serviceKey(svc);
    const d = this.d;
    const { options, errors } = parseLbOptions(svc);
    if (errors.length > 0) {
      return await this.#fail(svc, {
        reason: "InvalidAnnotation",
        message: errors.map(formatAnnotationError).join("; "),
      });
    }
    const ns = d.caches.namespace(svc.metadata.namespace ?? "");
    const tenant = tenantOf(ns);
    const selected = selectPool(options, ns, d.pools);
    if ("problem" in selected) return await this.#fail(svc, selected.problem);
    const holder = holderFor(svc, options, tenant);
    const decision = decideAddress(holder, options, selected.pool, d.table, preferredFamily(svc));
    if ("problem" in decision) {
      if (decision.problem.reason === "IPExhausted" || decision.problem.reason === "IPConflict") {
        this.waiting.add(key);
      }
      return await this.#fail(svc, decision.problem);
    }
    const wanted = desiredLoadBalancer(svc, options, decision.ip, tenant, d.settings, {
      slices: d.caches.slices(svc.metadata.namespace ?? ""),
      nodes: d.settings.memberMode === "node" ? d.caches.nodes() : [],
    });
    if ("problem" in wanted) return await this.#fail(svc, wanted.problem);
    // Reserve before the first await: a concurrent reconcile now sees the address as taken.
    const freed = d.table.ipOf(key);
    d.table.assign(decision.ip, holder);
    if (freed !== undefined && freed !== decision.ip && !d.table.isUsed(freed)) {
      d.onRelease([...this.waiting]);
    }
    this.waiting.delete(key);

    let lb: LoadBalancer;
    try {
      lb = await applyLoadBalancer(this.#fiberlb, key, wanted.lb);
    } catch (err) {
      if (!(err instanceof AddressRefused)) {
        return await this.#fail(svc, { reason: "FiberLBError", message: (err as Error).message });
      }
      // Held by something this controller has not listed yet: never use it, pick another.
      d.table.release(key);
      d.table.assign(decision.ip, {
        key: `fiberlb:conflict:${decision.ip}`,
        sharingKey: "",
        tenant: "",
        ports: [],
      });
      this.waiting.add(key);
      return await this.#fail(svc, { reason: "IPConflict", message: err.message });
    }
    if (decision.how !== "kept") {
      const moved = options.allocatedIp && options.allocatedIp !== decision.ip
        ? ` (its recorded ${options.allocatedIp} is held elsewhere)`
        : "";
      this.#event(
        svc,
        "Normal",
        "IPAllocated",
        `${decision.how} ${decision.ip} from pool "${selected.pool.name}"${moved}`,
      );
    }
    // The finalizer and the allocation go on the Service in one write, once FiberLB holds the
    // address. Until then a deleted Service is still cleaned up: its delete event finds the load
    // balancer by label, and the resync collects it if this controller was down.
    const claimed = await claimWithAnnotations(d.api, RESOURCES.services, svc, FINALIZER, {
      [ANNOTATIONS.allocatedIp]: decision.ip,
      [ANNOTATIONS.loadBalancerId]: lb.id,
    });
    if (claimed !== svc) svc = this.#wrote(claimed);
    const broken = lb.listeners.filter((l) => l.status === "LISTENER_ERROR");
    const ready = broken.length === 0;
    const message = ready
      ? `serving ${decision.ip} on ${
        lb.listeners.map((l) => `${l.protocol}/${l.port}`).join(", ") || "no ports"
      }`
      : broken.map((l) => l.status_message).join("; ");
    this.#wrote(
      await patchStatus(d.api, RESOURCES.services, svc, {
        loadBalancer: { ingress: [{ ip: decision.ip, ipMode: "VIP" }] },
        conditions: withCondition(
          svc,
          ready,
          ready ? "LoadBalancerReady" : "ListenerError",
          message,
          now(),
        ),
      }),
    );
    if (!ready) {
      this.#event(svc, "Warning", "ListenerError", message);
      throw new ProblemError({ reason: "FiberLBError", message });
    }
  }

  #forget(key: string, id: string): void {
    this.d.table.release(`fiberlb:${id}`);
    const m = this.known.get(key);
    m?.delete(id);
    if (m?.size === 0) this.known.delete(key);
  }

  /** Deletes the Service's load balancers, releases its address and removes our records. */
  async #cleanup(key: string, svc: KubeObject | undefined): Promise<void> {
    const d = this.d;
    const owned = await d.client.listAll({
      label_match: { [LABELS.cluster]: d.settings.clusterId, [LABELS.service]: key },
    });
    for (const lb of owned) {
      await d.client.deleteLoadBalancer({
        id: lb.id,
        org_id: lb.org_id,
        project_id: lb.project_id,
      });
      this.#forget(key, lb.id);
    }
    for (const [id, tenant] of this.known.get(key) ?? []) {
      await d.client.deleteLoadBalancer({ id, ...tenant });
      this.#forget(key, id);
    }
    this.waiting.delete(key);
    const ip = d.table.ipOf(key);
    if (ip !== undefined) {
      d.table.release(key);
      d.log.info("released external IP", { service: key, ip });
      d.onRelease([...this.waiting]);
    }
    if (!svc) return;
    if (!svc.metadata.deletionTimestamp) {
      const a = svc.metadata.annotations ?? {};
      if (a[ANNOTATIONS.allocatedIp] !== undefined || a[ANNOTATIONS.loadBalancerId] !== undefined) {
        svc = await d.api.patch<KubeObject>(RESOURCES.services, svc.metadata.name!, {
          metadata: {
            annotations: { [ANNOTATIONS.allocatedIp]: null, [ANNOTATIONS.loadBalancerId]: null },
          },
        }, { namespace: svc.metadata.namespace, type: "merge" });
      }
      const conditions = (svc.status?.conditions ?? []) as Condition[];
      const ours = conditions.some((c) => c.type === CONDITION_TYPE);
      if (ours || (svc.status?.loadBalancer?.ingress ?? []).length > 0) {
        svc = await patchStatus(d.api, RESOURCES.services, svc, {
          loadBalancer: { ingress: null },
          conditions: ours ? conditions.filter((c) => c.type !== CONDITION_TYPE) : undefined,
        });
      }
    }
    await removeFinalizer(d.api, RESOURCES.services, svc, FINALIZER);
  }

  /** Reports a problem as an Event and a False condition, then fails for a backed-off retry. */
  async #fail(svc: KubeObject, problem: Problem): Promise<never> {
    this.#event(svc, "Warning", problem.reason, problem.message);
    await patchStatus(this.d.api, RESOURCES.services, svc, {
      conditions: withCondition(svc, false, problem.reason, problem.message, now()),
    }).catch((err) =>
      this.d.log.warn("cannot write Service condition", { service: serviceKey(svc), error: err })
    );
    throw new ProblemError(problem);
  }

  /** Records an Event without holding up the reconcile; settle() waits for the stragglers. */
  #event(svc: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    const p = this.d.events.event(
      { ...svc, apiVersion: "v1", kind: "Service" },
      type,
      reason,
      message,
    )
      .catch((err) =>
        this.d.log.warn("cannot record event", { service: serviceKey(svc), reason, error: err })
      )
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Waits for Events still being written. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}
