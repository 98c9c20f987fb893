import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { type HealthCheck, parseListen, startHealthServer } from "./server.ts";

Deno.test("health: /healthz, /readyz (plain and verbose) and /metrics over real HTTP", async () => {
  const metrics = new Registry();
  metrics.counter("k8shost_k3s_restarts_total", "restarts").inc({}, 2);
  let lbReady: true | string = "starting";
  let live: true | string = true;
  const checks: HealthCheck[] = [
    { name: "k3s", ready: () => true },
    { name: "part/webhook", ready: () => true },
    { name: "part/lb", ready: () => lbReady },
  ];
  const srv = await startHealthServer({
    listen: "127.0.0.1:0",
    checks: () => checks,
    live: () => live,
    metrics,
  });
  try {
    assert.ok(srv.port > 0);
    const get = async (path: string) => {
      const res = await fetch(`${srv.url}${path}`);
      return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
    };
    assert.deepEqual(await get("/healthz"), {
      status: 200,
      body: "ok\n",
      type: "text/plain; charset=utf-8",
    });

    const notReady = await get("/readyz");
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body, "[-]part/lb failed: starting\nreadyz check failed\n");
    const verbose = await get("/readyz?verbose");
    assert.equal(verbose.status, 503);
    assert.equal(
      verbose.body,
      "[+]k3s ok\n[+]part/webhook ok\n[-]part/lb failed: starting\nreadyz check failed\n",
    );

    lbReady = true;
    assert.equal((await get("/readyz")).body, "ok\n");
    const ok = await get("/readyz?verbose");
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "[+]k3s ok\n[+]part/webhook ok\n[+]part/lb ok\nreadyz check passed\n");

    const m = await get("/metrics");
    assert.equal(m.status, 200);
    assert.equal(m.type, "text/plain; version=0.0.4; charset=utf-8");
    assert.match(m.body, /^# TYPE k8shost_k3s_restarts_total counter$/m);
    assert.match(m.body, /^k8shost_k3s_restarts_total 2$/m);
    assert.match(m.body, /^k8shost_uptime_seconds \d+(\.\d+)?$/m);

    live = "k3s crash loop";
    assert.deepEqual((await get("/healthz")).status, 503);
    assert.equal((await get("/nope")).status, 404);
    const post = await fetch(`${srv.url}/readyz`, { method: "POST" });
    await post.body?.cancel();
    assert.equal(post.status, 405);
  } finally {
    await srv.close();
  }
});

Deno.test("health: a check that throws is reported, not fatal", async () => {
  const srv = await startHealthServer({
    listen: "127.0.0.1:0",
    checks: () => [{
      name: "bad",
      ready: () => {
        throw new Error("boom");
      },
    }],
    metrics: new Registry(),
  });
  try {
    const res = await fetch(`${srv.url}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "[-]bad failed: check failed: boom\nreadyz check failed\n");
  } finally {
    await srv.close();
  }
});

Deno.test("health: listen addresses", () => {
  assert.deepEqual(parseListen("127.0.0.1:10258"), { hostname: "127.0.0.1", port: 10258 });
  assert.deepEqual(parseListen("[::1]:0"), { hostname: "::1", port: 0 });
  assert.deepEqual(parseListen("localhost:80"), { hostname: "localhost", port: 80 });
  assert.throws(() => parseListen("10258"), /health\.listen: "10258" is not host:port/);
  assert.throws(() => parseListen("a:70000"), /not host:port/);
});
