/** The informer keeps an exact cache through dropped watches, 410s, stalls and errors. */
import assert from "node:assert/strict";
import { RESOURCES } from "../mod/kube/resources.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { createInformer, type InformerHandle } from "../mod/kube/informer.ts";
import { objectKey } from "../mod/kube/resources.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { cm, waitFor } from "./kube_helpers.ts";
import { Registry } from "../mod/metrics/mod.ts";

/** A map maintained only from handler callbacks, failing on impossible sequences. */
function shadow(inf: InformerHandle<KubeObject>) {
  const m = new Map<string, string>();
  const problems: string[] = [];
  inf.on({
    add(o) {
      if (m.has(objectKey(o))) problems.push(`duplicate add ${objectKey(o)}`);
      m.set(objectKey(o), o.metadata.resourceVersion!);
    },
    update(old, o) {
      if (!m.has(objectKey(o))) problems.push(`update of unknown ${objectKey(o)}`);
      if (m.get(objectKey(o)) !== old.metadata.resourceVersion) {
        problems.push(`stale old ${objectKey(o)}`);
      }
      m.set(objectKey(o), o.metadata.resourceVersion!);
    },
    delete(o) {
      if (!m.delete(objectKey(o))) problems.push(`delete of unknown ${objectKey(o)}`);
    },
  });
  return { m, problems };
}

async function serverState(s: TestApiServer, ns?: string) {
  const items = (await s.api.list(RESOURCES.configMaps, { namespace: ns })).items;
  return new Map(items.map((o) => [objectKey(o), o.metadata.resourceVersion!]));
}

function cacheState(inf: InformerHandle<KubeObject>) {
  return new Map(inf.list().map((o) => [objectKey(o), o.metadata.resourceVersion!]));
}

async function converged(s: TestApiServer, inf: InformerHandle<KubeObject>, ns?: string) {
  let want = new Map<string, string>();
  await waitFor(
    async () => {
      // An injected failure may hit this list too; then just look again.
      const state = await serverState(s, ns).catch(() => undefined);
      if (!state) return false;
      want = state;
      const got = cacheState(inf);
      return got.size === want.size && [...want].every(([k, v]) => got.get(k) === v);
    },
    10_000,
    "informer cache to match the server",
  ).catch((e) => {
    assert.deepEqual(cacheState(inf), want);
    throw e;
  });
}

Deno.test("informer: lists (paginated), syncs, then follows the watch; indexes by ns and labels", async () => {
  const s = await startTestApiServer();
  const ac = new AbortController();
  try {
    for (let i = 0; i < 25; i++) {
      await s.api.create(
        RESOURCES.configMaps,
        cm(`c${i}`, i % 2 ? "default" : "kube-system", { n: String(i % 3) }),
      );
    }
    const inf = createInformer<KubeObject>(s.api, { ref: RESOURCES.configMaps, pageSize: 7 });
    const sh = shadow(inf);
    inf.start(ac.signal);
    await inf.synced();
    assert.ok(inf.hasSynced());
    assert.equal(inf.list().length, 25);
    assert.equal(s.requests.get("GET /api/v1/configmaps")! >= 4, true, "list was paginated");
    assert.equal(inf.get("default/c1")?.kind, "ConfigMap", "list items get kind filled in");
    assert.equal(inf.byNamespace("default").length, 12);
    assert.deepEqual(inf.byLabels("n=0", "default").map((o) => o.metadata.name).sort(), [
      "c15",
      "c21",
      "c3",
      "c9",
    ]);
    assert.equal(inf.byLabels("n in (1,2)").length, 16);
    assert.equal(inf.byLabels("n!=0,n!=1").length, 8);
    await s.api.patch(RESOURCES.configMaps, "c3", { metadata: { labels: { n: "9" } } }, {
      namespace: "default",
    });
    await waitFor(() => inf.byLabels("n=9").length === 1);
    assert.equal(inf.byLabels("n=0", "default").length, 3, "label index follows updates");
    // A handler registered late is caught up with adds.
    let late = 0;
    inf.on({ add: () => late++ });
    assert.equal(late, 25);
    assert.deepEqual(sh.problems, []);
  } finally {
    ac.abort();
    await s.close();
  }
});

