/**
 * The tenancy controller against the test API server: Projects become namespaces with RBAC,
 * quotas and policies; drift is repaired; foreign objects are left alone; deletion waits for
 * the grace period.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { createEventRecorder, RESOURCES } from "../mod/kube/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { logger } from "../mod/log/mod.ts";
import { installProjectCrd, type Project, PROJECTS } from "../mod/tenancy/mod.ts";
import { runTenancyController } from "../mod/tenancy/controller.ts";
import { FINALIZER } from "../mod/tenancy/reconcile.ts";

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function withController(
  graceMs: number,
  body: (srv: TestApiServer) => Promise<void>,
): Promise<void> {
  const srv = await startTestApiServer();
  const abort = new AbortController();
  try {
    await installProjectCrd(srv.api);
    const events = createEventRecorder(srv.api, "k8shost-tenancy");
    const run = runTenancyController(srv.api, events, logger("tenancy-test"), {
      settings: { defaultNetworkPolicies: true, dnsAddress: "10.96.0.10", deleteGraceMs: graceMs },
      resyncMs: 60_000,
    }, abort.signal);
    try {
      await body(srv);
    } finally {
      abort.abort();
      await run;
    }
  } finally {
    await srv.close();
  }
}

function project(id: string, extra: Partial<Project["spec"]> = {}): Project {
  return {
    apiVersion: "plasmacloud.io/v1",
    kind: "Project",
    metadata: { name: id },
    spec: { orgId: "org-1", projectId: id, displayName: `Project ${id}`, ...extra },
  };
}

const ready = (srv: TestApiServer, id: string) =>
  until(`project ${id} ready`, async () => {
    const p = await srv.api.get<Project>(PROJECTS, id);
    return p.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True") && p;
  });

Deno.test("a Project becomes a namespace with RBAC, quotas, limits and policies", async () => {
  await withController(60_000, async (srv) => {
    await srv.api.create(PROJECTS, project("alpha"));
    const p = await ready(srv, "alpha");
    assertEquals(p.status?.namespace, "project-alpha");
    ok(p.metadata.finalizers?.includes(FINALIZER));
    const ns = await srv.api.get(RESOURCES.namespaces, "project-alpha");
    assertEquals(ns.metadata.labels?.["plasmacloud.io/org-id"], "org-1");
    assertEquals(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"], "baseline");
    const names = async (ref: typeof RESOURCES.roles) =>
      (await srv.api.list(ref, { namespace: "project-alpha" })).items.map((o) => o.metadata.name)
        .sort();
    assertEquals(await names(RESOURCES.roles), ["org-admin", "project-admin", "project-viewer"]);
    assertEquals(await names(RESOURCES.roleBindings), [
      "org-admin-binding",
      "project-admin-binding",
      "project-viewer-binding",
    ]);
    assertEquals(await names(RESOURCES.resourceQuotas), [
      "project-compute-quota",
      "project-object-quota",
      "project-storage-quota",
    ]);
    assertEquals(await names(RESOURCES.limitRanges), ["project-limits"]);
    assertEquals(await names(RESOURCES.networkPolicies), ["default-deny-all"]);
    const crb = await srv.api.get(
      RESOURCES.clusterRoleBindings,
      "plasmacloud-cluster-admin-binding",
    );
    assertEquals(crb.subjects[0].name, "system:plasmacloud-admins");
  });
});

Deno.test("drift is repaired, deleted objects come back, foreign objects are left alone", async () => {
  await withController(60_000, async (srv) => {
    await srv.api.create(PROJECTS, project("beta"));
    await ready(srv, "beta");
    const ns = "project-beta";
    // A hand edit to a Role we own is undone.
    const role = await srv.api.get(RESOURCES.roles, "project-viewer", ns);
    await srv.api.replace(RESOURCES.roles, {
      ...role,
      rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
    });
    await until("viewer role repaired", async () => {
      const r = await srv.api.get(RESOURCES.roles, "project-viewer", ns);
      return r.rules[0].verbs.join() === "get,list,watch";
    });
    // A deleted quota is recreated.
    await srv.api.delete(RESOURCES.resourceQuotas, "project-object-quota", ns);
    await until(
      "quota recreated",
      () => srv.api.tryGet(RESOURCES.resourceQuotas, "project-object-quota", ns),
    );
    // An object of our name we do not own is never touched.
    const foreign: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "mine", namespace: ns, labels: { app: "user" } },
      data: { k: "v" },
    };
    await srv.api.create(RESOURCES.configMaps, foreign);
    const userPolicy: KubeObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "user-allow-web", namespace: ns },
      spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{}] },
    };
    await srv.api.create(RESOURCES.networkPolicies, userPolicy);
    // A quota change on the Project flows through.
    const p = await srv.api.get<Project>(PROJECTS, "beta");
    await srv.api.replace(PROJECTS, { ...p, spec: { ...p.spec, quota: { pods: 3 } } });
    await until("quota updated", async () => {
      const q = await srv.api.get(RESOURCES.resourceQuotas, "project-object-quota", ns);
      return q.spec.hard.pods === "3";
    });
    assertEquals(
      (await srv.api.get(RESOURCES.networkPolicies, "user-allow-web", ns)).spec.ingress,
      [{}],
    );
    assertEquals((await srv.api.get(RESOURCES.configMaps, "mine", ns)).data, { k: "v" });
  });
});

Deno.test("an allowance turned off is pruned; a foreign namespace is a conflict", async () => {
  await withController(60_000, async (srv) => {
    await srv.api.create(PROJECTS, project("gamma", { policy: { allowSameOrg: true } }));
    await ready(srv, "gamma");
    await until(
      "allow-same-org",
      () => srv.api.tryGet(RESOURCES.networkPolicies, "allow-same-org", "project-gamma"),
    );
    const p = await srv.api.get<Project>(PROJECTS, "gamma");
    await srv.api.replace(PROJECTS, { ...p, spec: { ...p.spec, policy: { allowSameOrg: false } } });
    await until(
      "allow-same-org pruned",
      async () =>
        !(await srv.api.tryGet(RESOURCES.networkPolicies, "allow-same-org", "project-gamma")),
    );

    await srv.api.create(RESOURCES.namespaces, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "project-taken" },
    });
    await srv.api.create(PROJECTS, project("taken"));
    const conflicted = await until("conflict condition", async () => {
      const t = await srv.api.get<Project>(PROJECTS, "taken");
      return t.status?.conditions?.find((c) => c.reason === "NamespaceConflict");
    });
    assertEquals(conflicted.status, "False");
    const ns = await srv.api.get(RESOURCES.namespaces, "project-taken");
    assertEquals(ns.metadata.labels?.["app.kubernetes.io/managed-by"], undefined);
  });
});

Deno.test("an invalid Project gets a condition and an Event, and nothing is created", async () => {
  await withController(60_000, async (srv) => {
    await srv.api.create(PROJECTS, project("bad", { orgId: "" }));
    const cond = await until("invalid condition", async () => {
      const t = await srv.api.get<Project>(PROJECTS, "bad");
      return t.status?.conditions?.find((c) => c.reason === "InvalidSpec");
    });
    assertEquals(cond.message, "spec.orgId: required");
    const events = await srv.api.list(RESOURCES.events, {});
    ok(events.items.some((e) => e.reason === "InvalidSpec" && e.involvedObject?.name === "bad"));
    assertEquals(await srv.api.tryGet(RESOURCES.namespaces, "project-bad"), undefined);
  });
});

Deno.test("deleting a Project removes its namespace only after the grace period", async () => {
  await withController(1500, async (srv) => {
    await srv.api.create(PROJECTS, project("delta"));
    await ready(srv, "delta");
    const t0 = Date.now();
    await srv.api.delete(PROJECTS, "delta");
    const terminating = await until("terminating condition", async () => {
      const p = await srv.api.tryGet<Project>(PROJECTS, "delta");
      return p?.status?.conditions?.find((c) => c.reason === "Terminating");
    });
    ok(terminating.message.includes("will be removed at"));
    ok(
      await srv.api.tryGet(RESOURCES.namespaces, "project-delta"),
      "namespace must outlive the grace period start",
    );
    await until("project gone", async () => !(await srv.api.tryGet(PROJECTS, "delta")));
    // deletionTimestamp has one-second precision, so the grace can end up to 1 s early.
    ok(Date.now() - t0 >= 450, "finalizer released before the grace period");
    const ns = await srv.api.tryGet(RESOURCES.namespaces, "project-delta");
    ok(!ns || ns.metadata.deletionTimestamp, "namespace must be deleted after the grace period");
  });
});
