/**
 * The whole appliance as a real process (`scripts/k8shost server`), driven only through the API
 * server and the real network, as an operator and a tenant would:
 *
 * 1. Attach mode against the test API server with the webhook, tenancy, lb, dns and csi parts:
 *    /readyz, a token from `k8shost token issue` authenticated by the webhook over mTLS with the
 *    groups the tenancy RoleBindings name, a Project → its namespace, a LoadBalancer Service
 *    reachable through the embedded FiberLB proxy and resolvable through the embedded FlashDNS,
 *    a PVC → a PV (the test binder stands in for kube-controller-manager), tenant ids in the
 *    backends, and a clean exit 0 on SIGTERM.
 * 2. Supervised mode with the stand-in k3s and a real NOTIFY_SOCKET: READY=1 only once k3s and
 *    every part are ready (a part held back by a busy port keeps it back), STOPPING=1 on SIGTERM,
 *    exit 0 — the contract of the NixOS unit's Type=notify.
 */
import assert from "node:assert/strict";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { PROJECTS } from "../mod/tenancy/resources.ts";
import { createFlashdnsClient } from "../mod/flashdns/client.ts";
import { LightningstorClient } from "../mod/lightningstor/mod.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { startTestBinder } from "./csi_binder.ts";
import { cleanupUnder, DRIVER } from "./csi_harness.ts";
import { dig } from "./flashdns_support.ts";
import {
  endpointSlice,
  lbService,
  loopbackNet,
  nameServer,
  whoAnswers,
} from "./fiberlb_support.ts";
import { alive, FAKE_K3S, readStarts, startNotifyReceiver } from "./supervisor_support.ts";
import {
  applianceArgs,
  freePort,
  K8shost,
  k8shostOnce,
  PARTS,
  ports,
  readyz,
  refused,
  tokenReview,
  until,
} from "./appliance_e2e_support.ts";

