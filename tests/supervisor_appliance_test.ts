/**
 * The whole appliance run (health endpoint, k3s supervision, parts, systemd notification) with
 * the stand-in k3s and test parts: readiness gating, reverse-order shutdown, READY=1/STOPPING=1
 * on a real NOTIFY_SOCKET, attach mode, a failing part, and a k3s crash loop.
 */
import assert from "node:assert/strict";
import type { PartContext } from "../mod/appliance/context.ts";
import type { PartSpec } from "../mod/appliance/parts.ts";
import { nodeNameOf, runAppliance } from "../mod/appliance/run.ts";
import type { Config } from "../mod/config/spec.ts";
import { groupMembers } from "../mod/k3s/process.ts";
import { probeReadyz } from "../mod/k3s/readiness.ts";
import { alive, FAKE_K3S, readStarts, waitFor } from "./supervisor_support.ts";
import { applianceConfig, fakeK3sEnv, getHealth, withApplianceTest } from "./support/appliance.ts";

interface Event {
  what: string;
  part: string;
  k3sReady?: true | string;
  k3sAlive?: boolean;
}

function testPart(
  name: string,
  events: Event[],
  o: { needsApi?: boolean; scope?: "server" | "node"; fail?: string } = {},
): PartSpec {
  return {
    name,
    scope: o.scope ?? "server",
    needsApi: o.needsApi ?? false,
    enabled: () => true,
    enableKey: `${name}.enable`,
    summary: `test part ${name}`,
    module: "tests/supervisor_appliance_test.ts",
    load: () =>
      Promise.resolve((ctx: PartContext) => {
        let running = false;
        const k3sPid = () => readStarts(ctx.config.dataDir + "/..").at(-1)?.pid;
        return {
          name,
          async start() {
            const k3sReady = ctx.kubeconfig ? await probeReadyz(ctx.kubeconfig) : "no kubeconfig";
            events.push({ what: "start", part: name, k3sReady });
            if (o.fail) throw new Error(o.fail);
            running = true;
          },
          stop() {
            const pid = k3sPid();
            events.push({ what: "stop", part: name, k3sAlive: pid ? alive(pid) : undefined });
            running = false;
            return Promise.resolve();
          },
          ready: () => running ? true : "not running",
        };
      }),
  };
}

/** IAM off and the stand-in k3s with short timings, `raw` on top. */
function config(dir: string, raw: Record<string, unknown> = {}): Config {
  return applianceConfig(dir, {
    iam: { enable: false },
    k3s: {
      bin: FAKE_K3S,
      stopGrace: "5s",
      readyTimeout: "30s",
      restartBackoff: "100ms",
      restartBackoffMax: "1s",
    },
    ...raw,
  });
}

