/**
 * The OVSDB client against a real ovsdb-server (transact results, monitors, waits, TCP and
 * unix remotes, reconnection) and against scripted fake peers (echo in both directions).
 */
import assert from "node:assert/strict";
import {
  asMap,
  asUuids,
  ConnectionClosedError,
  del,
  insert,
  map,
  monitor,
  monitorCancel,
  mutate,
  namedUuid,
  OvsdbClient,
  OvsdbError,
  OvsdbSession,
  RequestTimeoutError,
  RowCache,
  select,
  type TableUpdates,
  transactAndWait,
  TransactError,
  update,
  uuid,
  waitRows,
  where,
} from "../mod/ovsdb/mod.ts";
import { must, startOvn } from "./support/ovn.ts";

const NB = "OVN_Northbound";
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await tick(10);
  }
}

Deno.test("ovsdb: transact checks every operation and the commit", async () => {
  const ovn = await startOvn({ chassis: false });
  const c = await OvsdbClient.connect(ovn.nb);
  try {
    const [ins] = await c.transact(NB, [
      insert("Address_Set", { name: "as1", addresses: "10.0.0.1" }),
    ]);
    assert.ok(ins.uuid?.[1]);

    // Operation 1 fails (the wait sees a row); the insert before it must not be committed.
    const err = await c.transact(NB, [
      insert("Address_Set", { name: "as2" }),
      waitRows("Address_Set", [where.eq("name", "as1")], ["name"], []),
      insert("Address_Set", { name: "as3" }),
    ]).catch((e) => e);
    assert.ok(err instanceof TransactError, String(err));
    assert.equal(err.opIndex, 1);
    assert.equal(err.error, "timed out");
    assert.equal(err.retryable, true);
    const [sel] = await c.transact(NB, [select("Address_Set", [], ["name"])]);
    assert.deepEqual(sel.rows!.map((r) => r.name), ["as1"]);

    // Every operation succeeds, the commit does not: reported as the extra element.
    const commit = await c.transact(NB, [
      insert("Logical_Switch", { name: "sw", ports: uuid("00000000-0000-0000-0000-000000000001") }),
    ]).catch((e) => e);
    assert.ok(commit instanceof TransactError, String(commit));
    assert.equal(commit.opIndex, 1);
    assert.equal(commit.error, "referential integrity violation");

    // A unique index is a commit-time constraint violation.
    const dup = await c.transact(NB, [insert("Address_Set", { name: "as1" })]).catch((e) => e);
    assert.ok(dup instanceof TransactError);
    assert.equal(dup.error, "constraint violation");

    // A malformed request is a per-operation syntax error, and a bad method a JSON-RPC error.
    const syn = await c.transact(NB, [select("NoSuchTable", [])]).catch((e) => e);
    assert.ok(syn instanceof TransactError && /syntax error/.test(syn.error!));
    const rpc = await c.request("no_such_method", []).catch((e) => e);
    assert.ok(rpc instanceof OvsdbError && !(rpc instanceof TransactError), String(rpc));

    // mutate and update report counts.
    const [m] = await c.transact(NB, [
      mutate("Address_Set", [where.eq("name", "as1")], [["addresses", "insert", "10.0.0.2"]]),
    ]);
    assert.equal(m.count, 1);
    const [u] = await c.transact(NB, [update("Address_Set", [where.eq("name", "none")], {})]);
    assert.equal(u.count, 0);
  } finally {
    c.close();
    await ovn.stop();
  }
});

