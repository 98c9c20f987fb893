/**
 * The real part catalog under the supervisor: the stand-in k3s hands out the test API server's
 * kubeconfig, the IAM webhook files exist before k3s starts, and the real webhook and tenancy
 * parts start after k3s is ready (tenancy installs its CRD into the API server). In attach mode
 * without a kubeconfig, tenancy fails with a clear message while the webhook runs.
 */
import assert from "node:assert/strict";
import { runAppliance } from "../mod/appliance/run.ts";
import { validate } from "../mod/config/schema.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import type { HealthServer } from "../mod/health/server.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { captureLogs, FAKE_K3S, pathWithDeno, readStarts, waitFor } from "./supervisor_support.ts";

function config(dir: string): Config {
  const issues: unknown[] = [];
  const c = validate(
    configSpec,
    {
      dataDir: `${dir}/data`,
      auditLog: { path: `${dir}/log/audit.log` },
      health: { listen: "127.0.0.1:0" },
      iam: { webhook: { listen: "127.0.0.1:0" } },
      k3s: { bin: FAKE_K3S, stopGrace: "5s" },
    },
    "",
    issues as never,
  ) as Config;
  assert.deepEqual(issues, []);
  return c;
}

async function readyz(h: HealthServer): Promise<{ status: number; body: string }> {
  const res = await fetch(`${h.url}/readyz?verbose`);
  return { status: res.status, body: await res.text() };
}

Deno.test("appliance + real parts: webhook and tenancy start after k3s, against the API server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-sup-real-" });
  const apiserver = await startTestApiServer();
  const logs = captureLogs();
  const stop = new AbortController();
  let health: HealthServer | undefined;
  try {
    const run = runAppliance({
      role: "server",
      config: config(dir),
      parts: ["webhook,tenancy"],
      stop: stop.signal,
      env: {
        ...Deno.env.toObject(),
        PATH: pathWithDeno(),
        FAKE_K3S_STATE_DIR: dir,
        FAKE_K3S_KUBECONFIG_FROM: apiserver.kubeconfigPath,
      },
      onHealth: (h) => health = h,
      probeIntervalMs: 50,
    });
    await waitFor("health", () => health !== undefined);
    await waitFor("ready", () => logs.records.some((l) => l.msg === "ready"), 60_000);
    assert.deepEqual(await readyz(health!), {
      status: 200,
      body: "[+]k3s ok\n[+]part/webhook ok\n[+]part/tenancy ok\nreadyz check passed\n",
    });
    const [k3s] = readStarts(dir);
    assert.deepEqual((k3s as unknown as { apiserverFiles: unknown }).apiserverFiles, {
      "authentication-token-webhook-config-file": true,
      "audit-policy-file": true,
    });
    const crds = await apiserver.api.request<{ items: { metadata: { name: string } }[] }>(
      "GET",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    );
    assert.ok(
      crds.items.some((c) => c.metadata.name.startsWith("projects.")),
      `tenancy installed its CRD (got ${crds.items.map((c) => c.metadata.name)})`,
    );
    stop.abort("SIGTERM");
    assert.equal(await run, 0);
  } finally {
    stop.abort();
    logs.restore();
    await apiserver.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attach mode + real parts: tenancy without a kubeconfig fails clearly, the webhook runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-sup-real-attach-" });
  const logs = captureLogs();
  const stop = new AbortController();
  let health: HealthServer | undefined;
  try {
    const run = runAppliance({
      role: "server",
      config: config(dir),
      noK3s: true,
      parts: ["webhook", "tenancy"],
      stop: stop.signal,
      env: {},
      onHealth: (h) => health = h,
    });
    await waitFor(
      "webhook",
      () => logs.records.some((l) => l.msg === "part webhook running"),
      60_000,
    );
    assert.deepEqual(await readyz(health!), {
      status: 503,
      body: "[+]part/webhook ok\n" +
        "[-]part/tenancy failed: part tenancy needs the Kubernetes API but there is no kubeconfig: " +
        "run with k3s, or pass --kubeconfig FILE with --no-k3s\n" +
        "readyz check failed\n",
    });
    stop.abort("SIGTERM");
    assert.equal(await run, 0);
  } finally {
    stop.abort();
    logs.restore();
    await Deno.remove(dir, { recursive: true });
  }
});