Deno.test("appliance: parts start after k3s is ready, READY=1 follows, stop runs in reverse", () =>
  withApplianceTest("kh-sup-app-", async (t) => {
    const { dir, logs } = t;
    const rx = await t.notifyReceiver();
    const events: Event[] = [];
    const run = runAppliance({
      role: "server",
      config: config(dir),
      catalog: [
        testPart("a", events),
        testPart("b", events, { needsApi: true }),
        testPart("n", events, { scope: "node" }),
      ],
      stop: t.stop.signal,
      env: fakeK3sEnv(dir, {
        NOTIFY_SOCKET: `${dir}/notify.sock`,
        FAKE_K3S_READY_AFTER_MS: "500",
        FAKE_K3S_GRANDCHILD: "1",
      }),
      onHealth: t.onHealth,
      statusIntervalMs: 100,
      probeIntervalMs: 50,
    });
    let ready: string | undefined;
    while (!ready) {
      const msg = await rx.next(20_000);
      if (msg.startsWith("READY=1")) ready = msg;
      else assert.match(msg, /^STATUS=/);
    }
    assert.equal(ready, "READY=1\nSTATUS=running: 3 parts ready");
    // Gating: every part started only once k3s answered /readyz with its kubeconfig.
    assert.deepEqual(events.map((e) => [e.what, e.part, e.k3sReady]), [
      ["start", "a", true],
      ["start", "b", true],
      ["start", "n", true],
    ]);
    const [k3s] = readStarts(dir);
    assert.ok(k3s.argv.includes(`--write-kubeconfig=${dir}/data/kubeconfig.yaml`));
    assert.equal(k3s.notifySocket, null);
    assert.deepEqual(await getHealth(t.health!, "/readyz?verbose"), {
      status: 200,
      body: "[+]k3s ok\n[+]part/a ok\n[+]part/b ok\n[+]part/n ok\nreadyz check passed\n",
    });
    const metrics = (await getHealth(t.health!, "/metrics")).body;
    assert.match(metrics, /^k8shost_part_state\{part="b",state="running"\} 1$/m);
    assert.match(metrics, /^k8shost_k3s_ready 1$/m);
    assert.match(metrics, /^k8shost_k3s_restarts_total 0$/m);

    t.stop.abort("SIGTERM");
    assert.equal(await run, 0);
    // Reverse order, and k3s still up while the parts stop (they may need the API to clean up).
    assert.deepEqual(events.slice(3).map((e) => [e.what, e.part, e.k3sAlive]), [
      ["stop", "n", true],
      ["stop", "b", true],
      ["stop", "a", true],
    ]);
    assert.equal(alive(k3s.pid), false);
    assert.equal(alive(k3s.grandchild!), false);
    assert.deepEqual(groupMembers(k3s.pid), []);
    assert.ok(
      logs.records.some((l) =>
        l.msg === "Received SIGTERM, shutting down" && l.component === "k3s"
      ),
    );
    let last = "";
    while (!last.startsWith("STOPPING=1")) last = await rx.next();
    assert.equal(last, "STOPPING=1\nSTATUS=stopping");
    await assert.rejects(fetch(`${t.health!.url}/healthz`), "health endpoint closed");
  }));

Deno.test("appliance: attach mode without kubeconfig runs what it can; failures show on /readyz", () =>
  withApplianceTest("kh-sup-attach-", async (t) => {
    const { dir, logs } = t;
    const rx = await t.notifyReceiver();
    const events: Event[] = [];
    const run = runAppliance({
      role: "server",
      config: config(dir),
      noK3s: true,
      catalog: [
        testPart("a", events),
        testPart("api", events, { needsApi: true }),
        testPart("bad", events, { fail: "backend unreachable" }),
      ],
      stop: t.stop.signal,
      env: { NOTIFY_SOCKET: `${dir}/notify.sock`, FAKE_K3S_STATE_DIR: dir },
      onHealth: t.onHealth,
      statusIntervalMs: 50,
    });
    await waitFor("health", () => t.health !== undefined);
    await waitFor("parts", () => events.length === 2);
    const r = await getHealth(t.health!, "/readyz?verbose");
    assert.equal(r.status, 503);
    assert.equal(
      r.body,
      "[+]part/a ok\n" +
        "[-]part/api failed: part api needs the Kubernetes API but there is no kubeconfig: " +
        "run with k3s, or pass --kubeconfig FILE with --no-k3s\n" +
        "[-]part/bad failed: backend unreachable\n" +
        "readyz check failed\n",
    );
    assert.deepEqual(events.map((e) => [e.what, e.part, e.k3sReady]), [
      ["start", "a", "no kubeconfig"],
      ["start", "bad", "no kubeconfig"],
    ]);
    assert.deepEqual(readStarts(dir), [], "no k3s in attach mode");
    const status = await rx.next();
    assert.match(status, /^STATUS=/);
    t.stop.abort("SIGINT");
    assert.equal(await run, 0);
    assert.equal(rx.received.some((m) => m.startsWith("READY=1")), false, "never ready");
    assert.ok(logs.records.some((l) => l.msg === "part api failed" && l.retry === false));
  }));

Deno.test("appliance: attach mode with --kubeconfig gives it to the parts", () =>
  withApplianceTest("kh-sup-attach-kc-", async (t) => {
    const { dir } = t;
    const events: Event[] = [];
    await Deno.writeTextFile(`${dir}/kc.yaml`, "apiVersion: v1\nkind: Config\n");
    const run = runAppliance({
      role: "agent",
      config: config(dir, {
        mode: "agent",
        serverUrl: "https://k8s.example:6443",
        tokenFile: `${dir}/kc.yaml`,
      }),
      noK3s: true,
      kubeconfig: `${dir}/kc.yaml`,
      catalog: [testPart("n", events, { scope: "node", needsApi: true })],
      stop: t.stop.signal,
      env: {},
    });
    await waitFor("part start", () => events.length === 1);
    assert.equal(events[0].part, "n");
    assert.match(String(events[0].k3sReady), /kc\.yaml/, "the part saw the attach kubeconfig");
    t.stop.abort("SIGTERM");
    assert.equal(await run, 0);
  }));