Deno.test("ovsdb: monitor and monitor_cond follow changes; the cache is current at reply", async () => {
  const ovn = await startOvn({ chassis: false });
  const c = await OvsdbClient.connect(ovn.nb);
  try {
    const updates: TableUpdates[] = [];
    await monitor(
      c,
      NB,
      "plain",
      { Address_Set: { columns: ["name", "addresses"] } },
      (u) => updates.push(u),
    );
    const schema = await c.getSchema(NB);
    const cache = await RowCache.start(c, NB, schema, {
      Logical_Switch: {
        columns: ["name", "ports", "external_ids"],
        where: [["name", "==", "watched"]],
      },
      Logical_Switch_Port: { columns: ["name", "external_ids"] },
    });
    const [sw] = await c.transact(NB, [
      insert("Logical_Switch", { name: "watched", external_ids: map({ a: "1", b: "2" }) }),
      insert("Logical_Switch", { name: "ignored" }),
      insert("Address_Set", { name: "s", addresses: ["set", ["10.0.0.1", "10.0.0.2"]] }),
    ]);
    const swId = sw.uuid![1];
    // Updates precede the transact reply on the same session: no waiting needed.
    assert.deepEqual([...cache.rows("Logical_Switch").keys()], [swId]);
    assert.equal(updates.length, 1);
    const asRow = Object.values(updates[0].Address_Set)[0];
    assert.deepEqual(asRow.new?.addresses, ["set", ["10.0.0.1", "10.0.0.2"]]);

    // Set and map diffs (update2) applied: add two ports, then drop one; change the map.
    await c.transact(NB, [
      insert("Logical_Switch_Port", { name: "p1" }, "p1"),
      insert("Logical_Switch_Port", { name: "p2" }, "p2"),
      mutate("Logical_Switch", [where.uuid(swId)], [["ports", "insert", ["set", [
        namedUuid("p1"),
        namedUuid("p2"),
      ]]]]),
      update("Logical_Switch", [where.uuid(swId)], {
        external_ids: map({ a: "1", b: "3", c: "4" }),
      }),
    ]);
    const row = cache.get("Logical_Switch", swId)!;
    assert.equal(asUuids(row.ports).length, 2);
    assert.deepEqual(asMap(row.external_ids), { a: "1", b: "3", c: "4" });
    const p1 = cache.find("Logical_Switch_Port", (r) => r.name === "p1")[0][0];
    await c.transact(NB, [
      mutate("Logical_Switch", [where.uuid(swId)], [["ports", "delete", uuid(p1)]]),
      update("Logical_Switch", [where.uuid(swId)], { external_ids: map({ c: "4" }) }),
    ]);
    const after = cache.get("Logical_Switch", swId)!;
    assert.equal(asUuids(after.ports).length, 1);
    assert.deepEqual(asMap(after.external_ids), { c: "4" });
    // The unreferenced port was garbage-collected (not a root table) and the cache saw it go.
    assert.equal(cache.rows("Logical_Switch_Port").size, 1);

    // A row leaving the condition is deleted from the cache.
    await c.transact(NB, [update("Logical_Switch", [where.uuid(swId)], { name: "renamed" })]);
    assert.equal(cache.rows("Logical_Switch").size, 0);
    await c.transact(NB, [del("Address_Set", [where.eq("name", "s")])]);
    assert.ok(Object.values(updates.at(-1)!.Address_Set)[0].old);
    await cache.cancel();
    await monitorCancel(c, "plain");
  } finally {
    c.close();
    await ovn.stop();
  }
});

Deno.test("ovsdb: transactAndWait returns once northd has processed the change", async () => {
  const ovn = await startOvn({ chassis: false });
  const c = await OvsdbClient.connect(ovn.nb);
  try {
    await transactAndWait(c, [insert("Logical_Switch", { name: "k8s-waited" })], "sb", 20_000);
    // northd created the datapath before sb_cfg moved.
    const sb = await OvsdbClient.connect(ovn.sb);
    const [dp] = await sb.transact("OVN_Southbound", [
      select("Datapath_Binding", [], ["external_ids"]),
    ]);
    sb.close();
    assert.ok(dp.rows!.some((r) => asMap(r.external_ids).name === "k8s-waited"));
    // hv: with no chassis registered northd reports hv_cfg right away.
    await transactAndWait(c, [], "hv", 20_000);
  } finally {
    c.close();
    await ovn.stop();
  }
});

