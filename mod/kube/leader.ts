/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: expiry is
 * judged by when this process last saw the lease record change (local clock), never by the
 * holder's clock; every write is conditional on the resourceVersion read.
 */
import type { KubeApi, KubeObject, LeaderElectionOptions, LeaderElector } from "./api.ts";
import { sleep } from "./backoff.ts";
import { isAlreadyExists, isConflict } from "./errors.ts";
import { RESOURCES } from "./resources.ts";
import { logger } from "../log/mod.ts";

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorHandle extends LeaderElector {
  /** The holder recorded in the lease when last read ("" when released or never read). */
  observedHolder(): string;
}

const log = logger("kube.leader");

/** metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export function createLeaderElector(
  api: KubeApi,
  opts: LeaderElectionOptions,
): LeaderElectorHandle {
  const leaseMs = opts.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
  const retryMs = opts.retryPeriodMs ?? 2_000;
  if (!(renewDeadlineMs < leaseMs)) {
    throw new Error("leader election: renewDeadlineMs must be shorter than leaseDurationMs");
  }
  if (!(retryMs < renewDeadlineMs)) {
    throw new Error("leader election: retryPeriodMs must be shorter than renewDeadlineMs");
  }
  const l = log.with({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  let leader = false;
  let leaderCtrl: AbortController | undefined;
  let observed: { rv?: string; holder: string; at: number } = { holder: "", at: 0 };

  function observe(lease: Lease) {
    if (lease.metadata.resourceVersion !== observed.rv) {
      observed = {
        rv: lease.metadata.resourceVersion,
        holder: lease.spec?.holderIdentity ?? "",
        at: Date.now(),
      };
    }
  }

  /** One attempt: "ok" when we hold the lease now, "held" when another live holder does. */
  async function tryAcquireOrRenew(): Promise<"ok" | "held" | "conflict"> {
    const now = new Date();
    const durationSeconds = Math.max(1, Math.ceil(leaseMs / 1000));
    const lease = await api.tryGet<Lease>(RESOURCES.leases, opts.name, opts.namespace);
    if (!lease) {
      try {
        observe(
          await api.create<Lease>(RESOURCES.leases, {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: opts.name, namespace: opts.namespace },
            spec: {
              holderIdentity: opts.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          }),
        );
        return "ok";
      } catch (e) {
        if (isAlreadyExists(e)) return "conflict";
        throw e;
      }
    }
    observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const heldFor = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder && holder !== opts.identity && observed.at + heldFor > Date.now()) return "held";
    const renewing = holder === opts.identity;
    try {
      observe(
        await api.replace<Lease>(RESOURCES.leases, {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: opts.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: renewing && spec.acquireTime ? spec.acquireTime : microTime(now),
            renewTime: microTime(now),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing || !holder ? 0 : 1),
          },
        }),
      );
      return "ok";
    } catch (e) {
      if (isConflict(e)) return "conflict";
      throw e;
    }
  }

  function stepDown(why: string) {
    if (!leader) return;
    leader = false;
    l.warn("stopped leading", { reason: why });
    leaderCtrl?.abort();
    leaderCtrl = undefined;
    try {
      opts.onStoppedLeading?.();
    } catch (e) {
      l.error("onStoppedLeading threw", { error: String(e) });
    }
  }

  const jitter = (ms: number) => ms * (1 + Math.random() * 0.2);

  async function release() {
    const wasLeader = leader;
    stepDown("released");
    if (!wasLeader) return;
    try {
      const lease = await api.tryGet<Lease>(RESOURCES.leases, opts.name, opts.namespace);
      if (lease?.spec?.holderIdentity !== opts.identity) return;
      const now = microTime(new Date());
      observe(
        await api.replace<Lease>(RESOURCES.leases, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now },
        }),
      );
      l.info("released lease");
    } catch (e) {
      l.warn("cannot release lease", { error: (e as Error).message });
    }
  }

  async function run(signal: AbortSignal) {
    while (!signal.aborted) {
      // Candidate: retry until we hold the lease.
      while (!signal.aborted) {
        try {
          if (await tryAcquireOrRenew() === "ok") break;
        } catch (e) {
          l.warn("cannot acquire lease", { error: (e as Error).message });
        }
        await sleep(jitter(retryMs), signal);
      }
      if (signal.aborted) break;
      leader = true;
      leaderCtrl = new AbortController();
      l.info("started leading");
      const leaderSignal = leaderCtrl.signal;
      Promise.resolve().then(() => opts.onStartedLeading(leaderSignal)).catch((e) =>
        l.error("onStartedLeading failed", { error: String(e) })
      );
      let lastRenew = Date.now();
      while (!signal.aborted && leader) {
        await sleep(retryMs, signal);
        if (signal.aborted || !leader) break;
        try {
          const r = await tryAcquireOrRenew();
          if (r === "ok") {
            lastRenew = Date.now();
            continue;
          }
          if (r === "held") {
            stepDown(`lease taken by ${observed.holder}`);
            break;
          }
        } catch (e) {
          l.warn("cannot renew lease", { error: (e as Error).message });
        }
        if (Date.now() - lastRenew > renewDeadlineMs) stepDown("renew deadline passed");
      }
    }
    await release();
  }

  return {
    run,
    isLeader: () => leader,
    release,
    observedHolder: () => observed.holder,
  };
}
