/**
 * The diff-based sync against the embedded FlashDNS over real gRPC: batching, incremental
 * changes, deletion, drift repair by a full resync, and foreign records left alone.
 */
import assert from "node:assert/strict";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { createFlashdnsClient, type FlashdnsClient } from "../mod/flashdns/client.ts";
import type { Service } from "../mod/flashdns/kube_objects.ts";
import { clusterRecords, podRecords, serviceRecords } from "../mod/flashdns/object_records.ts";
import { fqdn, type RecordSet } from "../mod/flashdns/records.ts";
import { RecordSyncer } from "../mod/flashdns/reconcile.ts";
import { type EmbeddedFlashdns, startEmbeddedFlashdns } from "../mod/flashdnsd/mod.ts";
import { tempDir } from "./flashdns_support.ts";

const CTX = { domain: "cluster.local", ttl: 30, owner: "k8shost/sync" };
const ZONES = ["cluster.local", "in-addr.arpa", "ip6.arpa"];

function service(name: string, ip: string, ns = "default"): Service {
  return {
    metadata: { name, namespace: ns },
    spec: { clusterIP: ip, ports: [{ name: "http", port: 80 }] },
  };
}

function sources(svcs: Service[]): Map<string, RecordSet[]> {
  const m = new Map<string, RecordSet[]>([["cluster", clusterRecords(CTX)]]);
  for (const s of svcs) {
    m.set(`svc/${s.metadata.namespace}/${s.metadata.name}`, serviceRecords(s, [], CTX));
  }
  return m;
}

/** `fqdn TYPE value` lines of everything the backend holds, optionally only ours. */
async function backend(client: FlashdnsClient, owner?: string): Promise<string[]> {
  const sets = await client.listRecordSets({ labelSelector: owner ? { owner } : {}, pageSize: 7 });
  return sets.flatMap((s) => s.values.map((v) => `${fqdn(s.zone, s.name)} ${s.type} ${v}`)).sort();
}

