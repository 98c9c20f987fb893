/**
 * The real part catalog under the supervisor: the stand-in k3s hands out the test API server's
 * kubeconfig, the IAM webhook files exist before k3s starts, and the real webhook and tenancy
 * parts start after k3s is ready (tenancy installs its CRD into the API server). In attach mode
 * without a kubeconfig, tenancy fails with a clear message while the webhook runs.
 */
import assert from "node:assert/strict";
import { runAppliance } from "../mod/appliance/run.ts";
import type { Config } from "../mod/config/spec.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { FAKE_K3S, readStarts, waitFor } from "./supervisor_support.ts";
import { applianceConfig, fakeK3sEnv, getHealth, withApplianceTest } from "./support/appliance.ts";

/** The IAM webhook on an ephemeral port and the stand-in k3s. */
function config(dir: string): Config {
  return applianceConfig(dir, {
    iam: { webhook: { listen: "127.0.0.1:0" } },
    k3s: { bin: FAKE_K3S, stopGrace: "5s" },
  });
}

Deno.test("appliance + real parts: webhook and tenancy start after k3s, against the API server", () =>
  withApplianceTest("kh-sup-real-", async (t) => {
    const { dir, logs } = t;
    const apiserver = await startTestApiServer();
    t.defer(() => apiserver.close());
    const run = runAppliance({
      role: "server",
      config: config(dir),
      parts: ["webhook,tenancy"],
      stop: t.stop.signal,
      env: fakeK3sEnv(dir, { FAKE_K3S_KUBECONFIG_FROM: apiserver.kubeconfigPath }),
      onHealth: t.onHealth,
      probeIntervalMs: 50,
    });
    await waitFor("health", () => t.health !== undefined);
    await waitFor("ready", () => logs.records.some((l) => l.msg === "ready"), 60_000);
    assert.deepEqual(await getHealth(t.health!, "/readyz?verbose"), {
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
    t.stop.abort("SIGTERM");
    assert.equal(await run, 0);
  }));

Deno.test("attach mode + real parts: tenancy without a kubeconfig fails clearly, the webhook runs", () =>
  withApplianceTest("kh-sup-real-attach-", async (t) => {
    const run = runAppliance({
      role: "server",
      config: config(t.dir),
      noK3s: true,
      parts: ["webhook", "tenancy"],
      stop: t.stop.signal,
      env: {},
      onHealth: t.onHealth,
    });
    await waitFor(
      "webhook",
      () => t.logs.records.some((l) => l.msg === "part webhook running"),
      60_000,
    );
    assert.deepEqual(await getHealth(t.health!, "/readyz?verbose"), {
      status: 503,
      body: "[+]part/webhook ok\n" +
        "[-]part/tenancy failed: part tenancy needs the Kubernetes API but there is no kubeconfig: " +
        "run with k3s, or pass --kubeconfig FILE with --no-k3s\n" +
        "readyz check failed\n",
    });
    t.stop.abort("SIGTERM");
    assert.equal(await run, 0);
  }));
