/** Lease-based leader election: one leader, takeover after missed renewals, release on stop. */
import assert from "node:assert/strict";
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";
import { createLeaderElector, type LeaderElectorHandle } from "../mod/kube/leader.ts";
import { KubeRequestError } from "../mod/kube/errors.ts";
import { RESOURCES } from "../mod/kube/resources.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { waitFor } from "./kube_helpers.ts";

/** A KubeApi whose calls fail while `down` is set (this process lost the API server). */
function flaky(api: KubeApi) {
  const state = { down: false };
  const wrapped = new Proxy(api, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (state.down) return Promise.reject(new KubeRequestError(0, "ConnectionError", "down"));
        return v.apply(target, args);
      };
    },
  });
  return { api: wrapped, state };
}

const TIMING = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

function candidate(api: KubeApi, identity: string, log: string[]) {
  let leading: AbortSignal | undefined;
  const el = createLeaderElector(api, {
    name: "k8shost-test",
    namespace: "kube-system",
    identity,
    ...TIMING,
    onStartedLeading(signal) {
      leading = signal;
      log.push(`${identity} started`);
    },
    onStoppedLeading() {
      log.push(`${identity} stopped`);
    },
  });
  return { el, signal: () => leading };
}

function leaders(...els: LeaderElectorHandle[]) {
  return els.filter((e) => e.isLeader()).length;
}

Deno.test("leader: exactly one of several candidates leads; leadership moves when the leader stops renewing", async () => {
  const s = await startTestApiServer();
  const log: string[] = [];
  const acs = [new AbortController(), new AbortController(), new AbortController()];
  const flakies = [flaky(s.api), flaky(s.api), flaky(s.api)];
  const cands = flakies.map((f, i) => candidate(f.api, `node-${i}`, log));
  const runs = cands.map((c, i) => c.el.run(acs[i].signal));
  try {
    await waitFor(() => leaders(...cands.map((c) => c.el)) === 1, 3000, "a leader");
    let first = cands.findIndex((c) => c.el.isLeader());
    const lease = await s.api.get<KubeObject>(RESOURCES.leases, "k8shost-test", "kube-system");
    assert.equal(lease.spec.holderIdentity, `node-${first}`);
    assert.equal(lease.spec.leaseDurationSeconds, 1);
    assert.match(lease.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // Never two leaders over several renew periods.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(leaders(...cands.map((c) => c.el)) <= 1);
    }
    // (Under heavy load a renewal can miss its deadline; whoever leads now is the one to stop.)
    await waitFor(() => leaders(...cands.map((c) => c.el)) === 1, 3000, "a leader");
    first = cands.findIndex((c) => c.el.isLeader());
    flakies[first].state.down = true; // the leader can no longer reach the API server
    const lastRenew = (await s.api.get<KubeObject>(RESOURCES.leases, "k8shost-test", "kube-system"))
      .spec.renewTime;
    await waitFor(() => !cands[first].el.isLeader(), 2000, "the old leader to step down");
    assert.ok(cands[first].signal()!.aborted, "the leading signal aborted");
    assert.ok(log.includes(`node-${first} stopped`));
    await waitFor(() => leaders(...cands.map((c) => c.el)) === 1, 3000, "a new leader");
    const second = cands.findIndex((c) => c.el.isLeader());
    assert.notEqual(second, first);
    const after = await s.api.get<KubeObject>(RESOURCES.leases, "k8shost-test", "kube-system");
    assert.equal(after.spec.holderIdentity, `node-${second}`);
    assert.equal(after.spec.leaseTransitions, 1);
    // No split brain: the lease was taken only after it had gone unrenewed for its duration.
    const ms = (t: string) => Date.parse(t.replace(/(\.\d{3})\d*Z$/, "$1Z"));
    const gap = ms(after.spec.acquireTime) - ms(lastRenew);
    assert.ok(gap >= TIMING.leaseDurationMs - 5, `taken over ${gap} ms after the last renewal`);
    // The old leader comes back as a follower, not a second leader.
    flakies[first].state.down = false;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!cands[first].el.isLeader(), "the old leader came back as a follower");
    assert.ok(leaders(...cands.map((c) => c.el)) <= 1);
  } finally {
    acs.forEach((a) => a.abort());
    await Promise.all(runs);
    await s.close();
  }
});

Deno.test("leader: stopping releases the lease so a standby takes over without waiting for expiry", async () => {
  const s = await startTestApiServer();
  const log: string[] = [];
  const a = candidate(s.api, "a", log), b = candidate(s.api, "b", log);
  const acA = new AbortController(), acB = new AbortController();
  const runA = a.el.run(acA.signal);
  await waitFor(() => a.el.isLeader(), 2000, "a to lead");
  const runB = b.el.run(acB.signal);
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!b.el.isLeader());
    const t0 = Date.now();
    acA.abort();
    await runA;
    const lease = await s.api.get<KubeObject>(RESOURCES.leases, "k8shost-test", "kube-system");
    assert.equal(lease.spec.holderIdentity, "", "released on shutdown");
    await waitFor(() => b.el.isLeader(), 2000, "b to lead");
    assert.ok(Date.now() - t0 < TIMING.leaseDurationMs, "no wait for the old lease to expire");
    assert.deepEqual(log, ["a started", "a stopped", "b started"]);
  } finally {
    acA.abort();
    acB.abort();
    await runB;
    await s.close();
  }
});

Deno.test("leader: rejects timing where the renew deadline outlasts the lease", () => {
  assert.throws(() =>
    createLeaderElector({} as KubeApi, {
      name: "x",
      namespace: "y",
      identity: "z",
      leaseDurationMs: 1000,
      renewDeadlineMs: 1000,
      onStartedLeading() {},
    })
  );
});