async function withBackend(fn: (fd: EmbeddedFlashdns, client: FlashdnsClient) => Promise<void>) {
  const dir = await tempDir();
  const fd = await startEmbeddedFlashdns({
    stateDir: `${dir}/flashdns`,
    grpcListen: "127.0.0.1:0",
    domain: "cluster.local",
    reverseCidrs: [],
    upstreams: [],
    soaTtl: 30,
  });
  const client = createFlashdnsClient({ endpoint: fd.grpcTarget });
  try {
    await fn(fd, client);
  } finally {
    client.close();
    await fd.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function syncer(client: FlashdnsClient, batchSize = 4) {
  return new RecordSyncer({
    client,
    zones: ZONES,
    owner: CTX.owner,
    batchSize,
    log: logger("flashdns-test"),
    metrics: new Registry(),
  });
}

Deno.test("flashdns sync: full sync in batches, then incremental changes and deletion", async () => {
  await withBackend(async (_fd, client) => {
    const calls: string[] = [];
    const counting: FlashdnsClient = {
      ...client,
      listRecordSets: client.listRecordSets,
      batchUpsert: (s, r) => (calls.push(`upsert:${s.length}`), client.batchUpsert(s, r)),
      batchDelete: (k, r) => (calls.push(`delete:${k.length}`), client.batchDelete(k, r)),
    };
    const sync = syncer(counting);
    const svcs = [service("a", "10.96.0.1"), service("b", "10.96.0.2"), service("c", "10.96.0.3")];
    const r1 = await sync.resync(sources(svcs));
    // 3 services x (A, PTR, SRV) + dns-version = 10 sets in batches of at most 4.
    assert.deepEqual(r1, { upserted: 10, deleted: 0, conflicts: 0 });
    assert.deepEqual(calls, ["upsert:4", "upsert:4", "upsert:2"]);
    assert.ok((await backend(client)).includes("a.default.svc.cluster.local A 10.96.0.1"));

    // Nothing changed: a flush writes nothing.
    calls.length = 0;
    assert.deepEqual(await sync.flush(), { upserted: 0, deleted: 0, conflicts: 0 });
    assert.deepEqual(calls, []);

    // Service b changes its IP: only its sets are rewritten (A, PTR moves: one delete, two upserts).
    sync.setSource("svc/default/b", serviceRecords(service("b", "10.96.0.22"), [], CTX));
    const r2 = await sync.flush();
    assert.deepEqual(r2, { upserted: 2, deleted: 1, conflicts: 0 });
    const after = await backend(client);
    assert.ok(after.includes("b.default.svc.cluster.local A 10.96.0.22"));
    assert.ok(!after.some((l) => l.includes("10.96.0.2 ") || l.endsWith("10.96.0.2")));
    assert.ok(after.includes("22.0.96.10.in-addr.arpa PTR b.default.svc.cluster.local."));

    // Service c deleted: all three of its sets go.
    sync.setSource("svc/default/c", []);
    assert.deepEqual(await sync.flush(), { upserted: 0, deleted: 3, conflicts: 0 });
    assert.ok(!(await backend(client)).some((l) => l.includes("c.default.svc")));
  });
});

Deno.test("flashdns sync: a full resync repairs drift and leaves foreign records alone", async () => {
  await withBackend(async (_fd, client) => {
    const foreign: RecordSet[] = [
      {
        zone: "cluster.local",
        name: "legacy.default.svc",
        type: "A",
        values: ["10.0.0.9"],
        ttl: 60,
        labels: {},
      },
      {
        zone: "cluster.local",
        name: "mail",
        type: "MX",
        values: ["10 mx.example.com."],
        ttl: 60,
        labels: { owner: "someone-else" },
      },
      // Foreign set at a name we also want: it must not be overwritten.
      {
        zone: "cluster.local",
        name: "taken.default.svc",
        type: "A",
        values: ["10.0.0.10"],
        ttl: 60,
        labels: { owner: "ops" },
      },
      // Another cluster's record: its owner label differs, so it is not ours to delete.
      {
        zone: "cluster.local",
        name: "x.other.svc",
        type: "A",
        values: ["10.0.0.11"],
        ttl: 30,
        labels: { owner: "k8shost/other" },
      },
    ];
    await client.batchUpsert(foreign, {});
    const sync = syncer(client, 100);
    const svcs = [service("a", "10.96.0.1"), service("taken", "10.96.0.5")];
    const r1 = await sync.resync(sources(svcs));
    assert.equal(r1.conflicts, 1, "the foreign set at taken.default.svc is reported, not replaced");
    const ours = await backend(client, CTX.owner);

    // Drift: someone edits our A record, deletes our SRV, and plants a stale record with our label.
    await client.batchUpsert([
      {
        zone: "cluster.local",
        name: "a.default.svc",
        type: "A",
        values: ["10.9.9.9"],
        ttl: 5,
        labels: { owner: CTX.owner },
      },
      {
        zone: "cluster.local",
        name: "stale.default.svc",
        type: "A",
        values: ["10.9.9.8"],
        ttl: 30,
        labels: { owner: CTX.owner },
      },
    ], {});
    await client.batchDelete([{
      zone: "cluster.local",
      name: "_http._tcp.a.default.svc",
      type: "SRV",
    }], {});
    // The incremental path does not know about the drift...
    assert.deepEqual(await sync.flush(), { upserted: 0, deleted: 0, conflicts: 0 });
    assert.notDeepEqual(await backend(client, CTX.owner), ours);
    // ...the full resync repairs it.
    const r2 = await sync.resync(sources(svcs));
    assert.deepEqual(r2, { upserted: 2, deleted: 1, conflicts: 1 });
    assert.deepEqual(await backend(client, CTX.owner), ours);

    // Foreign records are untouched, including the one at a name we wanted.
    const all = await backend(client);
    assert.ok(all.includes("legacy.default.svc.cluster.local A 10.0.0.9"));
    assert.ok(all.includes("mail.cluster.local MX 10 mx.example.com."));
    assert.ok(all.includes("taken.default.svc.cluster.local A 10.0.0.10"));
    assert.ok(all.includes("x.other.svc.cluster.local A 10.0.0.11"));
    assert.ok(!all.includes("taken.default.svc.cluster.local A 10.96.0.5"));

    // Removing everything of ours leaves exactly the foreign records.
    await sync.resync(new Map());
    assert.deepEqual(await backend(client, CTX.owner), []);
    assert.equal((await backend(client)).length, 4);
  });
});

Deno.test("flashdns sync: shared sets merge contributions and survive one contributor leaving", async () => {
  await withBackend(async (_fd, client) => {
    const sync = syncer(client);
    const pod = (name: string) => ({
      metadata: { name, namespace: "default" },
      status: { phase: "Running", podIP: "10.244.0.7" },
    });
    sync.setSource("pod/default/p1", podRecords(pod("p1"), CTX));
    sync.setSource("pod/default/p2", podRecords(pod("p2"), CTX));
    await sync.resync(
      new Map([["pod/default/p1", podRecords(pod("p1"), CTX)], [
        "pod/default/p2",
        podRecords(pod("p2"), CTX),
      ]]),
    );
    assert.ok(
      (await backend(client)).includes("10-244-0-7.default.pod.cluster.local A 10.244.0.7"),
    );
    sync.setSource("pod/default/p1", []);
    await sync.flush();
    assert.ok(
      (await backend(client)).includes("10-244-0-7.default.pod.cluster.local A 10.244.0.7"),
    );
    sync.setSource("pod/default/p2", []);
    await sync.flush();
    assert.deepEqual(await backend(client), []);
  });
});

Deno.test("flashdns sync: a failed batch stays pending and is retried", async () => {
  await withBackend(async (_fd, client) => {
    let fail = true;
    const flaky: FlashdnsClient = {
      ...client,
      listRecordSets: client.listRecordSets,
      batchDelete: client.batchDelete,
      batchUpsert: (s, r) =>
        fail ? Promise.reject(new Error("unavailable")) : client.batchUpsert(s, r),
    };
    const sync = syncer(flaky);
    await assert.rejects(sync.resync(sources([service("a", "10.96.0.1")])), /unavailable/);
    assert.equal(sync.pending(), 4);
    fail = false;
    assert.deepEqual(await sync.flush(), { upserted: 4, deleted: 0, conflicts: 0 });
    assert.equal((await backend(client, CTX.owner)).length, 4);
  });
});

Deno.test("flashdns grpc: validation errors name the field; record-level RPCs work", async () => {
  await withBackend(async (fd, client) => {
    await assert.rejects(
      client.batchUpsert([{
        zone: "cluster.local",
        name: "x",
        type: "A",
        values: ["not-an-ip"],
        ttl: 30,
        labels: {},
      }], {}),
      /record_sets\[0\]: A value "not-an-ip" is not an IPv4 address/,
    );
    await assert.rejects(
      client.batchUpsert([{
        zone: "cluster.local",
        name: "bad name",
        type: "A",
        values: ["10.0.0.1"],
        ttl: 30,
        labels: {},
      }], {}),
      /INVALID_ARGUMENT|invalid label/,
    );
    const { call, serviceClient, makeClient } = await import("../mod/grpc/mod.ts");
    const raw = makeClient(serviceClient("flashdns.proto", "plasmacloud.flashdns.v1.DNSService"), {
      endpoint: fd.grpcTarget,
    });
    try {
      const rec = await call<{ id: string; value: string }>(raw, "CreateRecord", {
        zone: "cluster.local",
        name: "web.default.svc",
        type: "A",
        value: "10.96.0.100",
        ttl: 30,
      });
      assert.equal(rec.value, "10.96.0.100");
      await assert.rejects(
        call(raw, "CreateRecord", {
          zone: "cluster.local",
          name: "web.default.svc",
          type: "A",
          value: "10.96.0.100",
          ttl: 30,
        }),
        /ALREADY_EXISTS|already exists/,
      );
      await call(raw, "CreateRecord", {
        zone: "cluster.local",
        name: "web.default.svc",
        type: "A",
        value: "10.96.0.101",
        ttl: 30,
      });
      const upd = await call<{ id: string; value: string }>(raw, "UpdateRecord", {
        id: rec.id,
        value: "10.96.0.102",
      });
      assert.equal(upd.value, "10.96.0.102");
      const list = await call<{ records: Array<{ value: string }> }>(raw, "ListRecords", {
        zone: "cluster.local",
      });
      assert.deepEqual(list.records.map((r) => r.value).sort(), ["10.96.0.101", "10.96.0.102"]);
      await call(raw, "DeleteRecord", { id: upd.id });
      await call(raw, "DeleteRecord", { id: upd.id }); // idempotent
      await assert.rejects(
        call(raw, "UpdateRecord", { id: upd.id, value: "10.96.0.1" }),
        /NOT_FOUND|not found/,
      );
      const left = await call<{ records: Array<{ value: string }> }>(raw, "ListRecords", {
        zone: "cluster.local",
      });
      assert.deepEqual(left.records.map((r) => r.value), ["10.96.0.101"]);
    } finally {
      raw.close();
    }
  });
});
