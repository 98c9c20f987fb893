/**
 * The appliance part as the server runs it: no fiberlb.endpoint, so the part starts the
 * embedded FiberLB (in a thread of its own) in the data dir, elects itself leader and serves a
 * Service end to end; after
 * a restart of the part the state is back from disk and the Service keeps its address.
 */
import assert from "node:assert/strict";
import { RESOURCES } from "../mod/kube/mod.ts";
import { createFiberlbPart } from "../mod/fiberlb/mod.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import type { Part } from "../mod/part/mod.ts";
import { getService, ingressIp, waitForIngress } from "./fiberlb_cluster.ts";
import {
  endpointSlice,
  fiberlbConfig,
  lbService,
  loopbackNet,
  nameServer,
  tempDir,
  waitFor,
  whoAnswers,
} from "./fiberlb_support.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";

Deno.test("part: embedded FiberLB in the data dir, leader election, state across restarts", async () => {
  const server = await startTestApiServer();
  const dir = await tempDir("part");
  const vips = loopbackNet();
  const backend = nameServer("pod", "127.0.0.1");
  const config = fiberlbConfig({ externalIpPool: vips.cidr, endpointDebounce: "20ms" }, dir);
  const ctx = {
    config,
    role: "server" as const,
    log: logger("test.part"),
    metrics: new Registry(),
    kubeconfig: server.kubeconfigPath,
    nodeName: "host-1",
  };
  let part: Part | undefined;
  const abort = new AbortController();
  try {
    part = await createFiberlbPart(ctx);
    assert.equal(part.name, "lb");
    await part.start(abort.signal);
    assert.equal(part.ready(), true);
    await server.api.create(
      RESOURCES.services,
      lbService("web", { ports: [{ name: "http", port: 80, targetPort: backend.port }] }),
    );
    await server.api.create(
      RESOURCES.endpointSlices,
      endpointSlice("web", ["127.0.0.1"], { port: backend.port }),
    );
    const ip = await waitForIngress(server, "web");
    assert.equal(await waitFor("traffic", () => whoAnswers(ip, 80)), "pod");
    const sock = `${dir}/fiberlb/fiberlb.sock`;
    assert.ok(Deno.statSync(sock).isSocket);
    assert.match(await Deno.readTextFile(`${dir}/fiberlb/journal.log`), new RegExp(`"${ip}"`));
    assert.match(ctx.metrics.render(), /fiberlb_reconcile_total\{result="ok"\} \d+/);
    // The embedded FiberLB runs in its own thread; its metrics reach this registry.
    await waitFor(
      "embedded metrics",
      () =>
        /fiberlb_embedded_load_balancers 1\n/.test(ctx.metrics.render()) &&
        /fiberlb_embedded_calls_total\{method="CreateLoadBalancer"\} 1\n/.test(
          ctx.metrics.render(),
        ),
    );
    await part.stop();
    part = undefined;

    // Down: nothing listens. Up again: the same address, from the state on disk.
    await assert.rejects(() => Deno.connect({ hostname: ip, port: 80 }));
    await server.api.create(RESOURCES.services, lbService("second"));
    part = await createFiberlbPart(ctx);
    await part.start(abort.signal);
    assert.equal(await waitFor("traffic after restart", () => whoAnswers(ip, 80)), "pod");
    assert.equal(ingressIp(await getService(server, "web")), ip);
    const second = await waitForIngress(server, "second");
    assert.notEqual(second, ip);

    const idle = await createFiberlbPart({ ...ctx, role: "agent" });
    await idle.start(abort.signal);
    assert.equal(idle.ready(), true, "agents run no FiberLB controller");
    await idle.stop();
  } finally {
    abort.abort();
    await part?.stop();
    await backend.close();
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("part: invalid pools fail the start with the offending entries", async () => {
  const dir = await tempDir("part-bad");
  try {
    const config = fiberlbConfig(
      { externalIpPool: "192.0.2.0/24", pools: ["dup=192.0.2.128/25"] },
      dir,
    );
    const part = await createFiberlbPart({
      config,
      role: "server",
      log: logger("test.part"),
      metrics: new Registry(),
      kubeconfig: `${dir}/kubeconfig`,
      nodeName: "h",
    });
    await assert.rejects(
      () => part.start(new AbortController().signal),
      /invalid IP pools: pool "default" range 192\.0\.2\.0\/24 overlaps pool "dup"/,
    );
    await part.stop();
    const noKube = await createFiberlbPart({
      config,
      role: "server",
      log: logger("t"),
      metrics: new Registry(),
      nodeName: "h",
    });
    await assert.rejects(() => noKube.start(new AbortController().signal), /no kubeconfig/);

    // The embedded FiberLB's thread fails to start: the part's start fails with its reason.
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busy = await createFiberlbPart({
      config: fiberlbConfig({
        externalIpPool: "192.0.2.0/24",
        grpcListen: `127.0.0.1:${taken.addr.port}`,
      }, dir),
      role: "server",
      log: logger("test.part"),
      metrics: new Registry(),
      kubeconfig: `${dir}/kubeconfig`,
      nodeName: "h",
    });
    try {
      await assert.rejects(() => busy.start(new AbortController().signal), /address.*in use/i);
      await busy.stop();
    } finally {
      taken.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