Deno.test("appliance e2e: attach mode, every controller part through the API and the network", async () => {
  const root = await Deno.makeTempDir({ prefix: "kh-e2e-" });
  const dataDir = `${root}/data`;
  const p = await ports();
  const vips = loopbackNet();
  const pods = loopbackNet();
  let server: TestApiServer | undefined;
  let app: K8shost | undefined;
  let binder: { stop(): Promise<void> } | undefined;
  const backend = nameServer("kh-e2e-backend", pods.ip(7));
  try {
    server = await startTestApiServer();
    const api = server.api;
    app = new K8shost([
      "server",
      "--no-k3s",
      "--kubeconfig",
      server.kubeconfigPath,
      ...await applianceArgs(root, p, vips.cidr),
    ], {});

    // /readyz: every selected part, and no k3s check in attach mode.
    const ready = await until("readyz 200", async () => {
      const r = await readyz(p.health);
      return r.status === 200 ? r.body : undefined;
    }, 30_000).catch((e) => {
      throw new Error(`${e.message}\n${app!.tail()}`);
    });
    assert.equal(
      ready,
      PARTS.map((n) => `[+]part/${n} ok\n`).join("") + "readyz check passed\n",
    );

    // A Project becomes its namespace, labelled with the tenant.
    await api.create(PROJECTS, {
      apiVersion: "plasmacloud.io/v1",
      kind: "Project",
      metadata: { name: "e2e1" },
      spec: { orgId: "org-e2e", projectId: "e2e1", displayName: "E2E" },
    });
    const ns = await until(
      "namespace project-e2e1",
      () => api.tryGet(RESOURCES.namespaces, "project-e2e1"),
    );
    assert.equal(ns.metadata.labels?.["plasmacloud.io/org-id"], "org-e2e");
    assert.equal(ns.metadata.labels?.["plasmacloud.io/project-id"], "e2e1");

    // `k8shost token issue` with the same data dir mints what the webhook accepts, with groups
    // that are exactly what the project's RoleBinding names.
    const issued = await k8shostOnce([
      "token",
      "issue",
      "--config",
      `${root}/config.yaml`,
      "--set",
      `dataDir=${dataDir}`,
      "--org",
      "org-e2e",
      "--project",
      "e2e1",
      "--user",
      "alice@example.com",
      "--role",
      "project_admin",
      "--ttl",
      "10m",
    ]);
    assert.equal(issued.code, 0, issued.err);
    const token = issued.out.trim();
    const review = await tokenReview(dataDir, token);
    assert.equal(review.status.authenticated, true, JSON.stringify(review.status));
    assert.equal(review.status.user.username, "alice@example.com");
    assert.deepEqual(
      [...review.status.user.groups].sort(),
      ["org:org-e2e", "project:e2e1", "project:e2e1:admin", "system:authenticated"],
    );
    assert.deepEqual(review.status.user.extra.org_id, ["org-e2e"]);
    const binding = await until(
      "project-admin RoleBinding",
      () => api.tryGet(RESOURCES.roleBindings, "project-admin-binding", "project-e2e1"),
    );
    const bound = binding.subjects.map((s: { name: string }) => s.name);
    assert.ok(bound.includes("project:e2e1:admin"), bound.join(","));
    const forged = await tokenReview(dataDir, token.slice(0, -4) + "AAAA");
    assert.equal(forged.status.authenticated, false);

    // A LoadBalancer Service with an endpoint gets an ingress IP from the pool, and a TCP
    // connection to it reaches the backend through the embedded proxy.
    const svcPort = await freePort();
    await api.create(
      RESOURCES.services,
      lbService("web", {
        namespace: "project-e2e1",
        ports: [{ name: "http", port: svcPort, targetPort: backend.port, protocol: "TCP" }],
      }),
    );
    await api.create(
      RESOURCES.endpointSlices,
      endpointSlice("web", [pods.ip(7)], { namespace: "project-e2e1", port: backend.port }),
    );
    const svc = await until("ingress", async () => {
      const s = await api.get<KubeObject>(RESOURCES.services, "web", "project-e2e1");
      return s.status?.loadBalancer?.ingress?.[0]?.ip ? s : undefined;
    });
    const ingress: string = svc.status.loadBalancer.ingress[0].ip;
    assert.ok(ingress.startsWith(`${vips.prefix}.`), ingress);
    assert.equal(
      await until("backend through the proxy", () => whoAnswers(ingress, svcPort)),
      "kh-e2e-backend",
    );

    // Its name answers over DNS with the ClusterIP and the ingress IP.
    const name = "web.project-e2e1.svc.cluster.local";
    const want = [svc.spec.clusterIP, ingress].map((ip) => `${name}. 30 IN A ${ip}`).sort();
    assert.deepEqual(
      await until("DNS answer", async () => {
        const a = (await dig(p.dns, name, "A")).answer;
        return a.length === 2 ? a : undefined;
      }),
      want,
    );
    // FlashDNS attributes the records to the tenant.
    const fd = createFlashdnsClient({ endpoint: `unix://${dataDir}/flashdns/grpc.sock` });
    try {
      const sets = await fd.listRecordSets({ labelSelector: { "k8s-name": "web" } });
      assert.ok(sets.length >= 3);
      for (const s of sets) {
        assert.deepEqual([s.labels.org_id, s.labels.project_id], ["org-e2e", "e2e1"]);
      }
    } finally {
      fd.close();
    }

    // A PVC of a stor.plasmacloud.io class gets a PV; the volume belongs to the tenant.
    binder = startTestBinder(api);
    await api.create(RESOURCES.storageClasses, {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "kh-e2e-stor" },
      provisioner: DRIVER,
      reclaimPolicy: "Delete",
      volumeBindingMode: "Immediate",
    });
    await api.create(RESOURCES.persistentVolumeClaims, {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace: "project-e2e1" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "kh-e2e-stor",
        resources: { requests: { storage: "64Mi" } },
      },
    });
    const pvc = await until("claim bound", async () => {
      const c = await api.get(RESOURCES.persistentVolumeClaims, "data", "project-e2e1");
      return c.status?.phase === "Bound" ? c : undefined;
    });
    const pv = await api.get(RESOURCES.persistentVolumes, pvc.spec.volumeName);
    assert.equal(pv.spec.csi.driver, DRIVER);
    assert.equal(pv.spec.claimRef.uid, pvc.metadata.uid);
    const ls = new LightningstorClient({ endpoint: `unix://${dataDir}/lightningstor/volume.sock` });
    try {
      const vol = await ls.getVolume(pv.spec.csi.volumeHandle);
      assert.deepEqual([vol.orgId, vol.projectId], ["org-e2e", "e2e1"]);
    } finally {
      ls.close();
    }

    // SIGTERM: exit 0, and everything it served is gone.
    const status = await app.stop("SIGTERM");
    assert.equal(status.code, 0, app.tail());
    assert.ok(app.has((l) => l.msg === "received SIGTERM; stopping"));
    assert.ok(app.has((l) => l.msg === "k8shost server stopped" && l.exitCode === 0));
    assert.ok(await refused("127.0.0.1", p.health), "health endpoint closed");
    assert.ok(await refused("127.0.0.1", p.webhook), "webhook closed");
    assert.ok(await refused("127.0.0.1", p.dns), "DNS (TCP) closed");
    assert.ok(await refused(ingress, svcPort), "load balancer listener closed");
  } finally {
    await app?.stop("SIGKILL");
    await binder?.stop();
    await backend.close();
    await server?.close();
    await cleanupUnder(root);
  }
});