Deno.test("ovsdb: tcp remote, server restart, session reconnect", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-ovsdb-" });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await must(["ovsdb-tool", "create", `${dir}/nb.db`, "/usr/share/ovn/ovn-nb.ovsschema"]);
  const serve = () =>
    new Deno.Command("ovsdb-server", {
      args: [`--remote=ptcp:${port}:127.0.0.1`, `--unixctl=${dir}/ctl`, `${dir}/nb.db`],
      stdout: "null",
      stderr: "null",
    }).spawn();
  let server = serve();
  const session = new OvsdbSession(`tcp:127.0.0.1:${port}`, NB, {
    cache: { Address_Set: { columns: ["name"] } },
    minBackoffMs: 50,
  });
  try {
    const first = await session.getRetrying();
    await first.client.transact(NB, [insert("Address_Set", { name: "before" })]);
    const pending = first.client.request("echo", ["x"]).catch((e) => e);
    server.kill("SIGTERM");
    await server.status;
    assert.ok((await first.client.closed) instanceof ConnectionClosedError);
    await pending; // answered or rejected; either way settled
    assert.ok(first.client.isClosed);
    await assert.rejects(first.client.transact(NB, []), ConnectionClosedError);
    server = serve();
    const second = await session.getRetrying();
    assert.notEqual(second.client, first.client);
    assert.equal(session.connects, 2);
    assert.deepEqual([...second.cache!.rows("Address_Set").values()].map((r) => r.name), [
      "before",
    ]);
  } finally {
    session.close();
    try {
      server.kill("SIGTERM");
    } catch { /* gone */ }
    await server.status;
    await Deno.remove(dir, { recursive: true });
  }
});

/** A scripted peer on a unix socket: `script` gets each parsed message and the connection. */
async function fakePeer(script: (msg: Record<string, unknown>, conn: Deno.Conn) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kh-ovsdb-fake-" });
  const path = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const dec = new TextDecoder();
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) return;
          for (const line of dec.decode(buf.subarray(0, n)).split(/(?<=\})(?=\{)/)) {
            await script(JSON.parse(line), conn);
          }
        }
      })();
    }
  })().catch(() => {});
  return {
    remote: `unix:${path}`,
    conns,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await served;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const send = (conn: Deno.Conn, msg: unknown) =>
  conn.write(new TextEncoder().encode(JSON.stringify(msg)));

Deno.test("ovsdb: answers the server's echo and detects a silent peer", async () => {
  const replies: unknown[] = [];
  const peer = await fakePeer(async (msg, conn) => {
    if (msg.id === "echo") replies.push(msg);
    if (msg.method === "list_dbs") {
      await send(conn, { method: "echo", params: ["ping", 1], id: "echo" });
      // Two replies in one write: the splitter separates them.
      await send(conn, { error: { error: "nope", details: "scripted" }, result: null, id: msg.id });
    }
    // Everything else (including our echo probes) goes unanswered.
  });
  const c = await OvsdbClient.connect(peer.remote, { probeIntervalMs: 100 });
  try {
    const err = await c.listDbs().catch((e) => e);
    assert.ok(err instanceof OvsdbError && err.error === "nope" && err.details === "scripted");
    await until("echo reply", () => replies.length === 1);
    assert.deepEqual(replies[0], { result: ["ping", 1], error: null, id: "echo" });
    const t0 = Date.now();
    const reason = await c.closed;
    assert.ok(reason instanceof ConnectionClosedError && /echo probe/.test(reason.message));
    assert.ok(Date.now() - t0 < 2000);
  } finally {
    c.close();
    await peer.close();
  }
});

Deno.test("ovsdb: request deadline and remote syntax", async () => {
  const peer = await fakePeer(() => Promise.resolve());
  const c = await OvsdbClient.connect(peer.remote, { probeIntervalMs: 0 });
  try {
    await assert.rejects(c.request("list_dbs", [], 50), RequestTimeoutError);
  } finally {
    c.close();
    await peer.close();
  }
  await assert.rejects(OvsdbClient.connect("unix:/nonexistent/kh.sock"), ConnectionClosedError);
  await assert.rejects(OvsdbClient.connect("ssl:1.2.3.4:6641"), /not supported/);
  await assert.rejects(OvsdbClient.connect("tcp:host"), /expected tcp:HOST:PORT/);
});
