/**
 * Informer over 50,000 objects: initial list+sync time, memory held by the cache, and watch
 * events handled per second. The API server and the writer run as separate processes so the
 * numbers are the informer's own (Deno is single-threaded).
 *
 *   deno run -A --v8-flags=--expose-gc bench/informer_bench.ts [--objects N] [--events N]
 */
import { createInformer } from "../mod/kube/informer.ts";
import { createKubeApi } from "../mod/kube/client.ts";
import { RESOURCES } from "../mod/kube/resources.ts";
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";

function flag(name: string, def: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}

/** Writer mode: `--write create|patch N start` against a kubeconfig, 32 requests in flight. */
async function writer(kubeconfig: string, mode: string, n: number) {
  const api = createKubeApi(kubeconfig);
  let next = 0;
  const one = async (i: number) => {
    const name = `obj-${String(i).padStart(6, "0")}`;
    if (mode === "create") {
      await api.create(RESOURCES.configMaps, {
        metadata: {
          name,
          namespace: `ns-${i % 50}`,
          labels: { app: `app-${i % 100}`, tier: i % 2 ? "front" : "back" },
          annotations: { "k8shost.io/note": "x".repeat(64) },
        },
        data: { key: `value-${i}`, config: "y".repeat(200) },
      });
    } else {
      await api.patch(RESOURCES.configMaps, name, { data: { key: `v-${Date.now()}` } }, {
        namespace: `ns-${i % 50}`,
      });
    }
  };
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < n) await one(next++);
  }));
  api.close();
}

async function seedNamespaces(api: KubeApi) {
  for (let i = 0; i < 50; i++) {
    await api.create(RESOURCES.namespaces, { metadata: { name: `ns-${i}` } });
  }
}

function gcHeap(): number {
  // deno-lint-ignore no-explicit-any
  const gc = (globalThis as any).gc;
  if (gc) { for (let i = 0; i < 3; i++) gc(); }
  return Deno.memoryUsage().heapUsed;
}

function writerCommand(kubeconfig: string, mode: string, n: number) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--write", kubeconfig, mode, String(n)],
    stdout: "inherit",
    stderr: "inherit",
  });
}

async function runWriter(kubeconfig: string, mode: string, n: number): Promise<number> {
  const t0 = performance.now();
  const out = await writerCommand(kubeconfig, mode, n).output();
  if (!out.success) throw new Error(`writer ${mode} failed`);
  return performance.now() - t0;
}

/**
 * Runs the writer while this process's event loop is blocked, so the events pile up in the
 * watch stream; returns when the writer is done. What follows measures draining the backlog.
 */
function runWriterBlocked(kubeconfig: string, mode: string, n: number) {
  const out = writerCommand(kubeconfig, mode, n).outputSync();
  if (!out.success) throw new Error(`writer ${mode} failed`);
}

async function main() {
  const objects = flag("--objects", 50_000);
  const events = flag("--events", 20_000);
  const dir = await Deno.makeTempDir({ prefix: "kh-kube-bench-" });
  const kubeconfig = `${dir}/kc.yaml`;
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../tests/support/apiserver/standalone.ts", import.meta.url).pathname,
      "--http",
      "--history",
      String(objects + events + 1000),
      "--kubeconfig-out",
      kubeconfig,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("kubeconfig: ")) banner += (await reader.read()).value ?? "";
  const api = createKubeApi(kubeconfig);
  const ac = new AbortController();
  try {
    await seedNamespaces(api);
    const seedMs = await runWriter(kubeconfig, "create", objects);
    const heap0 = gcHeap();
    const rss0 = Deno.memoryUsage().rss;
    const inf = createInformer<KubeObject>(api, { ref: RESOURCES.configMaps, pageSize: 500 });
    let updates = 0;
    let firstAt = 0, lastAt = 0;
    inf.on({
      update() {
        if (!updates++) firstAt = performance.now();
        lastAt = performance.now();
      },
    });
    const t0 = performance.now();
    inf.start(ac.signal);
    await inf.synced();
    const syncMs = performance.now() - t0;
    if (inf.list().length !== objects) throw new Error(`cache has ${inf.list().length}`);
    const heap1 = gcHeap();
    const rss1 = Deno.memoryUsage().rss;
    const t1 = performance.now();
    const lookups = 100_000;
    for (let i = 0; i < lookups; i++) inf.byLabels(`app=app-${i % 100},tier=front`, `ns-${i % 50}`);
    const selMs = performance.now() - t1;
    const writeMs = await runWriter(kubeconfig, "patch", events);
    while (updates < events) await new Promise((r) => setTimeout(r, 5));
    const evMs = lastAt - firstAt;
    updates = 0;
    runWriterBlocked(kubeconfig, "patch", events);
    const d0 = performance.now();
    while (updates < events) await new Promise((r) => setTimeout(r, 1));
    const drainMs = lastAt - d0;
    const t2 = performance.now();
    // Nothing changed meanwhile, so this is the cost of a periodic resync: list N and diff.
    await inf.relist();
    const relistMs = performance.now() - t2;
    const rows = [
      ["objects", String(objects)],
      [
        "seed (create over HTTP, 32 in flight, separate process)",
        `${(seedMs / 1000).toFixed(1)} s`,
      ],
      ["initial list (500/page) + sync", `${syncMs.toFixed(0)} ms`],
      ["list+sync throughput", `${Math.round(objects / (syncMs / 1000))} objects/s`],
      ["heap held by the cache (after GC)", `${((heap1 - heap0) / 2 ** 20).toFixed(1)} MiB`],
      ["heap per object", `${((heap1 - heap0) / objects).toFixed(0)} B`],
      ["RSS growth", `${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB`],
      [
        "byLabels(app=..,tier=..) in a namespace",
        `${((selMs * 1000) / lookups).toFixed(1)} µs/lookup`,
      ],
      ["watch events applied", String(events)],
      ["writer rate (separate process)", `${Math.round(events / (writeMs / 1000))} writes/s`],
      [
        "live: events handled/s (bounded by the writer)",
        `${Math.round(events / (evMs / 1000))} events/s`,
      ],
      [
        "backlog: events handled/s (informer drain rate)",
        `${Math.round(events / (drainMs / 1000))} events/s`,
      ],
      ["relist + diff of the full cache", `${relistMs.toFixed(0)} ms`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\ninformer bench (deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores)`,
    );
    for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  } finally {
    ac.abort();
    api.close();
    server.kill("SIGTERM");
    await server.status;
    await reader.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const w = Deno.args.indexOf("--write");
  if (w >= 0) await writer(Deno.args[w + 1], Deno.args[w + 2], Number(Deno.args[w + 3]));
  else await main();
}