Deno.test("appliance: a k3s crash loop stops the parts and exits 1", () =>
  withApplianceTest("kh-sup-loop-", async (t) => {
    const { dir, logs } = t;
    const events: Event[] = [];
    const code = await runAppliance({
      role: "server",
      config: config(dir, {
        k3s: {
          bin: FAKE_K3S,
          restartBackoff: "50ms",
          restartBackoffMax: "100ms",
          crashLoopLimit: 3,
        },
      }),
      catalog: [testPart("a", events)],
      stop: t.stop.signal,
      env: fakeK3sEnv(dir, { FAKE_K3S_READY_AFTER_MS: "50", FAKE_K3S_CRASH_AFTER_MS: "600" }),
      probeIntervalMs: 50,
    });
    assert.equal(code, 1);
    assert.equal(readStarts(dir).length, 3);
    assert.deepEqual(events.map((e) => `${e.what}:${e.part}`), ["start:a", "stop:a"]);
    assert.ok(
      logs.records.some((l) =>
        String(l.msg).startsWith("stopping: k3s crashed 3 times within 600s")
      ),
    );
  }));

Deno.test("appliance: a missing k3s executable fails with the fix, before any part starts", () =>
  withApplianceTest("kh-sup-nobin-", async (t) => {
    const events: Event[] = [];
    const code = await runAppliance({
      role: "server",
      config: config(t.dir, { k3s: { bin: "kh-sup-missing-k3s" } }),
      catalog: [testPart("a", events)],
      stop: t.stop.signal,
      env: { PATH: "/nonexistent" },
    });
    assert.equal(code, 1);
    assert.deepEqual(events, []);
    const err = t.logs.records.find((l) => l.level === "error")!;
    assert.match(
      String(err.msg),
      /k3s executable "kh-sup-missing-k3s" not found on PATH \(\/nonexistent\)/,
    );
    assert.match(String(err.msg), /--k3s-bin/);
  }));

Deno.test("appliance: an agent waits for k3s agent's kubelet kubeconfig and hands it to node parts", () =>
  withApplianceTest("kh-sup-agent-", async (t) => {
    const { dir, logs } = t;
    const events: Event[] = [];
    let seen: string | undefined;
    await Deno.writeTextFile(`${dir}/token`, "K10secret::server:abc\n");
    const node = testPart("n", events, { scope: "node" });
    const catalog: PartSpec[] = [{
      ...node,
      load: async () => {
        const f = await node.load();
        return (ctx) => {
          seen = ctx.kubeconfig;
          return f(ctx);
        };
      },
    }];
    const run = runAppliance({
      role: "agent",
      config: config(dir, {
        mode: "agent",
        serverUrl: "https://k8s-api.internal:6443",
        tokenFile: `${dir}/token`,
      }),
      catalog,
      stop: t.stop.signal,
      env: fakeK3sEnv(dir),
      probeIntervalMs: 50,
    });
    await waitFor("node part start", () => events.length === 1, 20_000);
    assert.equal(seen, `${dir}/data/k3s/agent/kubelet.kubeconfig`);
    assert.equal(events[0].k3sReady, true);
    assert.deepEqual(readStarts(dir)[0].argv, [
      "agent",
      `--data-dir=${dir}/data/k3s`,
      `--node-name=${nodeNameOf(config(dir))}`,
      "--server=https://k8s-api.internal:6443",
      `--token-file=${dir}/token`,
      "--kubelet-arg=root-dir=/var/lib/kubelet",
    ]);
    assert.equal(
      logs.records.some((l) => JSON.stringify(l).includes("K10secret")),
      false,
      "token never logged",
    );
    t.stop.abort("SIGTERM");
    assert.equal(await run, 0);
  }));
