import assert from "node:assert/strict";
import { validate } from "../config/schema.ts";
import { type Config, configSpec } from "../config/spec.ts";
import { loadFactory, PART_CATALOG, PartSelectionError, selectParts } from "./parts.ts";

function config(raw: Record<string, unknown> = {}): Config {
  return validate(configSpec, raw, "", []) as Config;
}

const names = (c: Config, o: Parameters<typeof selectParts>[1]) =>
  selectParts(c, o).map((p) => p.name);

Deno.test("parts: server runs its parts plus the node parts, in start order", () => {
  assert.deepEqual(names(config(), { role: "server" }), [
    "webhook",
    "node",
    "tenancy",
    "netpol",
    "lb",
    "dns",
    "csi",
    "csi-node",
  ]);
  assert.deepEqual(names(config(), { role: "server", disableAgent: true }), [
    "webhook",
    "tenancy",
    "netpol",
    "lb",
    "dns",
    "csi",
  ]);
  assert.deepEqual(names(config(), { role: "agent" }), ["node", "csi-node"]);
});

Deno.test("parts: the config's enable switches decide the default selection", () => {
  const c = config({
    fiberlb: { enable: false },
    lightningstor: { enable: false },
    iam: { enable: false },
  });
  assert.deepEqual(names(c, { role: "server" }), ["node", "tenancy", "netpol", "dns"]);
  assert.deepEqual(names(config({ prismnet: { enable: false } }), { role: "agent" }), ["csi-node"]);
});

Deno.test("parts: --parts selects (comma lists, repeats, catalog order)", () => {
  assert.deepEqual(names(config(), { role: "server", parts: ["dns,webhook", "lb", "dns"] }), [
    "webhook",
    "lb",
    "dns",
  ]);
  assert.deepEqual(names(config(), { role: "agent", parts: ["csi-node"] }), ["csi-node"]);
  assert.deepEqual(names(config(), { role: "server", parts: [""] }), []);
});

Deno.test("parts: bad --parts selections are explained", () => {
  const bad: [Parameters<typeof selectParts>[1], string][] = [
    [
      { role: "server", parts: ["dsn"] },
      'unknown part "dsn" — did you mean "dns"? (parts of k8shost server: webhook, node, tenancy, netpol, lb, dns, csi, csi-node)',
    ],
    [
      { role: "agent", parts: ["lb"] },
      'part "lb" runs only in k8shost server (parts here: node, csi-node)',
    ],
    [
      { role: "server", disableAgent: true, parts: ["node"] },
      'part "node" is a node part, off with --disable-agent (parts here: webhook, tenancy, netpol, lb, dns, csi)',
    ],
  ];
  for (const [opts, message] of bad) {
    assert.throws(
      () => selectParts(config(), opts),
      (e: unknown) => e instanceof PartSelectionError && e.message === message,
    );
  }
  assert.throws(
    () => selectParts(config({ fiberlb: { enable: false } }), { role: "server", parts: ["lb"] }),
    { message: 'part "lb" is turned off by fiberlb.enable: false in the config' },
  );
});

Deno.test("parts: every catalog entry loads its module and factory", async () => {
  for (const spec of PART_CATALOG) {
    const f = await spec.load();
    assert.equal(typeof f, "function", spec.name);
  }
});

Deno.test("parts: a module that fails to load, or lacks its factory, is a clear error", async () => {
  const missing = new URL("../kh-no-such-module/mod.ts", import.meta.url).href;
  await assert.rejects(
    loadFactory("mod/kh-no-such-module/mod.ts", () => import(missing), "createNothingPart"),
    /^Error: mod\/kh-no-such-module\/mod\.ts cannot be loaded: Module not found/,
  );
  await assert.rejects(
    loadFactory("mod/broken/mod.ts", () => Promise.reject(new Error("boom at import\nstack")), "x"),
    { message: "mod/broken/mod.ts cannot be loaded: boom at import" },
  );
  await assert.rejects(
    loadFactory("mod/appliance/context.ts", () => import("./context.ts"), "createNothingPart"),
    { message: "mod/appliance/context.ts does not export createNothingPart" },
  );
});

Deno.test("node name: config.nodeName, else the host name in lower case (as Kubernetes needs)", async () => {
  const { nodeNameOf } = await import("./run.ts");
  assert.equal(nodeNameOf(config({ nodeName: "node-1" }), () => "Ignored"), "node-1");
  assert.equal(nodeNameOf(config(), () => "Worker-A.Example"), "worker-a.example");
});
