/**
 * The appliance parts: the node part registers itself with kubelet through plugins_registry
 * (this test plays kubelet), and the controller part brings up the embedded LightningStor, the
 * controller socket and, as leader, the provisioner against the test API server.
 */
import assert from "node:assert/strict";
import { call, makeClient, serviceClient } from "../mod/grpc/mod.ts";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import type { PartContext } from "../mod/appliance/context.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { type KubeObject, RESOURCES } from "../mod/kube/mod.ts";
import { startEmbeddedLightningstor } from "../mod/lightningstor/mod.ts";
import { createCsiControllerPart, createCsiNodePart } from "../csi/mod.ts";
import { startTestApiServer } from "./support/apiserver/mod.ts";
import { cleanupUnder, DRIVER } from "./csi_harness.ts";

function context(root: string, kubeconfig?: string): PartContext {
  const issues: ConfigIssue[] = [];
  const config = validate(
    configSpec,
    {
      dataDir: `${root}/data`,
      k3s: { kubeletDir: `${root}/kubelet` },
      lightningstor: { socket: `${root}/kubelet/plugins/${DRIVER}/csi.sock` },
    },
    "",
    issues,
  ) as Config;
  assert.deepEqual(issues, []);
  return {
    config,
    role: "server",
    log: logger("khcsi-test"),
    metrics: new Registry(),
    kubeconfig,
    nodeName: "khcsi-part-node",
  };
}

Deno.test("csi node part registers with kubelet through plugins_registry", async () => {
  const root = await Deno.makeTempDir({ prefix: "khcsi-reg-" });
  const ctx = context(root);
  const backend = await startEmbeddedLightningstor({
    dir: `${root}/data/lightningstor`,
    listen: `unix://${root}/data/lightningstor/volume.sock`,
    hostNode: ctx.nodeName,
  });
  const part = await createCsiNodePart(ctx);
  try {
    await part.start(new AbortController().signal);
    assert.equal(part.ready(), true);
    // Act as kubelet's plugin watcher.
    const regSock = `${root}/kubelet/plugins_registry/${DRIVER}-reg.sock`;
    assert.ok((await Deno.stat(regSock)).isSocket);
    const reg = makeClient(
      serviceClient("pluginregistration.proto", "pluginregistration.Registration"),
      {
        endpoint: `unix://${regSock}`,
      },
    );
    const info = await call<
      { type: string; name: string; endpoint: string; supported_versions: string[] }
    >(
      reg,
      "GetInfo",
      {},
    );
    assert.equal(info.type, "CSIPlugin");
    assert.equal(info.name, DRIVER);
    assert.equal(info.endpoint, ctx.config.lightningstor.socket);
    assert.deepEqual(info.supported_versions, ["1.0.0"]);
    // Kubelet then dials the endpoint it was given.
    const ident = makeClient(serviceClient("csi.proto", "csi.v1.Identity"), {
      endpoint: `unix://${info.endpoint}`,
    });
    const node = makeClient(serviceClient("csi.proto", "csi.v1.Node"), {
      endpoint: `unix://${info.endpoint}`,
    });
    assert.equal((await call<{ name: string }>(ident, "GetPluginInfo", {})).name, DRIVER);
    const ni = await call<{ node_id: string; max_volumes_per_node: string }>(
      node,
      "NodeGetInfo",
      {},
    );
    assert.equal(ni.node_id, "khcsi-part-node");
    assert.equal(Number(ni.max_volumes_per_node), 64);
    // On a server (also a node) the same socket serves the Controller service too.
    const ctrl = makeClient(serviceClient("csi.proto", "csi.v1.Controller"), {
      endpoint: `unix://${info.endpoint}`,
    });
    const caps = await call<{ capabilities: Array<{ rpc: { type: string } }> }>(
      ctrl,
      "ControllerGetCapabilities",
      {},
    );
    assert.ok(caps.capabilities.some((c) => c.rpc?.type === "CREATE_DELETE_VOLUME"));
    ctrl.close();
    await call(reg, "NotifyRegistrationStatus", {
      plugin_registered: false,
      error: "version mismatch",
    });
    assert.match(String(part.ready()), /version mismatch/);
    await call(reg, "NotifyRegistrationStatus", { plugin_registered: true, error: "" });
    assert.equal(part.ready(), true);
    for (const c of [reg, ident, node]) c.close();
  } finally {
    await part.stop();
    await backend.stop();
    await cleanupUnder(root);
  }
});

Deno.test("csi controller part: embedded LightningStor, CSIDriver, provisioning as leader", async () => {
  const root = await Deno.makeTempDir({ prefix: "khcsi-ctl-" });
  const server = await startTestApiServer();
  const ctx = context(root, server.kubeconfigPath);
  const part = await createCsiControllerPart(ctx);
  try {
    await part.start(new AbortController().signal);
    assert.equal(part.ready(), true);
    const api = server.api;
    const deadline = Date.now() + 10_000;
    while (!(await api.tryGet(RESOURCES.csiDrivers, DRIVER))) {
      assert.ok(Date.now() < deadline, "CSIDriver created once leading");
      await new Promise((r) => setTimeout(r, 20));
    }
    await api.create(RESOURCES.storageClasses, {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "khcsi-part" },
      provisioner: DRIVER,
    });
    const pvc = await api.create<KubeObject>(RESOURCES.persistentVolumeClaims, {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "p", namespace: "default" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "khcsi-part",
        resources: { requests: { storage: "64Mi" } },
      },
    });
    while (!(await api.tryGet(RESOURCES.persistentVolumes, `pvc-${pvc.metadata.uid}`))) {
      assert.ok(Date.now() < deadline, "PV provisioned");
      await new Promise((r) => setTimeout(r, 20));
    }
    const state = JSON.parse(await Deno.readTextFile(`${root}/data/lightningstor/state.json`));
    const vols = Object.values(state.volumes) as Array<{ name: string; sizeBytes: number }>;
    assert.deepEqual(vols.map((v) => [v.name, v.sizeBytes]), [[
      `pvc-${pvc.metadata.uid}`,
      64 * 1024 * 1024,
    ]]);
  } finally {
    await part.stop();
    await server.close();
    await cleanupUnder(root);
  }
});
