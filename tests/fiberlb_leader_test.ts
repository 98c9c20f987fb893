/**
 * Two controller parts against one API server and one FiberLB: exactly one leads (holds the
 * Lease and writes), the other takes over when the leader stops, and across the handover no
 * address is handed out twice.
 */
import assert from "node:assert/strict";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import {
  buildFiberlbPart,
  type FiberlbPart,
  LEASE_NAME,
  LEASE_NAMESPACE,
} from "../mod/fiberlb/mod.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { getService, ingressIp, waitForIngress } from "./fiberlb_cluster.ts";
import { embedded, fiberlbConfig, lbService, waitFor } from "./fiberlb_support.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";

Deno.test("leader handover: one leader at a time, the follower takes over, no double allocation", async () => {
  const server = await startTestApiServer();
  const f = await embedded("leader", { dataPlane: false });
  const config = fiberlbConfig({
    endpoint: f.lb.target,
    externalIpPool: "192.0.2.0/27",
    endpointDebounce: "50ms",
  }, f.dir);
  const parts: FiberlbPart[] = ["node-a", "node-b"].map((nodeName) =>
    buildFiberlbPart({
      config,
      role: "server",
      log: logger(`test.${nodeName}`),
      metrics: new Registry(),
      kubeconfig: server.kubeconfigPath,
      nodeName,
    }, { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 150 })
  );
  const abort = new AbortController();
  let overlaps = 0;
  const sampler = setInterval(() => {
    if (parts.filter((p) => p.isLeader()).length > 1) overlaps++;
  }, 5);
  try {
    await Promise.all(parts.map((p) => p.start(abort.signal)));
    assert.deepEqual(parts.map((p) => p.ready()), [true, true]);
    const leader = await waitFor(
      "a leader",
      () => parts.find((p) => p.isLeader() && p.controller()),
    );
    const follower = parts.find((p) => p !== leader)!;
    for (let i = 0; i < 5; i++) {
      await server.api.create(RESOURCES.services, lbService(`first-${i}`));
    }
    for (let i = 0; i < 5; i++) await waitForIngress(server, `first-${i}`);
    assert.equal(follower.isLeader(), false);
    assert.equal(follower.controller(), undefined, "the follower runs no controller");
    const lease = await server.api.get<KubeObject>(RESOURCES.leases, LEASE_NAME, LEASE_NAMESPACE);
    const firstHolder = lease.spec.holderIdentity as string;
    assert.match(firstHolder, leader === parts[0] ? /^node-a-/ : /^node-b-/);

    // Services arrive while the leader goes away.
    const stopping = leader.stop();
    for (let i = 0; i < 5; i++) {
      await server.api.create(RESOURCES.services, lbService(`second-${i}`));
    }
    await stopping;
    await waitFor("the follower leads", () => follower.isLeader() && follower.controller());
    for (let i = 0; i < 5; i++) await waitForIngress(server, `second-${i}`);
    const after = await server.api.get<KubeObject>(RESOURCES.leases, LEASE_NAME, LEASE_NAMESPACE);
    assert.notEqual(after.spec.holderIdentity, firstHolder);

    const ips = [];
    for (const n of [0, 1, 2, 3, 4].flatMap((i) => [`first-${i}`, `second-${i}`])) {
      ips.push(ingressIp(await getService(server, n)));
    }
    assert.equal(new Set(ips).size, 10, `double allocation across the handover: ${ips}`);
    const lbs = await f.client.listAll();
    assert.equal(new Set(lbs.map((l) => l.external_ip)).size, 10);
    assert.equal(lbs.length, 10);
    assert.equal(overlaps, 0, "two parts led at once");
  } finally {
    clearInterval(sampler);
    abort.abort();
    for (const p of parts) await p.stop();
    await f.close();
    await server.close();
    await Deno.remove(f.dir, { recursive: true }).catch(() => {});
  }
});
