import assert from "node:assert/strict";
import { type LbRecord, Store } from "./store.ts";

function lb(n: number, extra: Partial<LbRecord> = {}): LbRecord {
  return {
    id: `lb-${n.toString(16).padStart(16, "0")}`,
    name: `svc-${n}`,
    description: "",
    external_ip: `10.0.${n >> 8}.${n & 255}`,
    org_id: "org",
    project_id: "proj",
    ip_sharing_key: "",
    labels: {},
    create_time: "2026-11-21T00:00:00Z",
    revision: 1,
    listeners: [{ id: `ls-${n}`, name: "l", protocol: "TCP", port: 80, default_pool_id: `p-${n}` }],
    pools: [],
    ...extra,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fiberlb-store-" });
  try {
    await fn(`${dir}/fiberlb`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ids = (s: Store) => s.all().map((r) => r.id);

Deno.test("store: changes survive a reopen, deletes included", () =>
  withDir(async (dir) => {
    const s = await Store.open(dir);
    await s.put(lb(1));
    await s.put(lb(2));
    await s.put(lb(1, { name: "renamed", revision: 2 }));
    await s.delete(lb(2).id);
    await s.close();
    const again = await Store.open(dir);
    assert.deepEqual(ids(again), [lb(1).id]);
    assert.equal(again.get(lb(1).id)?.name, "renamed");
    assert.deepEqual(again.named("renamed").map((r) => r.id), [lb(1).id]);
    assert.equal(again.parentOf("ls-1")?.id, lb(1).id);
    await again.close();
  }));

Deno.test("store: a burst of changes shares a few syncs (group commit)", () =>
  withDir(async (dir) => {
    const s = await Store.open(dir, { compactAfter: 100_000 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => s.put(lb(i + 1))));
    assert.ok(s.syncs <= 10, `500 puts took ${s.syncs} syncs`);
    await s.close();
    const again = await Store.open(dir);
    assert.equal(again.all().length, 500);
    await again.close();
  }));

Deno.test("store: a torn last line (a crash mid-append) is dropped, and appends go on cleanly", () =>
  withDir(async (dir) => {
    const s = await Store.open(dir);
    await s.put(lb(1));
    await s.close();
    const torn = JSON.stringify({ put: lb(2) });
    await Deno.writeTextFile(`${dir}/journal.log`, torn.slice(0, 40), { append: true });
    const again = await Store.open(dir);
    assert.deepEqual(ids(again), [lb(1).id]);
    await again.put(lb(3));
    await again.close();
    const third = await Store.open(dir);
    assert.deepEqual(ids(third), [lb(1).id, lb(3).id]);
    await third.close();
  }));

Deno.test("store: a corrupt line in the middle refuses to open rather than guess", () =>
  withDir(async (dir) => {
    const s = await Store.open(dir);
    await s.put(lb(1));
    await s.close();
    await Deno.writeTextFile(`${dir}/journal.log`, "{not json\n" + JSON.stringify({ del: "x" }), {
      append: true,
    });
    await Deno.writeTextFile(`${dir}/journal.log`, "\n", { append: true });
    await assert.rejects(Store.open(dir), /journal\.log: line 2 is corrupt/);
  }));

Deno.test("store: the journal folds into a snapshot; files are 0600", () =>
  withDir(async (dir) => {
    const s = await Store.open(dir, { compactAfter: 4 });
    for (let round = 0; round < 5; round++) {
      for (let i = 1; i <= 6; i++) await s.put(lb(i, { revision: round + 1 }));
    }
    await s.delete(lb(6).id);
    await s.settle();
    const lines = (await Deno.readTextFile(`${dir}/journal.log`)).split("\n").length - 1;
    assert.ok(lines <= 5 + 4, `journal still holds ${lines} lines`);
    for (const f of ["snapshot.json", "journal.log"]) {
      assert.equal((await Deno.stat(`${dir}/${f}`)).mode! & 0o777, 0o600, f);
    }
    await s.close();
    const again = await Store.open(dir);
    assert.deepEqual(ids(again), [1, 2, 3, 4, 5].map((i) => lb(i).id));
    assert.ok(again.all().every((r) => r.revision === 5));
    await again.close();
  }));

Deno.test("store: a crash between snapshot and truncation replays the journal harmlessly", () =>
  withDir(async (dir) => {
    const s = await Store.open(dir);
    await s.put(lb(1));
    await s.put(lb(2));
    await s.delete(lb(1).id);
    await s.put(lb(2, { revision: 2 }));
    await s.close();
    // The snapshot already holds the final state; the journal was not truncated yet.
    await Deno.writeTextFile(
      `${dir}/snapshot.json`,
      JSON.stringify({ version: 1, records: [lb(2, { revision: 2 })] }),
    );
    const again = await Store.open(dir);
    assert.deepEqual(ids(again), [lb(2).id]);
    assert.equal(again.get(lb(2).id)?.revision, 2);
    await again.close();
  }));

Deno.test("store: one-file-per-load-balancer state from earlier versions is adopted", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/lbs`, { recursive: true });
    for (const n of [7, 8]) {
      await Deno.writeTextFile(`${dir}/lbs/${lb(n).id}.json`, JSON.stringify(lb(n)));
    }
    const s = await Store.open(dir);
    assert.deepEqual(ids(s), [lb(7).id, lb(8).id]);
    await assert.rejects(Deno.stat(`${dir}/lbs`), Deno.errors.NotFound);
    await s.close();
    const again = await Store.open(dir);
    assert.deepEqual(ids(again), [lb(7).id, lb(8).id]);
    await again.close();
  }));

Deno.test("store: a malformed record is refused with the file named", () =>
  withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/journal.log`, JSON.stringify({ put: { id: "nope" } }) + "\n");
    await assert.rejects(Store.open(dir), /journal\.log: line 1: not a load balancer record/);
  }));
