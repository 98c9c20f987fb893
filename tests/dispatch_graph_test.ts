/**
 * The CNI face must start in milliseconds, so what loads before it answers is kept tiny: main.ts
 * imports nothing but node builtins statically (faces are `await import`ed), and the plugin's
 * static import graph holds no npm package. Checked on `deno info --json`, not by timing (the
 * timing is in bench/dispatch_bench.ts).
 */
import assert from "node:assert/strict";
import { ROOT, run } from "./dispatch_support.ts";

interface InfoModule {
  specifier: string;
  kind?: string;
  size?: number;
  error?: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** Modules reachable from `root` through static (non-dynamic) imports. */
async function staticGraph(root: string): Promise<InfoModule[]> {
  const r = await run(Deno.execPath(), ["info", "--json", root], { cwd: ROOT });
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const bySpec = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Map<string, InfoModule>();
  const visit = (spec: string) => {
    const resolved = info.redirects[spec] ?? spec;
    if (seen.has(resolved)) return;
    const m = bySpec.get(resolved) ?? { specifier: resolved };
    seen.set(resolved, m);
    for (const d of m.dependencies ?? []) {
      if (!d.isDynamic && d.code) visit(d.code.specifier);
    }
  };
  info.roots.forEach(visit);
  return [...seen.values()];
}

Deno.test("cni face: main.ts statically imports only node builtins", async () => {
  const graph = await staticGraph("main.ts");
  const others = graph.map((m) => m.specifier).filter((s) =>
    !s.startsWith("node:") && !s.endsWith("/main.ts")
  );
  assert.deepEqual(others, [], "main.ts must load faces with await import()");
});

Deno.test("cni face: the plugin's static graph has no npm package and stays small", async () => {
  const graph = await staticGraph("cni/plugin.ts");
  const list = graph.map((m) => `${m.specifier} (${m.size ?? "?"} B)`).join("\n");
  assert.ok(graph.every((m) => !m.error), list);
  const heavy = graph.filter((m) => m.kind === "npm" || /^(npm|jsr|https?):/.test(m.specifier));
  assert.deepEqual(heavy.map((m) => m.specifier), [], `heavy imports in:\n${list}`);
  const local = graph.filter((m) => m.specifier.startsWith("file:"));
  const bytes = local.reduce((n, m) => n + (m.size ?? 0), 0);
  assert.ok(local.length <= 8, `at most 8 local modules, got:\n${list}`);
  assert.ok(bytes <= 100_000, `at most 100 kB of source, got ${bytes}:\n${list}`);
});