Deno.test("informer: survives dropped watches, 410s, compaction and failures without losing or duplicating state", async () => {
  const s = await startTestApiServer({ historyLimit: 40 });
  const ac = new AbortController();
  const metrics = new Registry();
  try {
    const inf = createInformer<KubeObject>(s.api, {
      metrics,
      ref: RESOURCES.configMaps,
      namespace: "default",
      pageSize: 10,
      backoffBaseMs: 5,
      backoffMaxMs: 50,
    });
    const sh = shadow(inf);
    inf.start(ac.signal);
    await inf.synced();
    let n = 0;
    const live = new Set<string>();
    const churn = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const r = Math.random();
        if (r < 0.45 || live.size < 5) {
          const name = `o${n++}`;
          await s.api.create(RESOURCES.configMaps, cm(name));
          live.add(name);
        } else if (r < 0.8) {
          const name = [...live][Math.floor(Math.random() * live.size)];
          await s.api.patch(RESOURCES.configMaps, name, { data: { v: String(i) } }, {
            namespace: "default",
          });
        } else {
          const name = [...live][Math.floor(Math.random() * live.size)];
          await s.api.delete(RESOURCES.configMaps, name, "default");
          live.delete(name);
        }
      }
    };
    // Other namespaces must not leak into a namespaced informer.
    await s.api.create(RESOURCES.configMaps, cm("elsewhere", "kube-system"));
    await churn(30);
    s.faults.dropWatches();
    await churn(30);
    s.faults.expireNextWatches(2);
    s.faults.dropWatches();
    await churn(30);
    s.faults.failNext(3, 500, { methods: ["GET"] });
    s.faults.dropWatches();
    await churn(30);
    s.faults.compact(); // the informer's resume point is now 410 Gone
    s.faults.dropWatches();
    await churn(200); // more events than the history keeps, while reconnecting
    s.faults.failNext(2, 503, { methods: ["GET"] });
    s.faults.dropWatches();
    await churn(20);
    await converged(s, inf, "default");
    assert.deepEqual(new Map(sh.m), cacheState(inf), "handler-observed state equals the cache");
    assert.deepEqual(sh.problems, []);
    assert.equal(inf.get("kube-system/elsewhere"), undefined);
    const restarts = metrics.counter("kube_informer_watch_restarts_total", "");
    assert.ok(restarts.get({ resource: "core/configmaps", reason: "gone" }) >= 2, "410s were seen");
    assert.ok(
      restarts.get({ resource: "core/configmaps", reason: "error" }) >= 1,
      "errors were seen",
    );
  } finally {
    ac.abort();
    await s.close();
  }
});

Deno.test("informer: rebuilds a stalled watch and resumes without a relist", async () => {
  const s = await startTestApiServer({ bookmarkIntervalMs: 20 });
  const ac = new AbortController();
  const metrics = new Registry();
  try {
    const inf = createInformer<KubeObject>(s.api, {
      ref: RESOURCES.configMaps,
      stallTimeoutMs: 400,
      metrics,
    });
    const sh = shadow(inf);
    inf.start(ac.signal);
    await inf.synced();
    await waitFor(() => s.openWatches() === 1, 2000, "the watch to open");
    s.faults.stallWatches(); // the open stream goes silent: no events, no bookmarks
    await s.api.create(RESOURCES.configMaps, cm("during-stall"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(
      inf.get("default/during-stall"),
      undefined,
      "the stalled stream delivered nothing",
    );
    await waitFor(() => inf.get("default/during-stall") !== undefined, 5000, "stall recovery");
    assert.deepEqual(sh.problems, []);
    const restarts = metrics.counter("kube_informer_watch_restarts_total", "");
    assert.ok(restarts.get({ resource: "core/configmaps", reason: "stalled" }) >= 1);
    const relists = metrics.counter("kube_informer_relists_total", "");
    assert.equal(relists.get({ resource: "core/configmaps" }), 1, "resumed, not relisted");
  } finally {
    ac.abort();
    await s.close();
  }
});

Deno.test("informer: periodic relist repairs a cache that missed events", async () => {
  const s = await startTestApiServer({ bookmarkIntervalMs: 20 });
  const ac = new AbortController();
  try {
    const inf = createInformer<KubeObject>(s.api, {
      ref: RESOURCES.configMaps,
      resyncMs: 300,
      stallTimeoutMs: 0, // only the resync can notice
    });
    const sh = shadow(inf);
    const deleted: string[] = [];
    inf.on({ delete: (o) => deleted.push(o.metadata.name!) });
    await s.api.create(RESOURCES.configMaps, cm("gone"));
    inf.start(ac.signal);
    await inf.synced();
    await waitFor(() => s.openWatches() === 1, 2000, "the watch to open");
    s.faults.stallWatches();
    await s.api.create(RESOURCES.configMaps, cm("new"));
    await s.api.delete(RESOURCES.configMaps, "gone", "default");
    await converged(s, inf);
    assert.deepEqual(deleted, ["gone"], "the relist diff emitted the missed delete");
    assert.deepEqual(sh.problems, []);
  } finally {
    ac.abort();
    await s.close();
  }
});

Deno.test("informer: keeps retrying while the server is down, then syncs", async () => {
  const s = await startTestApiServer();
  const ac = new AbortController();
  try {
    await s.api.create(RESOURCES.configMaps, cm("a"));
    s.faults.failNext(5, 500);
    const inf = createInformer<KubeObject>(s.api, {
      ref: RESOURCES.configMaps,
      backoffBaseMs: 5,
      backoffMaxMs: 20,
    });
    inf.start(ac.signal);
    await inf.synced();
    assert.equal(inf.list().length, 1);
    // Errors other than 410 on the watch itself also lead to reconnects.
    s.faults.failNext(3, 500, { methods: ["GET"] });
    s.faults.dropWatches();
    await s.api.create(RESOURCES.configMaps, cm("b"));
    await waitFor(() => inf.get("default/b") !== undefined, 5000, "reconnect after errors");
  } finally {
    ac.abort();
    await s.close();
  }
});

Deno.test("informer: stops cleanly when its signal aborts", async () => {
  const s = await startTestApiServer();
  const ac = new AbortController();
  try {
    const inf = createInformer<KubeObject>(s.api, { ref: RESOURCES.pods });
    inf.start(ac.signal);
    await inf.synced();
    ac.abort();
    await inf.stopped();
    assert.throws(() => inf.start(ac.signal));
  } finally {
    await s.close();
  }
});
