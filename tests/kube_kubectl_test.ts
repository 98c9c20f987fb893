/** A real client: kubectl v1.32 drives the test API server over HTTPS with a bearer token. */
import assert from "node:assert/strict";
import { parse } from "yaml";
import type { KubeObject } from "../mod/kube/api.ts";
import { resourceRef, RESOURCES } from "../mod/kube/resources.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { waitFor } from "./kube_helpers.ts";

const KUBECTL = "kubectl";

async function kubectl(s: TestApiServer, cacheDir: string, args: string[], stdin?: string) {
  const cmd = new Deno.Command(KUBECTL, {
    args: ["--kubeconfig", s.kubeconfigPath, "--cache-dir", cacheDir, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { HOME: cacheDir },
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function ok(s: TestApiServer, dir: string, args: string[], stdin?: string) {
  const r = await kubectl(s, dir, args, stdin);
  assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  mode: fast
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: team-a
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: projects.plasmacloud.io
spec:
  group: plasmacloud.io
  scope: Cluster
  names: {plural: projects, singular: project, kind: Project, shortNames: [proj]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Tenant, type: string, jsonPath: .spec.tenant}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

async function setup() {
  try {
    await new Deno.Command(KUBECTL, {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    })
      .output();
  } catch {
    throw new Error("kubectl (v1.32 client) must be on PATH for this test");
  }
  const s = await startTestApiServer({ tls: true, token: "kubectl-test-token" });
  const dir = await Deno.makeTempDir({ prefix: "kh-kube-kubectl-" });
  return { s, dir };
}

Deno.test("kubectl: version, create -f, get -o yaml, label, annotate, patch, delete", async () => {
  const { s, dir } = await setup();
  try {
    const version = await ok(s, dir, ["version", "-o", "json"]);
    assert.equal(JSON.parse(version).serverVersion.minor, "32");
    const created = await ok(s, dir, ["create", "-f", "-"], MANIFEST);
    assert.match(created, /namespace\/team-a created/);
    assert.match(created, /configmap\/settings created/);
    assert.match(created, /service\/web created/);
    assert.match(
      created,
      /customresourcedefinition.apiextensions.k8s.io\/projects.plasmacloud.io created/,
    );
    // The CRD's resource is discoverable right away.
    const proj = await ok(
      s,
      dir,
      ["create", "-f", "-"],
      "apiVersion: plasmacloud.io/v1\nkind: Project\nmetadata: {name: acme}\nspec: {tenant: t1}\n",
    );
    assert.match(proj, /project.plasmacloud.io\/acme created/);
    const projects = resourceRef("plasmacloud.io", "v1", "projects", "Project", false);
    assert.equal((await s.api.get<KubeObject>(projects, "acme")).spec.tenant, "t1");
    assert.match(
      await ok(s, dir, ["get", "projects"]),
      /^NAME\s+TENANT\s+AGE\nacme\s+t1\s+\d+s\n$/,
    );

    const yaml = parse(
      await ok(s, dir, ["get", "configmap", "settings", "-n", "team-a", "-o", "yaml"]),
    );
    assert.equal(yaml.kind, "ConfigMap");
    assert.equal(yaml.data.mode, "fast");
    assert.match(yaml.metadata.uid, /^[0-9a-f-]{36}$/);
    const table = await ok(s, dir, ["get", "svc", "-n", "team-a"]);
    assert.match(table, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/);
    assert.match(table, /web\s+LoadBalancer\s+10\.43\.\d+\.\d+\s+<pending>\s+80:3\d{4}\/TCP/);

    assert.match(
      await ok(s, dir, ["label", "cm", "settings", "-n", "team-a", "tier=gold"]),
      /labeled/,
    );
    assert.match(
      await ok(s, dir, ["annotate", "cm", "settings", "-n", "team-a", "owner=ops"]),
      /annotated/,
    );
    assert.match(await ok(s, dir, ["label", "project", "acme", "team=x"]), /labeled/);
    await ok(s, dir, ["patch", "cm", "settings", "-n", "team-a", "-p", '{"data":{"extra":"1"}}']);
    await ok(s, dir, [
      "patch",
      "cm",
      "settings",
      "-n",
      "team-a",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/data/mode"}]',
    ]);
    await ok(s, dir, ["patch", "proj", "acme", "--type=merge", "-p", '{"spec":{"tenant":"t2"}}']);
    await ok(s, dir, [
      "patch",
      "svc",
      "web",
      "-n",
      "team-a",
      "-p",
      '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}',
    ]);
    const cm = await s.api.get<KubeObject>(RESOURCES.configMaps, "settings", "team-a");
    assert.deepEqual(cm.metadata.labels, { tier: "gold" });
    assert.deepEqual(cm.metadata.annotations, { owner: "ops" });
    assert.deepEqual(cm.data, { extra: "1" });
    assert.equal((await s.api.get<KubeObject>(projects, "acme")).spec.tenant, "t2");
    const svc = await s.api.get<KubeObject>(RESOURCES.services, "web", "team-a");
    assert.equal(svc.spec.ports.length, 1, "strategic merge by port kept one entry");
    assert.equal(svc.spec.ports[0].targetPort, 9090);
    assert.equal(svc.spec.ports[0].name, "http");

    const applied =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied, namespace: team-a}\ndata: {k: '1'}\n";
    assert.match(await ok(s, dir, ["apply", "-f", "-"], applied), /configmap\/applied created/);
    assert.match(
      await ok(s, dir, ["apply", "-f", "-"], applied.replace("'1'", "'2'")),
      /configmap\/applied configured/,
    );
    assert.equal(
      (await s.api.get<KubeObject>(RESOURCES.configMaps, "applied", "team-a")).data.k,
      "2",
    );
    const resources = await ok(s, dir, ["api-resources", "-o", "name"]);
    for (
      const r of [
        "pods",
        "endpointslices.discovery.k8s.io",
        "leases.coordination.k8s.io",
        "projects.plasmacloud.io",
      ]
    ) {
      assert.ok(resources.split("\n").includes(r), `api-resources lists ${r}`);
    }
    assert.match(
      await ok(s, dir, ["get", "svc", "-A", "-o", "wide"]),
      /team-a\s+web\s+LoadBalancer/,
    );
    const filtered = await ok(s, dir, ["get", "cm", "-A", "-l", "tier=gold", "-o", "name"]);
    assert.equal(filtered.trim(), "configmap/settings");
    assert.match(
      await ok(s, dir, ["delete", "cm", "settings", "-n", "team-a"]),
      /configmap "settings" deleted/,
    );
    const gone = await kubectl(s, dir, ["get", "cm", "settings", "-n", "team-a"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /Error from server \(NotFound\): configmaps "settings" not found/);
    const dup = await kubectl(
      s,
      dir,
      ["create", "-f", "-"],
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n",
    );
    assert.match(
      dup.stderr,
      /Error from server \(AlreadyExists\): .*namespaces "team-a" already exists/,
    );
    await ok(s, dir, ["delete", "namespace", "team-a"]);
    assert.equal(await s.api.tryGet(RESOURCES.namespaces, "team-a"), undefined);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubectl: get -w streams changes as they happen", async () => {
  const { s, dir } = await setup();
  const child = new Deno.Command(KUBECTL, {
    args: [
      "--kubeconfig",
      s.kubeconfigPath,
      "--cache-dir",
      dir,
      "get",
      "configmaps",
      "-n",
      "default",
      "-w",
      "--output-watch-events",
      "-o",
      "json",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { HOME: dir },
  }).spawn();
  let out = "";
  const reader = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) out += dec.decode(chunk);
  })();
  try {
    await waitFor(() => s.openWatches() === 1, 10_000, "kubectl to open its watch");
    await s.api.create(RESOURCES.configMaps, {
      metadata: { name: "w1", namespace: "default" },
      data: {},
    });
    await s.api.patch(RESOURCES.configMaps, "w1", { data: { a: "1" } }, { namespace: "default" });
    await s.api.delete(RESOURCES.configMaps, "w1", "default");
    await waitFor(
      () => (out.match(/"type": ?"DELETED"/g) ?? []).length === 1,
      10_000,
      "the DELETED event",
    );
    const types = [...out.matchAll(/"type": ?"(ADDED|MODIFIED|DELETED)"/g)].map((m) => m[1]);
    assert.deepEqual(types, ["ADDED", "MODIFIED", "DELETED"]);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reader;
    await child.stderr.cancel();
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});