Deno.test("appliance e2e: supervised k3s, READY=1 only once every part is ready, STOPPING=1 on SIGTERM", async () => {
  const root = await Deno.makeTempDir({ prefix: "kh-e2e-notify-" });
  const p = await ports();
  const server = await startTestApiServer();
  const rx = await startNotifyReceiver(`${root}/notify.sock`);
  // Holds the webhook's port so that part fails its first start and is retried.
  let blocker: Deno.Listener | undefined = Deno.listen({ hostname: "127.0.0.1", port: p.webhook });
  let app: K8shost | undefined;
  try {
    app = new K8shost([
      "server",
      "--k3s-bin",
      FAKE_K3S,
      ...await applianceArgs(root, p, loopbackNet().cidr),
      "--set",
      "k3s.stopGrace=5s",
    ], {
      NOTIFY_SOCKET: `${root}/notify.sock`,
      FAKE_K3S_STATE_DIR: root,
      FAKE_K3S_KUBECONFIG_FROM: server.kubeconfigPath,
      FAKE_K3S_READY_AFTER_MS: "500",
    });
    const seen: string[] = [];
    const next = async () => {
      const m = await rx.next(30_000).catch((e) => {
        throw new Error(`${e.message} after ${JSON.stringify(seen)}\n${app!.tail()}`);
      });
      seen.push(m);
      return m;
    };
    // Until k3s answers nothing is started; then the parts; the blocked webhook holds READY back.
    assert.equal(await next(), "STATUS=waiting for k3s to become ready");
    assert.equal(await next(), "STATUS=starting parts");
    let msg = await next();
    while (!/^STATUS=not ready: .*part\/webhook/.test(msg)) {
      assert.match(msg, /^STATUS=not ready: /, JSON.stringify(seen));
      msg = await next();
    }
    const held = await readyz(p.health);
    assert.equal(held.status, 503);
    assert.match(held.body, /\[-\]part\/webhook/);
    assert.match(held.body, /\[\+\]k3s ok/);
    blocker.close();
    blocker = undefined;
    while (!msg.startsWith("READY=1")) {
      assert.match(msg, /^STATUS=not ready: /, JSON.stringify(seen));
      msg = await next();
    }
    assert.equal(msg, `READY=1\nSTATUS=running: ${PARTS.length} parts ready`);
    // At READY=1 k3s and every part are ready.
    assert.deepEqual(await readyz(p.health), {
      status: 200,
      body: ["k3s", ...PARTS.map((n) => `part/${n}`)].map((c) => `[+]${c} ok\n`).join("") +
        "readyz check passed\n",
    });
    const [k3s] = readStarts(root);
    assert.equal(k3s.notifySocket, null, "k3s must not announce READY=1 itself");
    assert.ok(alive(k3s.pid));

    const status = await app.stop("SIGTERM");
    assert.equal(status.code, 0, app.tail());
    const rest: string[] = [];
    while (rx.received.length) rest.push(rx.received.shift()!);
    assert.ok(rest.includes("STOPPING=1\nSTATUS=stopping"), JSON.stringify(rest));
    assert.equal(alive(k3s.pid), false);
    assert.ok(
      app.has((l) => l.component === "k3s" && l.msg === "Received SIGTERM, shutting down"),
      app.tail(),
    );
    assert.ok(await refused("127.0.0.1", p.health));
  } finally {
    blocker?.close();
    await app?.stop("SIGKILL");
    await rx.close();
    await server.close();
    await cleanupUnder(root);
  }
});
